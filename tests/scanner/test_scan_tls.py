"""The transport checks against the vulnerable app served over real TLS: a throwaway test CA
(trusted through ``verify_tls``/``--ca-file``), a plain-http listener beside it, and each
planted flaw (no or short HSTS, no redirect to https, TLS 1.0/1.1 accepted, a certificate
expiring soon, expired or untrusted) found by exactly its check (ASVS V12.1, V12.2, V12.3)."""

from __future__ import annotations

import json
import socket
import ssl
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from bastion.cli import app as cli
from bastion.scanner import CHECKS, Report, ScanOptions, Severity, run_scan, trust_context
from tests.scanner.serving import redirect_to, serve
from tests.scanner.test_vulnerable_app import HTTPS_ONLY, options
from tests.scanner.tls_certs import issue, make_ca, write_ca
from tests.scanner.vulnerable_app import VulnerableApp

pytestmark = pytest.mark.timeout(120)

TRANSPORT = {c for c in CHECKS if c.startswith("transport.")}
CERTS = {"good": 400, "soon": 7, "within-30": 20, "expired": -2}


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("pki")
    ca = make_ca("Bastion scan test CA")
    files: dict[str, Any] = {n: issue(ca, folder, n, days_left=d) for n, d in CERTS.items()}
    files["untrusted"] = issue(make_ca("A CA nobody trusts"), folder, "untrusted", days_left=400)
    files["ca_file"] = write_ca(ca, folder / "ca.pem")
    return files


def _modern(context: ssl.SSLContext) -> None:
    context.minimum_version = ssl.TLSVersion.TLSv1_2


def _obsolete(context: ssl.SSLContext) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the planted flaw
        context.minimum_version = ssl.TLSVersion.TLSv1
    context.set_ciphers("ALL:@SECLEVEL=0")


@contextmanager
def site(
    pki: dict[str, Any],
    *,
    cert: str = "good",
    flaws: frozenset[str] = frozenset(),
    redirect: bool = True,
    obsolete: bool = False,
    hsts: str | None = None,
) -> Iterator[tuple[str, int, VulnerableApp]]:
    """The app over TLS, and plain http on another port redirecting to it (or, without
    ``redirect``, serving the app itself). Yields the https URL, the http port, the app."""
    app = VulnerableApp(flaws)
    app.hsts = hsts or app.hsts
    https = serve(app.app, tls=_obsolete if obsolete else _modern, **pki[cert])
    with https as url, serve(redirect_to(url) if redirect else app.app) as plain:
        yield url, int(plain.rsplit(":", 1)[1]), app


async def scan_transport(url: str, http_port: int, ca_file: str) -> Report:
    opts = ScanOptions(target=url, verify_tls=ca_file, http_port=http_port, only=("transport",),
                       rate=400.0)  # fmt: skip
    return await run_scan(opts)


def statuses(report: Report) -> dict[str, str]:
    return {r.check_id: r.status for r in report.results}


async def test_a_sound_tls_server_passes_every_check(pki: dict[str, Any], tmp_path: Path) -> None:
    """All flaws off over TLS: trusted CA, long-lived certificate, HSTS, redirect, TLS 1.2+.
    The whole scan runs; the transport checks pass rather than being skipped."""
    with site(pki) as (url, http_port, app):
        opts = options(url, app, tmp_path, verify_tls=pki["ca_file"], http_port=http_port)
        report = await run_scan(opts)
    assert [f.as_dict() for f in report.findings] == []
    status = statuses(report)
    assert {c: status[c] for c in HTTPS_ONLY} == dict.fromkeys(HTTPS_ONLY, "passed")
    assert {c for c, s in status.items() if s != "passed"} == {"token.weak-secret"}


