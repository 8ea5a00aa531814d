"""Monitoring: the tamper-evident audit log."""

from bastion.monitor._audit import AuditEvent as AuditEvent
from bastion.monitor._audit import AuditLog as AuditLog
from bastion.monitor._audit import ChainReport as ChainReport
from bastion.monitor._audit import Outcome as Outcome
from bastion.monitor._audit import mask_ip as mask_ip

__all__ = ["AuditEvent", "AuditLog", "ChainReport", "Outcome", "mask_ip"]
