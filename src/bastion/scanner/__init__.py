"""``bastion scan``: an active security self-test for a running backend.

It finds the mistakes Bastion exists to prevent (headers, TLS, exposed files, error leaks,
token forgery, session handling, login abuse) and reports them as a terminal table, JSON
(``report.schema.json``), SARIF 2.1.0 or a self-contained HTML page. Safety: loopback targets
or hosts named with ``allow_hosts`` only; a request cap and a request rate, enforced on one
client; no destructive probes (at most a few test accounts, never a deletion).
"""

from bastion.scanner import (  # noqa: F401  (importing registers the checks)
    _checks_abuse,
    _checks_auth,
    _checks_cookies,
    _checks_enum,
    _checks_errors,
    _checks_exposure,
    _checks_headers,
    _checks_sessions,
    _checks_tokens,
    _checks_transport,
)
from bastion.scanner._client import BudgetExhausted as BudgetExhausted
from bastion.scanner._client import trust_context as trust_context
from bastion.scanner._model import CheckResult as CheckResult
from bastion.scanner._model import Finding as Finding
from bastion.scanner._model import Report as Report
from bastion.scanner._model import Severity as Severity
from bastion.scanner._options import ScanOptions as ScanOptions
from bastion.scanner._registry import CHECKS as CHECKS
from bastion.scanner._registry import Check as Check
from bastion.scanner._report_html import to_html as to_html
from bastion.scanner._report_json import report_dict as report_dict
from bastion.scanner._report_json import report_schema as report_schema
from bastion.scanner._report_json import to_json as to_json
from bastion.scanner._report_sarif import to_sarif as to_sarif
from bastion.scanner._runner import Progress as Progress
from bastion.scanner._runner import plan as plan
from bastion.scanner._runner import run_scan as run_scan
from bastion.scanner._safety import check_target as check_target

__all__ = [
    "CHECKS",
    "BudgetExhausted",
    "Check",
    "CheckResult",
    "Finding",
    "Progress",
    "Report",
    "ScanOptions",
    "Severity",
    "check_target",
    "plan",
    "report_dict",
    "report_schema",
    "run_scan",
    "to_html",
    "to_json",
    "to_sarif",
    "trust_context",
]
