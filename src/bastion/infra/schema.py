"""Every table, in one ``MetaData`` that the Alembic migrations mirror.

Times are float seconds since the epoch (UTC). Ids are random 128-bit hex strings.
Secrets are never stored in the clear: passwords as PHC hashes, refresh tokens and recovery
codes as hashes, API keys as peppered HMACs, TOTP secrets, e-mail addresses and private keys
sealed with the master key.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Double,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

__all__ = [
    "api_keys",
    "audit_events",
    "audit_head",
    "metadata",
    "platform_identities",
    "recovery_codes",
    "refresh_tokens",
    "revoked_sessions",
    "sessions",
    "signing_keys",
    "trusted_devices",
    "users",
    "vault_entries",
]

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_name)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

users = Table(
    "users",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("username", String(256), nullable=False, unique=True),
    Column("email_sealed", LargeBinary, nullable=True),
    Column("password_hash", Text, nullable=False),
    Column("is_admin", Boolean, nullable=False, default=False),
    Column("locked", Boolean, nullable=False, default=False),
    Column("failed_logins", Integer, nullable=False, default=0),
    Column("mfa_enabled", Boolean, nullable=False, default=False),
    Column("totp_secret_sealed", LargeBinary, nullable=True),
    Column("totp_pending_sealed", LargeBinary, nullable=True),
    Column("totp_last_step", Integer, nullable=False, default=0),
    Column("created_at", Double, nullable=False),
    Column("updated_at", Double, nullable=False),
)

recovery_codes = Table(
    "recovery_codes",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("user_id", String(32), ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("code_hash", String(64), nullable=False),
    Column("used_at", Double, nullable=True),
    Index("ix_recovery_codes_user_id", "user_id"),
)

trusted_devices = Table(
    "trusted_devices",
    metadata,
    Column("user_id", String(32), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("device_hash", String(64), primary_key=True),
    Column("created_at", Double, nullable=False),
    Column("last_used_at", Double, nullable=False),
)

sessions = Table(
    "sessions",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("user_id", String(32), ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", Double, nullable=False),
    Column("last_seen_at", Double, nullable=False),
    Column("expires_at", Double, nullable=False),
    Column("revoked_at", Double, nullable=True),
    Column("revoke_reason", String(64), nullable=True),
    Column("user_agent", String(512), nullable=True),
    Column("platform", String(64), nullable=True),
    Column("device_id", String(128), nullable=True),
    Column("first_ip", String(64), nullable=True),
    Column("amr", String(64), nullable=False, default="pwd"),
    Column("refresh_salt", LargeBinary, nullable=False),
    Column("refresh_generation", Integer, nullable=False, default=0),
    Column("refresh_rotated_at", Double, nullable=True),
    Index("ix_sessions_user_id", "user_id"),
    Index("ix_sessions_revoked_at", "revoked_at"),
)

# Kept apart from ``sessions`` so a revocation outlives the deletion of its user (tokens of a
# deleted account stay refused until they expire, across restarts).
revoked_sessions = Table(
    "revoked_sessions",
    metadata,
    Column("session_id", String(32), primary_key=True),
    Column("revoked_at", Double, nullable=False),
    Index("ix_revoked_sessions_revoked_at", "revoked_at"),
)

refresh_tokens = Table(
    "refresh_tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("session_id", String(32), ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False),
    Column("generation", Integer, nullable=False),
    Column("issued_at", Double, nullable=False),
    Index("ix_refresh_tokens_session_id", "session_id"),
)

# API keys: ``key_hash`` is HMAC-SHA256(pepper, "bst_<env>_<id>_<secret>") in hex, the secret
# itself is never stored. ``scopes`` is space separated; ``ip_allow`` space separated CIDRs.
# A rotated key keeps working until ``overlap_until``; its successor names it in ``rotated_from``.
api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("env", String(16), nullable=False),
    Column("key_hash", String(64), nullable=False),
    Column("owner_user_id", String(32), ForeignKey("users.id", ondelete="CASCADE"), nullable=True),
    Column("owner_service", String(128), nullable=True),
    Column("name", String(128), nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("scopes", Text, nullable=False),
    Column("rate", String(64), nullable=True),
    Column("ip_allow", Text, nullable=True),
    Column("created_at", Double, nullable=False),
    Column("expires_at", Double, nullable=True),
    Column("revoked_at", Double, nullable=True),
    Column("rotated_from", String(32), nullable=True),
    Column("overlap_until", Double, nullable=True),
    Column("last_used_at", Double, nullable=True),
    Index("ix_api_keys_owner_user_id", "owner_user_id"),
    Index("ix_api_keys_owner_service", "owner_service"),
    Index("ix_api_keys_revoked_at", "revoked_at"),
)

# A login identity at a mini program platform (WeChat openid, Telegram user id, ...). One
# identity belongs to exactly one user; a user may hold several. Secrets the platform hands
# over (WeChat/Douyin/Baidu session_key, phone numbers, profile data) are sealed.
platform_identities = Table(
    "platform_identities",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("user_id", String(32), ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("platform", String(16), nullable=False),
    Column("app_id", String(128), nullable=False),
    Column("subject", String(128), nullable=False),
    Column("unionid", String(128), nullable=True),
    Column("session_key_sealed", LargeBinary, nullable=True),
    Column("phone_sealed", LargeBinary, nullable=True),
    Column("profile_sealed", LargeBinary, nullable=True),
    Column("created_at", Double, nullable=False),
    Column("last_login_at", Double, nullable=False),
    UniqueConstraint("platform", "app_id", "subject", name="uq_platform_identities_subject"),
    Index("ix_platform_identities_user_id", "user_id"),
    Index("ix_platform_identities_unionid", "unionid"),
)

signing_keys = Table(
    "signing_keys",
    metadata,
    Column("kid", String(64), primary_key=True),
    Column("alg", String(16), nullable=False),
    Column("private_sealed", LargeBinary, nullable=False),
    Column("public_jwk", Text, nullable=False),
    Column("created_at", Double, nullable=False),
    Column("retired_at", Double, nullable=True),
)

audit_events = Table(
    "audit_events",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("id", String(32), nullable=False, unique=True),
    Column("ts", Double, nullable=False),
    Column("action", String(64), nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("actor", String(64), nullable=True),
    Column("subject", String(64), nullable=True),
    Column("reason", String(128), nullable=True),
    Column("request_id", String(64), nullable=True),
    Column("ip", String(64), nullable=True),
    Column("details", Text, nullable=True),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Index("ix_audit_events_ts", "ts"),
)

# One row (id=1): the chain head. Updating it first serialises appends across processes and
# replicas (a row lock in PostgreSQL, the write lock in SQLite) and pins the tail against
# truncation.
audit_head = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("seq", Integer, nullable=False),
    Column("hash", String(64), nullable=False),
)

# The vault (``bastion.vault``): one row per subject and field. ``ciphertext`` is the crypto
# envelope of the value, bound to ``vault:<field>:<subject>`` so a row moved elsewhere does not
# decrypt; ``blind_index`` (hex, 128 bits) is an HMAC of the normalised value under a key of
# its own, set only for fields configured for lookup; ``version`` counts writes.
vault_entries = Table(
    "vault_entries",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("subject", String(128), nullable=False),
    Column("field", String(64), nullable=False),
    Column("ciphertext", LargeBinary, nullable=False),
    Column("blind_index", String(64), nullable=True),
    Column("version", Integer, nullable=False),
    Column("created_at", Double, nullable=False),
    Column("updated_at", Double, nullable=False),
    UniqueConstraint("subject", "field", name="uq_vault_entries_subject_field"),
    Index("ix_vault_entries_field_blind_index", "field", "blind_index"),
)
