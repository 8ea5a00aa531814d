"""The vault: personal data (phone numbers, ID numbers, addresses) stored encrypted per
subject, found by blind index without decrypting other rows, and erased by crypto-shredding.
See ``docs/vault.md``."""

from bastion.vault._access import SCOPES as SCOPES
from bastion.vault._index import BlindIndex as BlindIndex
from bastion.vault._names import FIELD_PATTERN as FIELD_PATTERN
from bastion.vault._names import SUBJECT_PATTERN as SUBJECT_PATTERN
from bastion.vault._normalise import normalise_email as normalise_email
from bastion.vault._normalise import normalise_phone as normalise_phone
from bastion.vault._normalise import normalise_text as normalise_text
from bastion.vault._reencrypt import VaultSource as VaultSource
from bastion.vault._service import Vault as Vault
from bastion.vault._store import SqlVaultStore as SqlVaultStore
from bastion.vault._store import VaultStore as VaultStore
from bastion.vault._types import Encryptor as Encryptor
from bastion.vault._types import StoredEntry as StoredEntry
from bastion.vault._types import VaultEntry as VaultEntry
from bastion.vault._types import context_for as context_for

__all__ = [
    "FIELD_PATTERN",
    "SCOPES",
    "SUBJECT_PATTERN",
    "BlindIndex",
    "Encryptor",
    "SqlVaultStore",
    "StoredEntry",
    "Vault",
    "VaultEntry",
    "VaultSource",
    "VaultStore",
    "context_for",
    "normalise_email",
    "normalise_phone",
    "normalise_text",
]
