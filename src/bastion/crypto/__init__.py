"""Cryptographic recipes: the master key, purpose-bound subkeys and sealed values."""

from bastion.crypto._master import DecryptionFailed as DecryptionFailed
from bastion.crypto._master import MasterKey as MasterKey
from bastion.crypto._master import load_or_create_master_key as load_or_create_master_key

__all__ = ["DecryptionFailed", "MasterKey", "load_or_create_master_key"]
