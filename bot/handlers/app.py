"""The handlers' entry point: every transport feeds neutral events here."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from datetime import tzinfo

from bot.chat.port import (
    ButtonPress,
    ChatMigrated,
    CommandInfo,
    Delivery,
    Event,
    IncomingMessage,
    MembershipChange,
    Messenger,
    MessengerError,
    Outcome,
    OutMessage,
    Sender,
)
from bot.deliberation.errors import DomainError
from bot.handlers import errors
from bot.handlers.board import BALLOT, BallotBoard
from bot.handlers.buttons import handle_press
from bot.handlers.callbacks import BallotChoice, unpack
from bot.handlers.commands import UsageError, parse_command
from bot.handlers.context import Context, Refusal
from bot.handlers.features import wire
from bot.handlers.live import LiveMessages
from bot.handlers.registration import is_council_anywhere
from bot.handlers.render import POSITION_NAMES, join, receipt_line, when
from bot.handlers.replaced import tell_replaced
from bot.i18n import Translator, _, member_locale
from bot.services.ballot_batch import BallotBatcher, PressRequest
from bot.services.rooms import follow_migration
from bot.storage import Database
from bot.storage import members as member_store
from bot.storage import votes as vote_store
from bot.storage.handling import handling
from bot.storage.inbox import Inbox

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
        # Every feature's commands, buttons and live messages (bot.handlers.features).
        self.features = wire()
        # Messages the bot keeps editing (ballot turnout, proposal cards), refreshed from the database.
        self.live = LiveMessages(self, {BALLOT: ballot_edit_interval}, kinds=self.features.live)
        self.board = BallotBoard(self.live)
        self.boot_id = secrets.token_hex(8)  # tells this process's claims from a crashed one's
        self.ballots = BallotBatcher(db, self.boot_id)
        # Every update's claim; the transport stores updates in it before confirming them.
        self.inbox = Inbox(db, self.boot_id)
        # Set by the runtime: call after a change the scheduler must follow (a vote opened, a digest set).
        self.replan: Callable[[], None] = lambda: None
        # Set by the runtime: every send and edit then goes through the rate-limited outbox.
        self.outbox: Delivery | None = None
        # Set by the runtime when it serves the web pages (bot/web): where /web's sign-in links point.
        self.web_base_url: str | None = None
        # Set by the runtime to WEB_BASE_URL only: the public address ballot messages link to (/v/<id>).
        self.web_links: str | None = None
        self._through_outbox: dict[int, Messenger] = {}

    async def feed(self, event: Event, messenger: Messenger) -> Outcome:
        messenger = self._outbound(messenger)
        try:
            if isinstance(event, ButtonPress) and event.data.startswith(BALLOT_PREFIX):
                return await self._ballot_press(event, messenger)  # the hot path: claimed inside its batch
            if not await self.inbox.claim(event.update_id):
                return "duplicate"  # handled already, or in hand here or in another live process
            try:
                with handling(self.inbox.bot, event.update_id, self.boot_id):
                    await self._dispatch(event, messenger)
            finally:
                await self.inbox.finish(event.update_id)
            return "handled"
        except Exception:  # noqa: BLE001 - nothing may escape to the transport
            log.exception("update %s failed", event.update_id)
            await self._apologise(event, messenger)
            try:  # not tried again and again: the member was told to try again
                await self.inbox.finish(event.update_id)
            except Exception:  # noqa: BLE001 - unhandled, so the next sweep retries it
                log.warning("update %s stays in the inbox", event.update_id)
            return "failed"

    def _outbound(self, messenger: Messenger) -> Messenger:
        if self.outbox is None or self.outbox.wraps(messenger):
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

    async def _context(self, event: IncomingMessage | ButtonPress, messenger: Messenger) -> Context:
        async with self.db.uow() as uow:
            member = await member_store.find(uow, event.sender.platform, event.sender.user_id)
            code = (event.sender.language_code or "")[:16] or None
            if member is None or (code and member.language_code != code):
                # Remembered for messages sent to them later, unprompted (approvals, nudges).
                member = await uow.member(event.sender.platform, event.sender.user_id, event.sender.display_name)
                member.language_code = code or member.language_code
            if event.chat.kind == "private" and not member.reachable:
                member.reachable = True  # they write to us in private, so we can answer there again
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
        command = parse_command(event.text)
        me = getattr(messenger, "bot_username", "")
        if command is not None and command.mention and me and command.mention.lower() != me.lower():
            return  # "/close@other_bot 4" is for another bot in the room
        ctx = await self._context(event, messenger)
        if command is None:
            if ctx.private and event.photos and self.features.photo is not None:
                await self.features.photo(ctx)  # e.g. the rest of an album whose first photo had the command
                return
            if ctx.private:  # in group rooms people talk to each other; stay quiet
                await ctx.reply(_("I understand commands. Send /help to see what you can do."))
            return
        spec = self.features.commands.get(command.name)
        if spec is not None and command.bare and spec.where == "private" and not ctx.private:
            return  # "<start keyword>" said in a group is talk, not a private-only command
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
        """Moderator commands: council members of the room's community, or of any community in private.

        A Telegram admin status counts for nothing here; the services check every power again.
        """
        room = await ctx.room()
        if room is not None:
            return await ctx.is_moderator(room.community_id)
        return await is_council_anywhere(ctx)

    async def _press(self, event: ButtonPress, messenger: Messenger) -> None:
        ctx = await self._context(event, messenger)
        button = unpack(event.data)
        try:
            if button is None:
                raise Refusal(_("This button is no longer valid."))
            await handle_press(ctx, button, self.features.buttons)
        except Refusal as refusal:
            await ctx.toast(refusal.text, alert=True)
        except DomainError as error:
            await ctx.toast(errors.explain(error), alert=True)

    async def _ballot_press(self, event: ButtonPress, messenger: Messenger) -> Outcome:
        action = unpack(event.data)
        locale = member_locale(None, event.sender, self.i18n.default_locale)
        if not isinstance(action, BallotChoice) or (event.buttons is not None and event.data not in event.buttons):
            if not await self.inbox.claim(event.update_id):
                return "duplicate"
            await self._answer(event, messenger, self.i18n.render(_("This button is no longer valid."), locale),
                               alert=True)
            await self.inbox.finish(event.update_id)
            return "handled"
        position = action.choice
        outcome = await self.ballots.submit(
            PressRequest(messenger.platform, event.update_id, event.sender.user_id, action.vote_id, position,
                         bot=self.inbox.bot)
        )
        if outcome.duplicate:
            return "duplicate"
        if outcome.failed:
            await self._apologise(event, messenger)
            return "failed"
        if outcome.member_locale:
            locale = outcome.member_locale
        elif not event.sender.language_code and outcome.member_language:
            locale = member_locale(
                None, Sender("", "", language_code=outcome.member_language), self.i18n.default_locale
            )
        if outcome.error is not None:
            await self._answer(event, messenger, self.i18n.render(errors.explain(outcome.error), locale),
                               alert=True, vote_id=action.vote_id)
            return "handled"
        assert outcome.cast is not None
        cast = outcome.cast
        deadline = _("You can change it until {deadline}.", deadline=when(cast.vote.closes_at, self.tz))
        headline = (
            _("Recorded: {choice}.", choice=POSITION_NAMES[position])
            if cast.changed
            else _("Already recorded: {choice}.", choice=POSITION_NAMES[position])
        )
        await self._answer(event, messenger, self.i18n.render(join([headline, *receipt_line(cast), deadline]), locale),
                           vote_id=action.vote_id)
        if cast.changed:
            self.board.touch(action.vote_id, messenger)
            await tell_replaced(self, cast)
        return "handled"

    async def _answer(self, event: ButtonPress, messenger: Messenger, text: str, *, alert: bool = False,
                      vote_id: int | None = None) -> None:
        """Answer a press with a toast; if Telegram refuses (a query older than its short answer window,
        e.g. after a restart), tell the presser in private instead. Then the press counts as answered."""
        try:
            await messenger.toast(event, text[:200], alert=alert)
        except MessengerError as error:
            log.info("update %s: toast refused (%s); confirming in private", event.update_id, error)
            if vote_id is not None:
                locale = await self._locale_of(event)
                text = self.i18n.render(_("Vote #{id}: {answer}", id=vote_id, answer=text), locale)
            try:
                await self._outbound(messenger).send(event.sender.user_id, OutMessage(text))
            except MessengerError:
                log.warning("update %s: could not confirm the press in private either", event.update_id)
        self.inbox.answered(event.update_id)

    async def _locale_of(self, event: ButtonPress) -> str:
        async with self.db.uow(readonly=True) as uow:
            member = await member_store.find(uow, event.sender.platform, event.sender.user_id)
        return member_locale(member, event.sender, self.i18n.default_locale)

    async def confirm(self, event: Event, messenger: Messenger) -> None:
        """A ballot press a stopped process recorded but may not have answered: say where it stands."""
        action = unpack(event.data) if isinstance(event, ButtonPress) else None
        if not isinstance(event, ButtonPress) or not isinstance(action, BallotChoice):
            return
        messenger = self._outbound(messenger)
        vote_id = action.vote_id
        try:
            locale = await self._locale_of(event)
            async with self.db.uow(readonly=True) as uow:
                vote = await vote_store.by_id(uow, vote_id)
                ballot = await vote_store.own_ballot(uow, vote_id, event.sender.platform, event.sender.user_id)
            if vote is None or ballot is None:
                text = _("Your press in vote #{id} was not recorded. Please press the button again.", id=vote_id)
            elif vote.secret:  # the choice stays out of messages, even the voter's own
                text = _("Your ballot in vote #{id} is recorded.", id=vote_id)
            else:
                text = _("Your ballot in vote #{id} is recorded: {choice}.", id=vote_id,
                         choice=POSITION_NAMES.get(str(ballot.choice), str(ballot.choice)))
            lines = [text]
            if vote is not None and ballot is not None and vote.status == "open":
                lines.append(_("You can change it until {deadline}.", deadline=when(vote.closes_at, self.tz)))
            rendered = self.i18n.render(join(lines), locale)
            try:
                await messenger.toast(event, rendered[:200])
            except MessengerError:
                await messenger.send(event.sender.user_id, OutMessage(rendered))
        except Exception:  # noqa: BLE001 - a confirmation must not stop the others
            log.exception("could not confirm press %s", event.update_id)
        self.inbox.answered(event.update_id)

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
                specs = self.features.commands.visible(private=private, moderator=moderator)
                commands = [CommandInfo(s.name, self.i18n.render(s.summary, locale)[:256]) for s in specs]
                language = None if locale == self.i18n.default_locale else locale
                await messenger.set_commands(commands, scope=scope, language=language)  # type: ignore[arg-type]
                if language is None:
                    await messenger.set_commands(commands, scope=scope, language=locale)  # type: ignore[arg-type]

    def touch_live(self, kind: str, subject_id: int, messenger: Messenger) -> None:
        """A subject changed outside the chat (a web ballot or co-signature): redraw its live messages."""
        self.live.touch(kind, subject_id, self._outbound(messenger))

    async def refresh_live_messages(self, messenger: Messenger) -> int:
        """At start-up: refresh once, from the database, every live message that may have missed an edit
        while the bot was down (open votes, matters still collecting or just changed); returns how many
        subjects were touched. The edits go out in the background, through the outbox."""
        return await self.live.refresh_current(self._outbound(messenger))

    async def close(self) -> None:
        await self.ballots.close()
        await self.board.drain()
