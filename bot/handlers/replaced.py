"""When another account replaces a home's ballot, the earlier voter is told privately."""

from __future__ import annotations

from typing import Protocol

from bot.chat.port import Delivery, Sender
from bot.i18n import Translator, _, member_locale
from bot.services.voting import Cast
from bot.storage import members as member_store
from bot.storage.outbox import Priority, enqueue_text
from bot.storage.uow import Database


class _App(Protocol):
    db: Database
    i18n: Translator

    @property
    def outbox(self) -> Delivery | None: ...


async def tell_replaced(app: _App, cast: Cast) -> int:
    """Queue a private notice to each earlier voter whose ballot another account replaced; how many."""
    if not cast.replaced:
        return 0
    added = 0
    async with app.db.uow() as uow:
        for member_id, elector, revision in cast.replaced:
            member = await member_store.by_id(uow, member_id)
            if member is None or not member.reachable:
                continue
            locale = member_locale(member, Sender(member.platform, member.external_id), app.i18n.default_locale)
            text = _("Your ballot on vote #{vote} was replaced by another account linked to the same home. "
                     "If you did not agree to this, tell the council.", vote=cast.vote.id)
            added += await enqueue_text(
                uow, platform=member.platform, chat_id=member.external_id, text=app.i18n.render(text, locale),
                dedupe_key=f"ballot-replaced:{cast.vote.id}:{elector}:{revision}", chat_kind="private",
                member_id=member.id, priority=Priority.NOTICE)
    if added and app.outbox is not None:
        app.outbox.wake()
    return added
