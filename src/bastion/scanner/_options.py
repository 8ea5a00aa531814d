"""What a scan is told: the target, credentials, paths, limits and per-check inputs."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ScanOptions"]


@dataclass(frozen=True)
class ScanOptions:
    """Every path is an option, so the scanner works against backends other than Bastion;
    the defaults are Bastion's public paths. Limits have safe defaults: at most
    ``max_requests`` requests, at most ``rate`` per second. ``verify_tls`` is ``True`` or the
    path of an extra CA bundle to trust (``--ca-file``); ``http_port`` is where plain
    ``http://`` is probed for the redirect to https."""

    target: str
    allow_hosts: tuple[str, ...] = ()
    username: str | None = None
    password: str | None = None
    token: str | None = None
    register: bool = True
    login_path: str = "/v1/auth/login"
    register_path: str = "/v1/auth/register"
    refresh_path: str = "/v1/auth/refresh"
    logout_path: str = "/v1/auth/logout"
    jwks_path: str = "/.well-known/jwks.json"
    protected_path: str = "/v1/verify"
    max_requests: int = 2000
    rate: float = 50.0
    timeout: float = 10.0
    login_attempts: int = 10
    rate_limit_requests: int = 60
    rate_limit_paths: tuple[str, ...] = ()
    timing_samples: int = 12
    xss_params: tuple[str, ...] = ()
    sqli_params: tuple[str, ...] = ()
    redirect_params: tuple[str, ...] = ()
    replay_file: str | None = None
    jwt_wordlist: str | None = None
    signing_key: str | None = None
    only: tuple[str, ...] = ()
    skip: tuple[str, ...] = ()
    verify_tls: bool | str = True
    http_port: int = 80

    def selects(self, check_id: str) -> bool:
        """True when ``check_id`` is chosen by ``only`` (prefixes) and not by ``skip``."""

        def hit(prefixes: tuple[str, ...]) -> bool:
            return any(check_id == p or check_id.startswith(p.rstrip(".") + ".") for p in prefixes)

        return (not self.only or hit(self.only)) and not hit(self.skip)
