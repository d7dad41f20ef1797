"""Residents' requests in storage (a repository)."""

from __future__ import annotations

from bot.storage.models import ResidentRequest
from bot.storage.uow import UnitOfWork


async def by_id(uow: UnitOfWork, request_id: int) -> ResidentRequest | None:
    return await uow.session.get(ResidentRequest, request_id)
