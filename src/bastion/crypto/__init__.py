"""Cryptographic recipes: the master key, purpose-bound subkeys, sealed values, the
token-signing key helpers (generation, sealing, JWK export), data protection (envelope
encryption with per-subject data keys, KEK rotation, crypto-shredding), and sealed payloads
with signed responses (``Sealing`` on the server, ``SealedClient`` and ``verify_response`` for
clients), and a reusable HMAC-SHA256 key. Primitives stay private."""

from bastion.crypto._hmac import HmacKey as HmacKey
from bastion.crypto._master import DecryptionFailed as DecryptionFailed
from bastion.crypto._master import MasterKey as MasterKey
from bastion.crypto._master import load_or_create_master_key as load_or_create_master_key
from bastion.crypto._response_sig import verify_response as verify_response
from bastion.crypto._sealed import OpenedRequest as OpenedRequest
from bastion.crypto._sealed_client import SealedClient as SealedClient
from bastion.crypto._sealed_client import SealedRequest as SealedRequest
from bastion.crypto._sealed_service import Sealing as Sealing
from bastion.crypto._service import DataProtection as DataProtection
from bastion.crypto._signing_keys import SIGNING_ALGORITHMS as SIGNING_ALGORITHMS
from bastion.crypto._signing_keys import SigningPrivateKey as SigningPrivateKey
from bastion.crypto._signing_keys import SigningPublicKey as SigningPublicKey
from bastion.crypto._signing_keys import algorithm_of as algorithm_of
from bastion.crypto._signing_keys import generate_signing_key as generate_signing_key
from bastion.crypto._signing_keys import open_signing_key as open_signing_key
from bastion.crypto._signing_keys import public_jwk as public_jwk
from bastion.crypto._signing_keys import public_key_from_jwk as public_key_from_jwk
from bastion.crypto._signing_keys import seal_signing_key as seal_signing_key
from bastion.crypto._signing_keys import stored_public_key as stored_public_key
from bastion.crypto._wiring import build_data_protection as build_data_protection

__all__ = [
    "SIGNING_ALGORITHMS",
    "DataProtection",
    "DecryptionFailed",
    "HmacKey",
    "MasterKey",
    "OpenedRequest",
    "SealedClient",
    "SealedRequest",
    "Sealing",
    "SigningPrivateKey",
    "SigningPublicKey",
    "algorithm_of",
    "build_data_protection",
    "generate_signing_key",
    "load_or_create_master_key",
    "open_signing_key",
    "public_jwk",
    "public_key_from_jwk",
    "seal_signing_key",
    "stored_public_key",
    "verify_response",
]
