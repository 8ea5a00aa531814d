"""Monitoring: the tamper-evident audit log, and who may read the metrics."""

from bastion.monitor._audit import AuditEvent as AuditEvent
from bastion.monitor._audit import AuditLog as AuditLog
from bastion.monitor._audit import ChainReport as ChainReport
from bastion.monitor._audit import Outcome as Outcome
from bastion.monitor._audit import mask_ip as mask_ip
from bastion.monitor._metrics import MIN_METRICS_TOKEN_CHARS as MIN_METRICS_TOKEN_CHARS
from bastion.monitor._metrics import MetricsAccess as MetricsAccess

__all__ = [
    "MIN_METRICS_TOKEN_CHARS",
    "AuditEvent",
    "AuditLog",
    "ChainReport",
    "MetricsAccess",
    "Outcome",
    "mask_ip",
]
