"""Settings: one frozen model, validated at start.

Precedence, highest first: explicit overrides (CLI flags) > ``BASTION_*`` environment
variables (nested with ``__``, e.g. ``BASTION_TOKENS__ACCESS_TTL_SECONDS``) > the TOML file
named by ``--config`` / ``BASTION_CONFIG`` > defaults.  Unknown keys are rejected and an
invalid value stops start-up with a :class:`~bastion.errors.ConfigError` that names the key.

The defaults are the figures adopted in the project's ASVS notes (section 3).
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from bastion.errors import ConfigError
from bastion.inspect import DEFAULT_ATTRIBUTES, DEFAULT_TAGS, DEFAULT_URL_SCHEMES
from bastion.monitor import MIN_METRICS_TOKEN_CHARS
from bastion.ratelimit import Match, Policy

__all__ = ["Settings", "load_settings"]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServerSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=1, le=65535)
    trusted_proxies: tuple[str, ...] = ()
    """Peers (IP or CIDR) whose ``X-Forwarded-For`` is believed. Empty: use the socket peer."""
    auth_body_limit: int = Field(64 * 1024, ge=1024, le=16 * 1024 * 1024)
    """Largest request body accepted on auth routes, in bytes; larger gets 413 unparsed."""
    access_log: bool = False
    max_headers: int = Field(100, ge=10, le=1000)
    """Request header fields allowed; more get 431."""
    max_header_bytes: int = Field(16384, ge=1024, le=1_048_576)
    """Total size of the request header fields; more get 431."""
    max_query_bytes: int = Field(4096, ge=256, le=65536)
    """Length of the query string; longer gets 414."""
    max_query_params: int = Field(64, ge=1, le=10_000)
    """Query parameters allowed; more get 400."""
    max_json_depth: int = Field(32, ge=2, le=512)
    """Nesting depth of a JSON body; deeper gets 400 before it is parsed."""
    cors_origins: tuple[str, ...] = ()
    """Browser origins (``https://app.example.com``) allowed to call the API cross-origin.
    Empty: no CORS headers at all (mini programs do not need them). Never reflected."""
    cors_allow_credentials: bool = False
    """Let allowed origins send cookies/credentials; refused together with ``"*"``."""
    max_body_bytes: int = Field(1024 * 1024, ge=1024, le=1 << 30)
    """Largest request body ``guard.protect(app)`` lets through on a route without its own
    ``max_body_bytes``; larger gets 413 before the app sees it."""
    max_json_array: int = Field(1000, ge=1, le=1_000_000)
    """Items allowed in any one JSON array of a body under ``guard.protect``; more get 400."""
    body_timeout_seconds: float = Field(10.0, gt=0, le=300)
    """Time a client has to send the whole body under ``guard.protect``; slower gets 408."""
    max_concurrency: int = Field(512, ge=0, le=100_000)
    """Requests handled at once; beyond it a request is shed at once with 503 + Retry-After
    (0: no limit). Health and metrics endpoints are never shed."""
    metrics_token: SecretStr | None = None
    """When set, ``GET /metrics`` answers only ``Authorization: Bearer <token>`` (24+
    characters; set it as ``BASTION_SERVER__METRICS_TOKEN``, not in the file). Unset, the
    metrics are public to whoever reaches the port: keep that port internal."""
    openapi: bool = True
    """Publish the API description at ``/openapi.json``. Turn it off when the API is not
    public; ``bastion scan`` reports a published description."""


_HEADER_NAME = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}")
_ORIGIN = re.compile(r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?$")


def _check_server(server: ServerSettings) -> ServerSettings:
    token = server.metrics_token
    if token is not None and len(token.get_secret_value()) < MIN_METRICS_TOKEN_CHARS:
        raise ValueError(
            f"server.metrics_token must have at least {MIN_METRICS_TOKEN_CHARS} characters"
        )
    for origin in server.cors_origins:
        if origin == "*":
            if server.cors_allow_credentials:
                raise ValueError("cors_origins '*' cannot be combined with cors_allow_credentials")
        elif not _ORIGIN.match(origin):
            raise ValueError(
                f"cors_origins entries must be exact origins (https://app.example.com): {origin!r}"
            )
    return server


class DatabaseSettings(_Section):
    url: SecretStr | None = None
    """SQLAlchemy URL. Empty: SQLite file ``bastion.db`` in the data directory."""
    pool_size: int = Field(10, ge=1, le=200)


class RedisSettings(_Section):
    url: SecretStr | None = None
    """``redis://`` URL. Empty: hot state (throttles, replay guards, revocations) in memory."""
    prefix: str = Field("bastion:", min_length=1, max_length=64, pattern=r"^[A-Za-z0-9:_.-]+$")
    """Key and channel prefix, so several deployments can share one Redis."""


class PasswordSettings(_Section):
    argon2_memory_kib: int = Field(19456, ge=19456)
    argon2_time_cost: int = Field(2, ge=1)
    argon2_parallelism: int = Field(1, ge=1, le=16)
    min_length: int = Field(8, ge=8, le=64)
    """Minimum length when the account has a second factor."""
    min_length_single_factor: int = Field(15, ge=8, le=64)
    """Minimum length when the password is the only factor (NIST SP 800-63B-4 final: 15)."""
    max_length: int = Field(128, ge=64, le=1024)
    context_words: tuple[str, ...] = ("bastion",)
    """Words a password may not be built from besides the user's own identifiers (ASVS V6.2.11):
    put your product and company names here."""
    hash_workers: int | None = Field(None, ge=1, le=64)
    """Threads hashing in parallel; each holds ``argon2_memory_kib`` while it runs. Unset: one
    fewer than the CPUs (at least 1), which leaves a core to the event loop so a login flood
    cannot starve ``/v1/verify``; on 2 cores that gives the same login rate as 2 workers."""
    hash_queue: int = Field(64, ge=1, le=10_000)
    """Hash jobs allowed to wait; beyond it the request is shed with 503 + Retry-After."""

    @property
    def workers(self) -> int:
        """``hash_workers``, or CPU count - 1 (at least 1) when unset."""
        return self.hash_workers or max(1, (os.cpu_count() or 2) - 1)

    @model_validator(mode="after")
    def _asvs_floor(self) -> PasswordSettings:
        t, m = self.argon2_time_cost, self.argon2_memory_kib
        if (t == 1 and m < 47104) or (t == 2 and m < 19456) or (t >= 3 and m < 12288):
            raise ValueError("argon2 parameters below the ASVS appendix C floor")
        return self


class TokenSettings(_Section):
    issuer: str = "bastion"
    audience: str = "bastion"
    algorithm: Literal["EdDSA", "ES256"] = "EdDSA"
    access_ttl_seconds: int = Field(900, ge=30, le=86400)
    leeway_seconds: int = Field(30, ge=0, le=60)
    refresh_reuse_grace_seconds: float = Field(2.0, ge=0, le=2.0)
    verify_cache_size: int = Field(50_000, ge=0, le=10_000_000)
    """Verified access tokens kept in memory (about 1 KiB each); 0 disables the cache."""
    key_refresh_seconds: int = Field(30, ge=1, le=3600)


class SessionSettings(_Section):
    idle_timeout_seconds: int = Field(1800, ge=60)
    absolute_lifetime_seconds: int = Field(43200, ge=300)
    max_per_user: int = Field(10, ge=1, le=1000)

    @model_validator(mode="after")
    def _order(self) -> SessionSettings:
        if self.idle_timeout_seconds > self.absolute_lifetime_seconds:
            raise ValueError("idle_timeout_seconds must not exceed absolute_lifetime_seconds")
        return self


class LoginSettings(_Section):
    delay_after_failures: int = Field(5, ge=1, le=100)
    """Consecutive failures on one account before the progressive delay starts."""
    delay_base_seconds: int = Field(1, ge=1)
    delay_max_seconds: int = Field(3600, ge=1)
    hard_failure_limit: int = Field(100, ge=1, le=100)
    """After this many consecutive failures a password alone no longer suffices (NIST <= 100)."""
    ip_failures_per_window: int = Field(50, ge=1)
    subnet_failures_per_window: int = Field(200, ge=1)
    failure_window_seconds: int = Field(600, ge=10)
    mfa_challenge_ttl_seconds: int = Field(300, ge=30, le=900)


_LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")


def _https_url(value: str) -> str:
    """Platform endpoints carry secrets: https only, except on loopback (tests, local proxies)."""
    from urllib.parse import urlsplit

    parts = urlsplit(value)
    if parts.scheme == "https" and parts.hostname:
        return value
    if parts.scheme == "http" and parts.hostname in _LOOPBACK:
        return value
    raise ValueError("must be an https:// URL (http:// only for a loopback host)")


PlatformURL = Annotated[str, AfterValidator(_https_url)]


class _PlatformBase(_Section):
    enabled: bool = False
    app_id: str = Field("", max_length=128)
    timeout_seconds: float = Field(5.0, gt=0, le=30)
    """Per outbound call to the platform; slow platforms get a 503, never a hung login."""


class WeChatSettings(_PlatformBase):
    app_secret: SecretStr | None = None
    base_url: PlatformURL = "https://api.weixin.qq.com"
    watermark_max_age_seconds: int = Field(600, ge=30, le=86400)
    """How old an ``encryptedData`` watermark may be before it is refused as stale."""


class TelegramSettings(_PlatformBase):
    bot_token: SecretStr | None = None
    """First-party validation (HMAC with the bot token). ``app_id`` is the numeric bot id,
    used for third-party (Ed25519) validation when no token is configured."""
    max_age_seconds: int = Field(3600, ge=10, le=86400)
    test_environment: bool = False
    """Verify third-party signatures with Telegram's test-environment public key."""


class AlipaySettings(_PlatformBase):
    app_private_key: SecretStr | None = None
    """PEM (PKCS#8 or PKCS#1) RSA key that signs requests (RSA2)."""
    alipay_public_key: str = ""
    """PEM of Alipay's public key, which verifies responses and notifications."""
    aes_key: SecretStr | None = None
    """Base64 AES content-encryption key (getPhoneNumber)."""
    gateway_url: PlatformURL = "https://openapi.alipay.com/gateway.do"


class DouyinSettings(_PlatformBase):
    app_secret: SecretStr | None = None
    base_url: PlatformURL = "https://developer.toutiao.com"


class BaiduSettings(_PlatformBase):
    app_key: str = Field("", max_length=128)
    app_secret: SecretStr | None = None
    base_url: PlatformURL = "https://spapi.baidu.com"


class PlatformsSettings(_Section):
    wechat: WeChatSettings = WeChatSettings()
    telegram: TelegramSettings = TelegramSettings()
    alipay: AlipaySettings = AlipaySettings()
    douyin: DouyinSettings = DouyinSettings()
    baidu: BaiduSettings = BaiduSettings()


DEFAULT_POLICIES: tuple[Policy, ...] = (
    Policy(
        name="auth",
        match=Match(path="/v1/auth/*", methods=("POST",)),
        key="ip",
        limits=("10/s burst 30", "600/h"),
    ),
)


class RateLimitSettings(_Section):
    """Request rate limits per policy (``docs/ratelimit.md``). The default guards the auth
    routes per client IP, in front of the per-account login throttle."""

    enabled: bool = True
    policies: tuple[Policy, ...] = DEFAULT_POLICIES
    max_keys: int = Field(100_000, ge=1000, le=10_000_000)
    """Keys kept by the in-process store (and the fallback when Redis is down)."""


class AuditSettings(_Section):
    ip: Literal["full", "masked", "none"] = "masked"
    """How the client IP is kept in audit events: whole, masked to /24 (IPv4) or /48, or not."""


class RouteSettings(_Section):
    """Policy for the requests one route glob matches (``docs/routes.md``): who may call it,
    what is inspected and enforced. The first entry that matches a request applies; a request
    no entry matches gets the defaults of this model with ``auth = "none"``.

    Applied by ``/v1/verify`` to the original request a gateway forwards and by the ASGI
    middleware stack (``guard.protect(app)``) to the requests of a Python app."""

    path: str = Field(min_length=1, max_length=256)
    """Route glob: ``*`` spans path segments (``/api/orders/*``)."""
    methods: tuple[str, ...] = ()
    """Methods this entry covers; empty: any method."""
    auth: Literal["required", "optional", "none"] = "required"
    """``required``: a valid access token or API key, else 401; ``optional``: checked when sent."""
    scopes: tuple[str, ...] = ()
    """Scopes the caller must hold (all of them), else 403 ``missing-scope``."""
    inspect: Literal["off", "monitor", "block"] = "block"
    """Input inspection: ``block`` answers 403 to an attack, ``monitor`` only audits it."""
    rich_text: tuple[str, ...] = ()
    """Body fields (JSON keys or form names) holding HTML rich text: sanitised, not blocked."""
    max_body_bytes: int | None = Field(None, ge=0, le=1 << 30)
    """Largest request body for this route; larger gets 413. Empty: the server default."""
    require_signature: bool = False
    """Refuse requests without a valid HTTP message signature (``docs/signing.md``)."""
    sealed: bool = False
    """Request and response bodies are sealed payloads (``docs/sealed.md``)."""
    sign_responses: bool = False
    """Add an Ed25519 signature to responses (``docs/sealed.md``)."""
    headers: dict[str, str] = Field(default_factory=dict, max_length=32)
    """Response headers to set or override for this route (e.g. a route's own CSP)."""

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        return Match(path=value).path  # the rate-limit policies' glob rules

    @field_validator("methods")
    @classmethod
    def _methods(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return Match(methods=value).methods

    @field_validator("headers")
    @classmethod
    def _headers(cls, value: dict[str, str]) -> dict[str, str]:
        for name, text in value.items():
            if not _HEADER_NAME.fullmatch(name) or any(c in text for c in "\r\n\0"):
                raise ValueError(f"route header {name!r} is not a valid header name and value")
        return value


class SanitizeSettings(_Section):
    """The HTML allow-list for fields declared ``rich_text`` (``docs/routes.md``)."""

    tags: tuple[str, ...] = tuple(sorted(DEFAULT_TAGS))
    attributes: dict[str, tuple[str, ...]] = {
        k: tuple(sorted(v)) for k, v in DEFAULT_ATTRIBUTES.items()
    }
    """Attributes kept per tag; the key ``"*"`` lists those every allowed tag keeps."""
    url_schemes: tuple[str, ...] = tuple(sorted(DEFAULT_URL_SCHEMES))


class SealingSettings(_Section):
    """Sealed payloads and signed responses (``docs/sealed.md``)."""

    max_body_bytes: int = Field(1_048_576, ge=1024, le=64 * 1_048_576)
    """Largest sealed request body accepted (413 beyond), and largest response body that is
    sealed or signed (buffered whole; a larger one becomes a 500)."""
    max_skew_seconds: int = Field(300, ge=30, le=3600)
    """How far a sealed request's ``created`` time may be from the server's clock; opened
    envelopes are remembered twice as long to refuse replays."""
    key_generation: int = Field(1, ge=1, le=1_000_000)
    """Generation of the sealing and response-signing keys (derived from the master key);
    raise it by one to roll both keys."""
    keep_previous: bool = True
    """Keep accepting and publishing the previous generation's keys while clients roll over."""
    sign_service_responses: bool = False
    """Sign every response of ``bastion serve`` itself with the Ed25519 response key."""


class SigningSettings(_Section):
    """HTTP message signatures (``docs/signing.md``) on routes with ``require_signature``."""

    skew_seconds: int = Field(300, ge=5, le=3600)
    """Largest difference between a signature's ``created`` time and the server clock; the
    nonce of an accepted request is remembered for as long as it could still be accepted."""
    max_body_bytes: int = Field(1024 * 1024, ge=0, le=1 << 30)
    """Largest body the middleware buffers to check ``Content-Digest``; larger gets 413."""
    max_header_bytes: int = Field(2048, ge=256, le=16384)
    """Largest ``Signature-Input``, ``Signature`` or ``Content-Digest`` value; larger is refused."""
    key_cache_seconds: float = Field(30.0, ge=0, le=600)
    """How long a session's expiry is cached for the key check (revocation is seen at once)."""


class CryptoSettings(_Section):
    """Data protection (``docs/encryption.md``): where key-encryption keys (KEKs) come from,
    where wrapped data keys (DEKs) are kept, and how data keys are cached and rolled over."""

    kek_provider: Literal["file", "env", "pkcs11"] = "file"
    """``file``: ``keks/kek-N.key`` in the data dir (generated, mode 0600); ``env``:
    ``BASTION_KEK_N`` variables; ``pkcs11``: AES keys inside a PKCS#11 token."""
    pkcs11_module: str = Field("", max_length=1024)
    """Path of the PKCS#11 library (e.g. SoftHSM2's ``libsofthsm2.so``)."""
    pkcs11_token: str = Field("bastion", min_length=1, max_length=32)
    """Label of the token holding the KEKs."""
    pkcs11_pin: SecretStr | None = None
    """User PIN of the token; set it as ``BASTION_CRYPTO__PKCS11_PIN``, not in the file."""
    pkcs11_key_label: str = Field("bastion-kek", min_length=1, max_length=64)
    """KEK version N is the token's AES key labelled ``<pkcs11_key_label>-N``."""
    keystore_url: SecretStr | None = None
    """Database of the key store. Empty: ``keystore.db`` in the data dir (SQLite main
    database) or the schema ``keystore_schema`` of the main PostgreSQL database."""
    keystore_schema: str = Field("bastion_keys", pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    """PostgreSQL schema of the key store (ignored for SQLite)."""
    dek_cache_size: int = Field(10_000, ge=1, le=10_000_000)
    """Unwrapped data keys kept in memory (about 1 KiB each)."""
    dek_cache_ttl_seconds: int = Field(300, ge=1, le=86_400)
    """How long an unwrapped data key stays in memory; also the longest a shred takes to
    reach another replica when the pub/sub notice is lost."""
    messages_per_dek: int = Field(2**32, ge=16, le=2**32)
    """Encryptions allowed per data key (random 96-bit nonces); a new key is rolled before it."""
    reserve_block: int = Field(65_536, ge=1, le=2**32)
    """Encryptions a process reserves per key store write (unused ones are skipped on exit)."""
    reencrypt_sources: tuple[str, ...] = ()
    """``module:callable`` names returning extra re-encryption sources for the CLI
    (``callable(guard) -> iterable of sources``), e.g. your app's encrypted columns."""


class VaultSettings(_Section):
    """The encrypted personal-data vault (``docs/vault.md``)."""

    max_value_bytes: int = Field(4096, ge=64, le=65536)
    """Largest value stored, in UTF-8 bytes; larger gets 422 ``invalid-vault-value``."""
    phone_region: str = Field("CN", pattern=r"^([A-Z]{2})?$")
    """Region (ISO 3166 alpha-2) assumed for phone numbers written without ``+``. Empty:
    only international numbers (``+8613800138000``) are accepted."""
    lookup_fields: dict[str, Literal["phone", "email", "text", "exact"]] = Field(
        {"phone": "phone", "email": "email"}, max_length=64
    )
    """Fields that get a blind index for equality lookup, each with its normaliser. Every
    other field is stored without one and cannot be looked up."""
    max_lookup_results: int = Field(100, ge=1, le=10_000)
    """Most subjects one lookup returns."""
    self_read: bool = True
    """A signed-in user (access token, not an API key) may read their own subject's fields
    without the ``vault:read`` scope."""

    @field_validator("lookup_fields")
    @classmethod
    def _field_names(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if not re.fullmatch(r"[a-z][a-z0-9_]{0,63}", name):
                raise ValueError(f"lookup field {name!r} must match ^[a-z][a-z0-9_]{{0,63}}$")
        return value


class Settings(BaseSettings):
    """Every setting Bastion reads. Build with :func:`load_settings`."""

    model_config = SettingsConfigDict(
        env_prefix="BASTION_",
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )

    data_dir: Path = Path("./bastion-data")
    master_key: SecretStr | None = None
    """Base64url 32-byte master key. Empty: read or create ``master.key`` in the data dir."""
    server: Annotated[ServerSettings, AfterValidator(_check_server)] = ServerSettings()
    database: DatabaseSettings = DatabaseSettings()
    redis: RedisSettings = RedisSettings()
    passwords: PasswordSettings = PasswordSettings()
    tokens: TokenSettings = TokenSettings()
    sessions: SessionSettings = SessionSettings()
    login: LoginSettings = LoginSettings()
    audit: AuditSettings = AuditSettings()
    platforms: PlatformsSettings = PlatformsSettings()
    ratelimit: RateLimitSettings = RateLimitSettings()
    routes: tuple[RouteSettings, ...] = ()
    """Per-route policy, first match wins (``[[routes]]`` tables in TOML)."""
    sanitize: SanitizeSettings = SanitizeSettings()
    sealing: SealingSettings = SealingSettings()
    signing: SigningSettings = SigningSettings()
    crypto: CryptoSettings = CryptoSettings()
    vault: VaultSettings = VaultSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings)

    @property
    def database_url(self) -> str:
        if self.database.url is not None and self.database.url.get_secret_value():
            return self.database.url.get_secret_value()
        return f"sqlite+aiosqlite:///{self.data_dir / 'bastion.db'}"

    @property
    def redis_url(self) -> str | None:
        if self.redis.url is None or not self.redis.url.get_secret_value():
            return None
        return self.redis.url.get_secret_value()


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(
            f"config file {path} not found; check --config / BASTION_CONFIG"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None


def _env_key(loc: tuple[int | str, ...]) -> str:
    return "BASTION_" + "__".join(str(p).upper() for p in loc)


def load_settings(config: Path | str | None = None, **overrides: Any) -> Settings:
    """Build the settings from defaults, the TOML file, the environment and ``overrides``.

    Raises :class:`ConfigError` naming the first bad key (as TOML path and env variable).
    """
    import os

    if config is None and os.environ.get("BASTION_CONFIG"):
        config = os.environ["BASTION_CONFIG"]
    file_values = _read_toml(Path(config)) if config else {}
    clean = {k: v for k, v in overrides.items() if v is not None}
    try:
        settings = _FileSettings(file_values)(**clean)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(err["loc"])
        key = ".".join(str(p) for p in loc) or "(root)"
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown setting"
        raise ConfigError(f"invalid setting '{key}' ({_env_key(loc)}): {msg}") from None
    return settings


def _FileSettings(file_values: dict[str, Any]) -> type[Settings]:
    """A Settings subclass whose lowest-precedence source is the parsed TOML file."""

    class _TomlSource(PydanticBaseSettingsSource):
        def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
            return file_values.get(field_name), field_name, False

        def __call__(self) -> dict[str, Any]:
            return dict(file_values)

    class FileSettings(Settings):
        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            return (init_settings, env_settings, _TomlSource(settings_cls))

    return FileSettings