CASES = {
    "hsts-missing": ({"flaws": frozenset({"transport.hsts"})}, "transport.hsts",
                     Severity.MEDIUM, "no Strict-Transport-Security"),
    "hsts-short": ({"hsts": "max-age=86400"}, "transport.hsts", Severity.LOW, "under a year"),
    "no-redirect": ({"redirect": False}, "transport.https-redirect", Severity.MEDIUM, "-> 200"),
    "expires-in-7-days": ({"cert": "soon"}, "transport.certificate", Severity.MEDIUM,
                          "expires in"),
    "expires-in-20-days": ({"cert": "within-30"}, "transport.certificate", Severity.LOW,
                           "expires in"),
    "expired": ({"cert": "expired"}, "transport.certificate", Severity.HIGH, "expired"),
    "untrusted": ({"cert": "untrusted"}, "transport.certificate", Severity.HIGH, "not trusted"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(CASES))
async def test_each_planted_tls_flaw_is_found_by_its_check(case: str, pki: dict[str, Any]) -> None:
    flaw, check_id, severity, evidence = CASES[case]
    with site(pki, **flaw) as (url, http_port, _):
        report = await scan_transport(url, http_port, pki["ca_file"])
    assert {f.check_id for f in report.findings} == {check_id}, report.findings
    [finding] = report.findings
    assert finding.severity == severity
    assert evidence in finding.evidence
    assert statuses(report)[check_id] == "failed"
    # A refused certificate also fails setup (registration over https) and the HSTS probe;
    # the scan still completes and reports the certificate.
    refused = flaw.get("cert") in ("expired", "untrusted")
    hsts = "error" if refused else ("failed" if check_id == "transport.hsts" else "passed")
    assert statuses(report)["transport.hsts"] == hsts


def _handshake(port: int, version: ssl.TLSVersion) -> str | None:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        context.minimum_version = context.maximum_version = version
    context.set_ciphers("ALL:@SECLEVEL=0")
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        return tls.version()


async def test_obsolete_tls_versions_are_found(pki: dict[str, Any]) -> None:
    with site(pki, obsolete=True) as (url, http_port, _):
        port = int(url.rsplit(":", 1)[1])
        try:
            offered = {_handshake(port, v) for v in (ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1)}
        except (OSError, ValueError, ssl.SSLError) as exc:
            pytest.skip(
                "this machine's OpenSSL refuses TLS 1.0/1.1 even at security level 0 "
                f"({type(exc).__name__}), so no obsolete server can be planted; the check's "
                "no-finding case against TLS 1.2+ is tested by "
                "test_a_sound_tls_server_passes_every_check"
            )
        report = await scan_transport(url, http_port, pki["ca_file"])
    assert offered == {"TLSv1", "TLSv1.1"}
    assert {f.check_id for f in report.findings} == {"transport.tls-version"}
    evidence = sorted(f.evidence for f in report.findings)
    assert evidence == ["handshake with TLSv1 succeeded", "handshake with TLSv1.1 succeeded"]


async def test_plain_http_is_found_for_a_public_host() -> None:
    """The one transport check that fires over http: any non-loopback http:// target."""
    transport = httpx.MockTransport(lambda request: httpx.Response(404))
    opts = ScanOptions(
        target="http://shop.example", allow_hosts=("shop.example",), only=("transport",)
    )
    report = await run_scan(opts, transport=transport)
    assert {f.check_id for f in report.findings} == {"transport.plain-http"}
    skipped = {c for c, s in statuses(report).items() if s == "skipped"}
    assert skipped == TRANSPORT - {"transport.plain-http"}


def test_every_transport_check_has_a_planted_flaw() -> None:
    planted = {check_id for _, check_id, _, _ in CASES.values()}
    assert planted | {"transport.tls-version", "transport.plain-http"} == TRANSPORT


def test_the_ca_file_is_trusted_in_addition_to_the_system_store(pki: dict[str, Any]) -> None:
    system = ssl.create_default_context().cert_store_stats()["x509_ca"]
    assert trust_context(pki["ca_file"]).cert_store_stats()["x509_ca"] == system + 1
    with pytest.raises(ssl.SSLError):
        trust_context(pki["good"]["ssl_keyfile"])  # a key is not a CA bundle


def test_cli_ca_file_and_http_port(pki: dict[str, Any], tmp_path: Path) -> None:
    report = tmp_path / "scan.json"
    with site(pki) as (url, http_port, _):
        args = ["scan", url, "--only", "transport", "--no-register", "--fail-on", "low"]
        trusted = CliRunner().invoke(
            cli, [*args, "--ca-file", pki["ca_file"], "--http-port", str(http_port),
                  "--format", "json", "-o", str(report)],
        )  # fmt: skip
        untrusted = CliRunner().invoke(cli, [*args, "--format", "json"])
        bad = CliRunner().invoke(cli, [*args, "--ca-file", pki["good"]["ssl_keyfile"]])
    assert trusted.exit_code == 0, trusted.stderr
    document = json.loads(report.read_text())
    assert {c["id"]: c["status"] for c in document["checks"]} == dict.fromkeys(TRANSPORT, "passed")
    assert untrusted.exit_code == 1
    assert "certificate not trusted" in untrusted.stdout
    assert bad.exit_code == 2 and "--ca-file" in bad.stderr
