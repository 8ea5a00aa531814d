"""Data protection, the rest of the public names: the encrypted SQLAlchemy column, the
re-encryption registry and the reports of the key operations. (``DataProtection`` itself is
``guard.crypto``, importable from :mod:`bastion.crypto`.)"""

from bastion.crypto._column import ColumnSource as ColumnSource
from bastion.crypto._column import Encrypted as Encrypted
from bastion.crypto._column import EncryptedColumn as EncryptedColumn
from bastion.crypto._column import Plain as Plain
from bastion.crypto._operations import Recrypt as Recrypt
from bastion.crypto._operations import ReencryptReport as ReencryptReport
from bastion.crypto._operations import ReencryptSource as ReencryptSource
from bastion.crypto._operations import RotationReport as RotationReport
from bastion.crypto._operations import Status as Status
from bastion.crypto._wiring import load_reencrypt_sources as load_reencrypt_sources

__all__ = [
    "ColumnSource",
    "Encrypted",
    "EncryptedColumn",
    "Plain",
    "Recrypt",
    "ReencryptReport",
    "ReencryptSource",
    "RotationReport",
    "Status",
    "load_reencrypt_sources",
]
