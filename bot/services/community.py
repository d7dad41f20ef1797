"""Per-community rules."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import time
from typing import Any

from bot.deliberation.errors import InvalidInput
from bot.deliberation.thresholds import parse_policy
from bot.services.census import get_community
from bot.storage.uow import Database

ELEVATOR_RULES = ("vote_and_objections", "vote_only")
_QUIET_RE = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$")


@dataclass(frozen=True, slots=True)
class QuietHours:
    """Community-local hours without private nudges; may wrap midnight (22:00-08:00). Equal ends: none."""

    start: time
    end: time

    @classmethod
    def parse(cls, text: str) -> QuietHours:
        match = _QUIET_RE.match(text.strip())
        if match is None:
            raise InvalidInput("quiet hours look like 22:00-08:00", field="quiet_hours", value=text)
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        return cls(time(h1, m1), time(h2, m2))

    def contains(self, moment: time) -> bool:
        moment = moment.replace(second=0, microsecond=0, tzinfo=None)
        if self.start == self.end:
            return False
        if self.start < self.end:
            return self.start <= moment < self.end
        return moment >= self.start or moment < self.end

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


async def configure(db: Database, community_name: str, **changes: Any) -> dict[str, Any]:
    """Apply the given (non-None) changes, log them, and return the rules now in force."""
    async with db.uow() as uow:
        community = await get_community(uow, community_name)
        applied: dict[str, Any] = {}
        if changes.get("support") is not None:
            policy = parse_policy(changes["support"])
            community.support_fixed = policy.fixed
            community.support_share_num = policy.share.numerator
            community.support_share_den = policy.share.denominator
            community.support_minimum = policy.minimum
            applied["support"] = changes["support"]
        for key in ("collecting_days", "objection_days", "non_voters_follow_majority"):
            if changes.get(key) is not None:
                setattr(community, key, changes[key])
                applied[key] = changes[key]
        rule = changes.get("elevator_rule")
        if rule is not None:
            if rule not in ELEVATOR_RULES:
                raise InvalidInput("elevator rule is vote_and_objections or vote_only", field="elevator_rule")
            community.elevator_rule = applied["elevator_rule"] = rule
        if changes.get("quiet_hours") is not None:
            community.quiet_hours = applied["quiet_hours"] = str(QuietHours.parse(changes["quiet_hours"]))
        if applied:
            await uow.ledger.append("community_configured", f"community:{community.id}", applied)
        support = (str(community.support_fixed) if community.support_fixed is not None else
                   f"max({community.support_minimum}, {community.support_share_num}/{community.support_share_den} "
                   f"of households in scope)")
        return {"community": community.name, "support": support, "collecting_days": community.collecting_days,
                "objection_days": community.objection_days, "elevator_rule": community.elevator_rule,
                "non_voters_follow_majority": community.non_voters_follow_majority,
                "quiet_hours": community.quiet_hours}
