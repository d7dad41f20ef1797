"""Per-community rules."""

from __future__ import annotations

from typing import Any

from bot.deliberation.errors import InvalidInput
from bot.deliberation.thresholds import parse_policy
from bot.services.census import get_community
from bot.storage.uow import Database

ELEVATOR_RULES = ("vote_and_objections", "vote_only")


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
        if applied:
            await uow.ledger.append("community_configured", f"community:{community.id}", applied)
        support = (str(community.support_fixed) if community.support_fixed is not None else
                   f"max({community.support_minimum}, {community.support_share_num}/{community.support_share_den} "
                   f"of households in scope)")
        return {"community": community.name, "support": support, "collecting_days": community.collecting_days,
                "objection_days": community.objection_days, "elevator_rule": community.elevator_rule,
                "non_voters_follow_majority": community.non_voters_follow_majority}
