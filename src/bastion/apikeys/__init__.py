"""API keys for services and scripts: ``bst_<env>_<id>_<secret><check>`` keys with a CRC-32
checksum, stored as peppered HMAC-SHA256, scoped, expiring, IP-restricted, rotatable with an
overlap window and revocable on every replica within a second. See ``docs/apikeys.md``."""

from bastion.apikeys._format import ParsedKey as ParsedKey
from bastion.apikeys._format import generate_key as generate_key
from bastion.apikeys._format import parse_key as parse_key
from bastion.apikeys._grants import check_issue as check_issue
from bastion.apikeys._grants import check_manage as check_manage
from bastion.apikeys._grants import visible_to as visible_to
from bastion.apikeys._service import ApiKeys as ApiKeys
from bastion.apikeys._types import ApiKeyInfo as ApiKeyInfo
from bastion.apikeys._types import ApiKeyPrincipal as ApiKeyPrincipal

__all__ = [
    "ApiKeyInfo",
    "ApiKeyPrincipal",
    "ApiKeys",
    "ParsedKey",
    "check_issue",
    "check_manage",
    "generate_key",
    "parse_key",
    "visible_to",
]
