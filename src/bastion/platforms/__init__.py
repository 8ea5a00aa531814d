"""Mini program platform logins: WeChat, Telegram, Alipay, Douyin and Baidu.

Each login ends in an ordinary Bastion session. The offline checks (signatures, decryption,
watermarks) are plain functions, usable on their own and by ``bastion platforms``.
"""

from bastion.platforms._alipay import decrypt_content as decrypt_alipay_content
from bastion.platforms._alipay import verify_notification as verify_alipay_notification
from bastion.platforms._baidu_data import decrypt_baidu_data as decrypt_baidu_data
from bastion.platforms._errors import PlatformBadResponse as PlatformBadResponse
from bastion.platforms._errors import PlatformCredentialInvalid as PlatformCredentialInvalid
from bastion.platforms._errors import PlatformDataInvalid as PlatformDataInvalid
from bastion.platforms._errors import PlatformError as PlatformError
from bastion.platforms._errors import PlatformNotConfigured as PlatformNotConfigured
from bastion.platforms._errors import PlatformRateLimited as PlatformRateLimited
from bastion.platforms._errors import PlatformUnavailable as PlatformUnavailable
from bastion.platforms._errors import PlatformUserBlocked as PlatformUserBlocked
from bastion.platforms._linking import PlatformAccounts as PlatformAccounts
from bastion.platforms._service import PlatformLogins as PlatformLogins
from bastion.platforms._telegram import TelegramInitData as TelegramInitData
from bastion.platforms._telegram import validate_init_data as validate_init_data
from bastion.platforms._telegram import (
    validate_init_data_third_party as validate_init_data_third_party,
)
from bastion.platforms._wechat_data import decrypt_douyin_data as decrypt_douyin_data
from bastion.platforms._wechat_data import decrypt_wechat_data as decrypt_wechat_data
from bastion.platforms._wechat_data import verify_raw_data_signature as verify_raw_data_signature

__all__ = [
    "PlatformAccounts",
    "PlatformBadResponse",
    "PlatformCredentialInvalid",
    "PlatformDataInvalid",
    "PlatformError",
    "PlatformLogins",
    "PlatformNotConfigured",
    "PlatformRateLimited",
    "PlatformUnavailable",
    "PlatformUserBlocked",
    "TelegramInitData",
    "decrypt_alipay_content",
    "decrypt_baidu_data",
    "decrypt_douyin_data",
    "decrypt_wechat_data",
    "validate_init_data",
    "validate_init_data_third_party",
    "verify_alipay_notification",
    "verify_raw_data_signature",
]
