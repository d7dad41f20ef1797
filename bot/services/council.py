"""The residents' council: who may moderate a community's agenda."""

from __future__ import annotations

from bot.services.census import get_community
from bot.storage.models import CouncilRole, utcnow
from bot.storage.uow import Database


async def add_council_member(db: Database, community_name: str, platform: str, external_id: str) -> bool:
    """Give the member a moderator role; False if they already had one."""
    async with db.uow() as uow:
        community = await get_community(uow, community_name)
        member = await uow.member(platform, external_id)
        added = await uow.insert_ignore(
            CouncilRole,
            {"community_id": community.id, "member_id": member.id, "role": "moderator", "created_at": utcnow()},
            ("community_id", "member_id"),
        )
        if added:
            await uow.ledger.append(
                "council_member_added", f"community:{community.id}", {"member": member.id, "role": "moderator"}
            )
        return added
