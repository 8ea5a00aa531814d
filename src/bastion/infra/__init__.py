"""Infrastructure shared by every capability: clock, ids, database, hot state, logging."""

from bastion.infra._clock import Clock as Clock
from bastion.infra._clock import ManualClock as ManualClock
from bastion.infra._clock import SystemClock as SystemClock
from bastion.infra._db import Database as Database
from bastion.infra._hot import HotState as HotState
from bastion.infra._hot import MemoryHotState as MemoryHotState
from bastion.infra._hot import RedisHotState as RedisHotState
from bastion.infra._ids import new_id as new_id
from bastion.infra._ids import random_token as random_token
from bastion.infra._logging import configure_logging as configure_logging
from bastion.infra._migrate import current_revision as current_revision
from bastion.infra._migrate import upgrade as migrate

__all__ = [
    "Clock",
    "Database",
    "HotState",
    "ManualClock",
    "MemoryHotState",
    "RedisHotState",
    "SystemClock",
    "configure_logging",
    "current_revision",
    "migrate",
    "new_id",
    "random_token",
]
