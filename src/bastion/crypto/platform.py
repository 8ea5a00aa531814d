"""Primitives that the mini program platforms' own protocols require, fenced here.

They are not Bastion recipes: AES-CBC without a MAC (WeChat/Douyin/Baidu ``encryptedData``,
Alipay content encryption), RSA PKCS#1 v1.5 with SHA-256 (Alipay's RSA2) and Ed25519
verification (Telegram's third-party signature). Use them only to speak those protocols;
Bastion's own data is sealed with AES-256-GCM (:class:`bastion.crypto.MasterKey`).
"""

from bastion.crypto._alipay_aes import ALIPAY_AES_KEY_SIZES as ALIPAY_AES_KEY_SIZES
from bastion.crypto._alipay_aes import alipay_aes_decrypt as alipay_aes_decrypt
from bastion.crypto._alipay_aes import alipay_aes_encrypt as alipay_aes_encrypt
from bastion.crypto._cbc import aes_cbc_decrypt as aes_cbc_decrypt
from bastion.crypto._cbc import aes_cbc_encrypt as aes_cbc_encrypt
from bastion.crypto._cbc import pkcs7_pad as pkcs7_pad
from bastion.crypto._cbc import pkcs7_unpad as pkcs7_unpad
from bastion.crypto._ed25519 import TELEGRAM_PRODUCTION_PUBLIC_KEY as TELEGRAM_PRODUCTION_PUBLIC_KEY
from bastion.crypto._ed25519 import TELEGRAM_TEST_PUBLIC_KEY as TELEGRAM_TEST_PUBLIC_KEY
from bastion.crypto._ed25519 import ed25519_verify as ed25519_verify
from bastion.crypto._rsa import RsaPrivateKey as RsaPrivateKey
from bastion.crypto._rsa import RsaPublicKey as RsaPublicKey
from bastion.crypto._rsa import load_rsa_private_key as load_rsa_private_key
from bastion.crypto._rsa import load_rsa_public_key as load_rsa_public_key
from bastion.crypto._rsa import rsa2_sign as rsa2_sign
from bastion.crypto._rsa import rsa2_verify as rsa2_verify

__all__ = [
    "ALIPAY_AES_KEY_SIZES",
    "TELEGRAM_PRODUCTION_PUBLIC_KEY",
    "TELEGRAM_TEST_PUBLIC_KEY",
    "RsaPrivateKey",
    "RsaPublicKey",
    "aes_cbc_decrypt",
    "aes_cbc_encrypt",
    "alipay_aes_decrypt",
    "alipay_aes_encrypt",
    "ed25519_verify",
    "load_rsa_private_key",
    "load_rsa_public_key",
    "pkcs7_pad",
    "pkcs7_unpad",
    "rsa2_sign",
    "rsa2_verify",
]
