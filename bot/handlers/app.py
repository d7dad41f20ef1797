"""The handlers' entry point: every transport feeds neutral events here."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from datetime import tzinfo

from sqlalchemy import select, update

from bot.deliberation.errors import DomainError
from bot.handlers import errors
from bot.handlers.board import BALLOT, BallotBoard
from bot.handlers.callbacks import POSITION_CODES, decode
from bot.handlers.commands import UsageError, parse_command, registry
from bot.handlers.context import Context, Refusal, member_locale
from bot.handlers.live import LiveMessages
from bot.handlers.types import (
    ButtonPress,
    ChatMigrated,
    CommandInfo,
    Event,
    IncomingMessage,
    MembershipChange,
    Messenger,
    OutMessage,
    Sender,
)
from bot.i18n import Translator, _
from bot.outbox.dispatcher import Dispatcher, OutboxMessenger
from bot.services.ballot_batch import BallotBatcher
from bot.services.rooms import follow_migration
from bot.storage import Database
from bot.storage.models import Member, ProcessedUpdate, utcnow

log = logging.getLogger(__name__)

MAX_INPUT = 4096
BALLOT_PREFIX = "v1:b:"


class Yishi:
    """Feature handlers written once, for every runtime (EventSink)."""

    def __init__(
        self, db: Database, translator: Translator, timezone: tzinfo, *, ballot_edit_interval: float = 3.0
    ) -> None:
        self.db = db
        self.i18n = translator
        self.tz = timezone
        # Messages the bot keeps editing (ballot turnout, proposal cards), refreshed from the database.
        self.live = LiveMessages(self, {BALLOT: ballot_edit_interval})
        self.board = BallotBoard(self.live)
        self.ballots = BallotBatcher(db)
        self.boot_id = secrets.token_hex(8)  # tells this process's claims from a crashed one's
        # Set by the runtime: call after a change the scheduler must follow (a vote opened, a digest set).
        self.replan: Callable[[], None] = lambda: None
        # Set by the runtime: every send and edit then goes through the rate-limited outbox.
        self.outbox: Dispatcher | None = None
        self._through_outbox: dict[int, Messenger] = {}
        # Handlers register themselves on import.
        from bot.handlers import (  # noqa: F401
            agenda,
            digests,
            implementation,
            meetings,
            nudges,
            registration,
            rooms,
            votes,
        )

    async def feed(self, event: Event, messenger: Messenger) -> None:
        messenger = self._outbound(messenger)
        try:
            if isinstance(event, ButtonPress) and event.data.startswith(BALLOT_PREFIX):
                await self._ballot_press(event, messenger)  # the hot path: claimed inside its batch
                return
            if not await self._claim(messenger.platform, event.update_id):
                return  # handled already, or being handled by this process right now
            try:
                await self._dispatch(event, messenger)
            finally:
                await self._finish(messenger.platform, event.update_id)
        except Exception:  # noqa: BLE001 - nothing may escape to the transport
            log.exception("update %s failed", event.update_id)
            await self._apologise(event, messenger)

    def _outbound(self, messenger: Messenger) -> Messenger:
        if self.outbox is None or isinstance(messenger, OutboxMessenger):
            return messenger
        wrapped = self._through_outbox.get(id(messenger))
        if wrapped is None:
            wrapped = self._through_outbox[id(messenger)] = self.outbox.messenger(messenger)
        return wrapped

    async def _dispatch(self, event: Event, messenger: Messenger) -> None:
        if isinstance(event, IncomingMessage):
            await self._message(event, messenger)
        elif isinstance(event, ButtonPress):
            await self._press(event, messenger)
        elif isinstance(event, MembershipChange):
            await self._membership(event)
        elif isinstance(event, ChatMigrated):
            await self._migrated(event)

    async def _claim(self, platform: str, update_id: int) -> bool:
        """Claim an update: False if it was finished, or is in hand in this process.

        An unfinished claim of another process means that process died with the update in hand
        (after a restart Telegram delivers it again): it is taken over rather than lost.
        """
        key = {"platform": platform, "bot_id": "", "update_id": update_id}
        async with self.db.uow() as uow:
            if await uow.insert_ignore(
                ProcessedUpdate,
                {**key, "processed_at": utcnow(), "claimed_by": self.boot_id},
                ("platform", "bot_id", "update_id"),
            ):
                return True
            taken = await uow.session.execute(
                update(ProcessedUpdate)
                .where(
                    ProcessedUpdate.platform == platform,
                    ProcessedUpdate.bot_id == "",
                    ProcessedUpdate.update_id == update_id,
                    ProcessedUpdate.finished_at.is_(None),  # type: ignore[union-attr]
                    ProcessedUpdate.claimed_by != self.boot_id,
                )
                .values(claimed_by=self.boot_id, processed_at=utcnow())
            )
            return bool(taken.rowcount)  # type: ignore[attr-defined]

    async def _finish(self, platform: str, update_id: int) -> None:
        async with self.db.uow() as uow:
            await uow.session.execute(
                update(ProcessedUpdate)
                .where(
                    ProcessedUpdate.platform == platform,
                    ProcessedUpdate.bot_id == "",
                    ProcessedUpdate.update_id == update_id,
                )
                .values(finished_at=utcnow())
            )

    async def _context(self, event: IncomingMessage | ButtonPress, messenger: Messenger) -> Context:
        async with self.db.uow() as uow:
            member = (
                await uow.session.execute(
                    select(Member).where(
                        Member.platform == event.sender.platform, Member.external_id == event.sender.user_id
                    )
                )
            ).scalar_one_or_none()
            code = (event.sender.language_code or "")[:16] or None
            if member is None or (code and member.language_code != code):
                # Remembered for messages sent to them later, unprompted (approvals, nudges).
                member = await uow.member(event.sender.platform, event.sender.user_id, event.sender.display_name)
                member.language_code = code or member.language_code
        return Context(
            self,
            event,
            messenger,
            member_locale(member, event.sender, self.i18n.default_locale),
            member.id if member else None,
        )

    async def _message(self, event: IncomingMessage, messenger: Messenger) -> None:
        if event.sender.is_bot:
            return
        ctx = await self._context(event, messenger)
        command = parse_command(event.text)
        if command is None:
            if ctx.private:  # in group rooms people talk to each other; stay quiet
                await ctx.reply(_("I understand commands. Send /help to see what you can do."))
            return
        spec = registry.get(command.name)
        if spec is None:
            if ctx.private or command.mention:
                await ctx.reply(_("Unknown command /{name}. Send /help for the list.", name=command.name))
            return
        try:
            if len(event.text) > MAX_INPUT:
                raise Refusal(_("That message is too long (over {max} characters). Please shorten it.", max=MAX_INPUT))
            if spec.where == "private" and not ctx.private:
                raise Refusal(_("Please use /{name} in a private chat with me.", name=spec.name))
            if spec.where == "group" and ctx.private:
                raise Refusal(_("/{name} works in a group room bound to your community.", name=spec.name))
            if spec.moderator and not await self._may_moderate(ctx):
                raise Refusal(_("Only moderators of the residents' council can do that."))
            await spec.handler(ctx, command.args)
        except UsageError:
            await ctx.reply(_("Usage: {usage}", usage=spec.usage))
        except Refusal as refusal:
            await ctx.reply(refusal.text)
        except DomainError as error:
            await ctx.reply(errors.explain(error))

    async def _may_moderate(self, ctx: Context) -> bool:
        """Moderator commands: admins of a bound room and council members (services check again)."""
        room = await ctx.room()
        if room is not None:
            return await ctx.is_moderator(room.community_id)
        from bot.handlers.registration import is_council_anywhere

        return await is_council_anywhere(ctx)

    async def _press(self, event: ButtonPress, messenger: Messenger) -> None:
        from bot.handlers.buttons import handle_press

        ctx = await self._context(event, messenger)
        action = decode(event.data)
        try:
            if action is None:
                raise Refusal(_("This button is no longer valid."))
            await handle_press(ctx, action)
        except Refusal as refusal:
            await ctx.toast(refusal.text, alert=True)
        except DomainError as error:
            await ctx.toast(errors.explain(error), alert=True)

    async def _ballot_press(self, event: ButtonPress, messenger: Messenger) -> None:
        from bot.handlers.render import POSITION_NAMES, join, when
        from bot.services.ballot_batch import PressRequest

        action = decode(event.data)
        locale = member_locale(None, event.sender, self.i18n.default_locale)
        if action is None or action.tag != "b":
            await messenger.toast(event, self.i18n.render(_("This button is no longer valid."), locale), alert=True)
            return
        position = POSITION_CODES[action.args[1]]
        outcome = await self.ballots.submit(
            PressRequest(messenger.platform, event.update_id, event.sender.user_id, action.int(0), position)
        )
        if outcome.duplicate:
            return
        if outcome.member_locale:
            locale = outcome.member_locale
        elif not event.sender.language_code and outcome.member_language:
            locale = member_locale(
                None, Sender("", "", language_code=outcome.member_language), self.i18n.default_locale
            )
        if outcome.error is not None:
            await messenger.toast(event, self.i18n.render(errors.explain(outcome.error), locale)[:200], alert=True)
            return
        assert outcome.cast is not None
        cast = outcome.cast
        deadline = _("You can change it until {deadline}.", deadline=when(cast.vote.closes_at, self.tz))
        headline = (
            _("Recorded: {choice}.", choice=POSITION_NAMES[position])
            if cast.changed
            else _("Already recorded: {choice}.", choice=POSITION_NAMES[position])
        )
        await messenger.toast(event, self.i18n.render(join([headline, deadline]), locale)[:200])
        if cast.changed:
            self.board.touch(action.int(0), messenger)

    async def _membership(self, event: MembershipChange) -> None:
        if event.chat.kind != "private":
            return
        async with self.db.uow() as uow:
            member = await uow.member(event.sender.platform, event.sender.user_id, event.sender.display_name)
            member.reachable = event.status not in ("kicked", "left")

    async def _migrated(self, event: ChatMigrated) -> None:
        async with self.db.uow() as uow:
            await follow_migration(uow, event.chat.platform, event.chat.chat_id, event.new_chat_id)

    async def _apologise(self, event: Event, messenger: Messenger) -> None:
        try:
            text = _("Sorry, something went wrong on our side. Please try again in a moment.")
            if isinstance(event, ButtonPress):
                await messenger.toast(event, self.i18n.render(text, self.i18n.default_locale), alert=True)
            elif isinstance(event, IncomingMessage):
                locale = member_locale(None, event.sender, self.i18n.default_locale)
                await messenger.send(event.chat.chat_id, OutMessage(self.i18n.render(text, locale)))
        except Exception:  # noqa: BLE001
            log.exception("could not apologise for update %s", event.update_id)

    async def register_commands(self, messenger: Messenger) -> None:
        """Localized command menus for members in private, in groups, and for group admins."""
        for locale in ("zh_CN", "en"):
            for scope, private, moderator in (
                ("private", True, False),
                ("groups", False, False),
                ("group_admins", False, True),
            ):
                specs = registry.visible(private=private, moderator=moderator)
                commands = [CommandInfo(s.name, self.i18n.render(s.summary, locale)[:256]) for s in specs]
                language = None if locale == self.i18n.default_locale else locale
                await messenger.set_commands(commands, scope=scope, language=language)  # type: ignore[arg-type]
                if language is None:
                    await messenger.set_commands(commands, scope=scope, language=locale)  # type: ignore[arg-type]

    async def refresh_live_messages(self, messenger: Messenger) -> int:
        """At start-up: refresh once, from the database, every live message that may have missed an edit
        while the bot was down (open votes, matters still collecting or just changed); returns how many
        subjects were touched. The edits go out in the background, through the outbox."""
        return await self.live.refresh_current(self._outbound(messenger))

    async def close(self) -> None:
        await self.ballots.close()
        await self.board.drain()
