"""What a handler knows about the event in front of it, and how it answers."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC
from typing import Protocol

from bot.chat.port import (
    Action,
    ButtonPress,
    Chat,
    Delivery,
    IncomingMessage,
    Messenger,
    MessengerError,
    OutMessage,
    Sender,
    SentMessage,
)
from bot.deliberation.errors import NotEligible
from bot.handlers.commands import Registry
from bot.handlers.live import Host
from bot.i18n import Text, _
from bot.i18n import member_locale as member_locale  # re-exported: it lives with i18n
from bot.services.directory import Actor, is_council_member, may_see_community
from bot.storage import members as member_store
from bot.storage.models import ChatRoom, utcnow
from bot.storage.rooms import room_of


class _Board(Protocol):
    def touch(self, vote_id: int, messenger: Messenger) -> None: ...

    async def refresh(self, vote_id: int, messenger: Messenger) -> None: ...


class _Live(Protocol):
    def touch(self, kind: str, subject_id: int, messenger: Messenger) -> None: ...


class _Features(Protocol):
    commands: Registry


class App(Host, Protocol):
    """What a handler reaches through ``ctx.app`` (bot.handlers.app.Yishi is the one implementation)."""

    # Read-only members: the app's own attributes are of narrower types (a protocol attribute is invariant).
    replan: Callable[[], None]

    @property
    def outbox(self) -> Delivery | None: ...

    @property
    def board(self) -> _Board: ...

    @property
    def live(self) -> _Live: ...

    @property
    def features(self) -> _Features: ...

    @property
    def web_base_url(self) -> str | None: ...

    @property
    def web_links(self) -> str | None: ...

Rows = Sequence[Sequence[Action]]


class Refusal(Exception):
    """Stop handling and tell the user why (a localized sentence); nothing was changed."""

    def __init__(self, text: Text) -> None:
        super().__init__(text.msgid)
        self.text = text


@dataclass
class Context:
    app: App
    event: IncomingMessage | ButtonPress
    messenger: Messenger
    locale: str
    member_id: int | None = None
    _chat_admin: bool | None = None
    _room: ChatRoom | None = None
    _room_loaded: bool = False

    @property
    def sender(self) -> Sender:
        return self.event.sender

    @property
    def chat(self) -> Chat:
        return self.event.chat

    @property
    def private(self) -> bool:
        return self.chat.kind == "private"

    def t(self, text: Text | str) -> str:
        return self.app.i18n.render(text, self.locale)

    async def actor(self, community_id: int | None = None) -> Actor:
        """The acting member; an admin of this bound room carries that room's few powers (mandate.POWERS)."""
        room_admin_of = None
        room = await self.room()
        if (
            room is not None
            and (community_id is None or room.community_id == community_id)
            and await self.is_chat_admin()
        ):
            room_admin_of = room.id
        return Actor(self.sender.platform, self.sender.user_id, self.sender.display_name, room_admin_of=room_admin_of)

    async def is_chat_admin(self) -> bool:
        """Whether the platform says the sender administers this group (asked once per update)."""
        if self.private:
            return False
        if self._chat_admin is None:
            self._chat_admin = await self.messenger.is_chat_admin(self.chat.chat_id, self.sender.user_id)
        return self._chat_admin

    async def room(self) -> ChatRoom | None:
        if not self._room_loaded:
            async with self.app.db.uow(readonly=True) as uow:
                self._room = await room_of(uow, self.chat.platform, self.chat.chat_id)
            self._room_loaded = True
        return self._room

    async def require_room(self) -> ChatRoom:
        room = await self.room()
        if room is None:
            raise Refusal(_("This room is not bound to a community yet. A moderator can bind it with /bind."))
        return room

    async def is_moderator(self, community_id: int) -> bool:
        """A council member of the community (never because of a chat admin status)."""
        async with self.app.db.uow() as uow:
            member = await uow.member(self.sender.platform, self.sender.user_id, self.sender.display_name)
            return await is_council_member(uow, member.id or 0, community_id)

    async def require_moderator(self, community_id: int) -> None:
        if not await self.is_moderator(community_id):
            raise NotEligible("moderators only", reason="not_moderator")

    async def require_member_of(self, community_id: int) -> None:
        """Answers about a community's matters go to its own people only: in a group, a room bound to it;
        in private, a member with a verified home in it or a seat on its council."""
        if not self.private:
            room = await self.room()
            if room is None or room.community_id != community_id:
                raise Refusal(_("That matter belongs to another community; ask in one of its rooms."))
            return
        async with self.app.db.uow(readonly=True) as uow:
            member_id = await member_store.id_of(uow, self.sender.platform, self.sender.user_id)
            allowed = member_id is not None and await may_see_community(uow, member_id, community_id)
        if not allowed:
            raise Refusal(_("Only registered residents of that community can see its matters. Register first "
                            "with /register."))

    @property
    def pressed_message_id(self) -> str | None:
        """The message a button press came from, if the platform showed it carries this very button.

        Presses edit their message only then, so a forged press (data copied from another message)
        can never turn one kind of message into another.
        """
        event = self.event
        if not isinstance(event, ButtonPress) or event.message_id is None:
            return None
        return event.message_id if event.buttons is not None and event.data in event.buttons else None

    def render(self, text: Text | str, actions: Rows = (), locale: str | None = None) -> OutMessage:
        body = self.app.i18n.render(text, locale or self.locale)
        return OutMessage(body[:4096], tuple(tuple(row) for row in actions))

    async def room_locale(self) -> str:
        """The language of what is posted in this room: its own (/lang in the room), else the default."""
        room = await self.room()
        return room_locale(room, self.app.i18n.default_locale)

    async def public_t(self) -> Callable[[Text | str], str]:
        """Renders button labels of a message posted for the whole room, in the room's language."""
        locale = self.locale if self.private else await self.room_locale()
        return lambda text: self.app.i18n.render(text, locale)

    async def reply(self, text: Text | str, actions: Rows = (), *, public: bool = False) -> SentMessage | None:
        """Answer the event: the one decision of what a group room sees (its message budget).

        ``public``: what the whole room needs (proposal cards, ballots, decisions, results, the room's
        settings), posted in the room in the room's language. Anything else is *personal* (confirmations,
        refusals, /show, /help, /me, offers, usage lines): in a group it goes as a toast when it answers
        a press, else to the member's private chat in their language. Only when the member never started
        a private chat (Telegram: 403 "bot can't initiate conversation") does the room get a one-line
        pointer, at most one per member and community-local day, and the answer itself is dropped.
        """
        if self.private:
            return await self.messenger.send(self.chat.chat_id, self.render(text, actions))
        if public:
            reply_to = self.event.message_id if isinstance(self.event, IncomingMessage) else None
            locale = await self.room_locale()
            return await self.messenger.send(self.chat.chat_id, self.render(text, actions, locale), reply_to=reply_to)
        if isinstance(self.event, ButtonPress) and not actions:
            await self.toast(text, alert=len(self.t(text)) > 60)
            return None
        if await self._reachable():
            try:
                return await self.messenger.send(self.sender.user_id, self.render(text, actions))
            except MessengerError as error:
                if not error.blocked:
                    raise
                # Marked unreachable by the outbox; told below, once a day, how to get answers.
        return await self._point_to_private()

    async def _reachable(self) -> bool:
        async with self.app.db.uow(readonly=True) as uow:
            reachable = await member_store.reachable(uow, self.sender.platform, self.sender.user_id)
        return reachable is None or reachable

    async def _point_to_private(self) -> SentMessage | None:
        now = utcnow()
        local = now.astimezone(self.app.tz)
        day_start = local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)
        async with self.app.db.uow() as uow:
            member = await uow.member(self.sender.platform, self.sender.user_id, self.sender.display_name)
            # A guarded update: two commands at once still give one pointer, and a restart keeps the day.
            if not await member_store.point_once(uow, member.id or 0, day_start, now):
                return None
            name = member.display_name or member.external_id  # stored cleaned: no control or bidi characters
        me = getattr(self.messenger, "bot_username", "") or ""
        text = _("{name}, I answer you in a private chat: open @{bot} and press Start, then send it again.",
                 name=name[:64], bot=me)
        reply_to = self.event.message_id if isinstance(self.event, IncomingMessage) else None
        return await self.messenger.send(self.chat.chat_id, self.render(text, (), await self.room_locale()),
                                         reply_to=reply_to)

    async def send_private(self, user_id: str, text: Text, locale: str, actions: Rows = ()) -> SentMessage:
        # On Telegram a private chat's id is the user's id.
        return await self.messenger.send(user_id, self.render(text, actions, locale))

    async def toast(self, text: Text | str, *, alert: bool = False) -> None:
        if isinstance(self.event, ButtonPress):
            await self.messenger.toast(self.event, self.t(text)[:200], alert=alert)


def room_locale(room: ChatRoom | None, default: str) -> str:
    return room.locale if room is not None and room.locale else default
