"""Every chat feature, wired in one place: each module's ``wire`` hands over its commands, buttons and
live messages. A new feature module is added to FEATURES; nothing registers itself on import.

The scheduler's planners are wired the same way, one layer up, in bot.scheduler.jobs.
"""

from __future__ import annotations

from types import ModuleType

from bot.handlers import (
    agenda,
    board,
    digests,
    followers,
    implementation,
    meetings,
    nudges,
    records,
    registration,
    requests,
    rooms,
    votes,
    web,
)
from bot.handlers.wiring import Features

FEATURES: tuple[ModuleType, ...] = (
    registration, agenda, votes, board, rooms, meetings, digests, nudges, implementation, requests, followers,
    web, records,
)


def wire() -> Features:
    features = Features()
    for module in FEATURES:
        module.wire(features)
    return features
