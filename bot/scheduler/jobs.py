"""Every scheduled feature, wired in one place: each job module's ``wire`` hands over its planner.

A new job module is added to JOB_MODULES; nothing registers itself on import.
"""

from __future__ import annotations

from types import ModuleType

from bot.scheduler import anchor, deadlines, digests, meetings, nudges, requests
from bot.scheduler.plan import Planner

JOB_MODULES: tuple[ModuleType, ...] = (deadlines, nudges, digests, meetings, anchor, requests)


def planners() -> list[Planner]:
    found: list[Planner] = []
    for module in JOB_MODULES:
        module.wire(found)
    return found
