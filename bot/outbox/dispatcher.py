"""Delivering the outbox: one rate-limited stream per chat, at least once, across restarts.

Rows are claimed (pending -> sending) by a guarded UPDATE, so two processes never send the same
row; a row is marked sent right after the platform accepted it, so a restart resends only what
was in flight when the process died (at least once, never what was already marked sent).

Per chat, messages go one at a time in (priority, id) order under that chat's limits; all chats
share the global window, granted to the most urgent waiter first. A 429 pauses only its chat; a
403 from a private chat marks the member unreachable and drops what was queued for them; a group
upgraded to a supergroup is re-bound and its queue follows it.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypeVar

from bot import metrics
from bot.chat.port import (
    ButtonPress,
    CommandInfo,
    CommandScope,
    Messenger,
    MessengerError,
    OutMessage,
    SentMessage,
)
from bot.outbox.limits import Limits, PriorityGate, SlidingWindow
from bot.storage import Database
from bot.storage import members as member_store
from bot.storage import outbox as queue_store
from bot.storage.locks import AdvisoryLock, lock_key
from bot.storage.models import utcnow
from bot.storage.outbox import Priority, decode, document_of, encode
from bot.storage.rooms import follow_migration
from bot.storage.uow import UnitOfWork
from bot.tasks import cancel_and_wait, wait_event

log = logging.getLogger(__name__)

T = TypeVar("T")

# Chats drained at once: about two seconds of sending at 30/s. More would only hold claims while
# waiting for the global window; as a chat finishes, the next one starts.
MAX_ACTIVE_CHATS = 64
CANDIDATES = 2000  # due rows looked at per round to find the next idle chats
MAX_ATTEMPTS = 8  # transient failures before a message is given up as failed
REPLY_TIMEOUT = 300.0  # how long a handler waits for its reply to go out before giving up waiting


def chat_kind_of(platform: str, chat_id: str) -> str:
    """Telegram: users have positive ids, groups and supergroups negative ones."""
    return "group" if chat_id.startswith("-") else "private"


@dataclass
class _Chat:
    window: SlidingWindow
    group_window: SlidingWindow | None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    paused_until: float = 0.0  # monotonic
    posting: int = 0  # new messages waiting for this chat: edits of live messages let them go first

    def idle(self, now: float) -> bool:
        windows = [self.window] + ([self.group_window] if self.group_window else [])
        for window in windows:
            window.wait(now)  # drops what has left the window
        return not self.lock.locked() and self.paused_until <= now and all(w.idle for w in windows)


@dataclass(frozen=True, slots=True)
class _Row:
    id: int
    platform: str
    chat_id: str
    chat_kind: str
    member_id: int | None
    priority: int
    payload: dict[str, Any]
    attempts: int


@dataclass
class Stats:
    sent: int = 0
    edited: int = 0
    retry_after: int = 0  # 429s received (each paused one chat)
    skipped: int = 0
    failed: int = 0
    migrated: int = 0


class Dispatcher:
    def __init__(
        self,
        db: Database,
        limits: Limits | None = None,
        *,
        boot_id: str,
        poll_interval: float = 1.0,
        stale_after: float = 600.0,
    ) -> None:
        self.db = db
        self.limits = limits or Limits()
        self.boot_id = boot_id
        self.poll_interval = poll_interval
        # Whose claims may be taken over: on SQLite (one process) any other boot's; on PostgreSQL a
        # process whose liveness lock is free (it died), or, failing that, a claim older than stale_after.
        self.shared = not db.url.startswith("sqlite")
        self.stale_after = stale_after if self.shared else 0.0
        self._liveness: AdvisoryLock | None = None
        self.messengers: dict[str, Messenger] = {}
        self.gate = PriorityGate(SlidingWindow(self.limits.global_per_second, 1.0))
        self.stats = Stats()
        self._chats: dict[tuple[str, str], _Chat] = {}
        self._active: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._waiters: dict[int, asyncio.Future[SentMessage]] = {}
        self._edit_locks: dict[tuple[str, str, str], tuple[asyncio.Lock, int]] = {}
        self._wakeup = asyncio.Event()
        self._loop: asyncio.Task[None] | None = None
        self._stopping = False
        self._seq = itertools.count(1)

    # ------------------------------------------------------------------ lifecycle

    def attach(self, messenger: Messenger) -> None:
        self.messengers[messenger.platform] = messenger
        self.wake()

    async def start(self) -> None:
        if self.shared:  # held while we live: others can tell our claims from a dead process's
            self._liveness = AdvisoryLock(self.db.url, liveness_key(self.boot_id))
            await self._liveness.acquire()
        await self._recover()
        self._stopping = False
        self._loop = asyncio.create_task(self._run(), name="outbox")

    async def stop(self, grace: float = 5.0) -> None:
        """Let chats finish their current message (up to ``grace`` s), then release our claims."""
        self._stopping = True
        self.wake()
        if self._loop is not None:
            # The loop ends by itself at its next check; cancelling it inside a database call would leave
            # the pooled connection to be reset by the garbage collector.
            _done, late = await asyncio.wait({self._loop}, timeout=grace)
            await cancel_and_wait(late)
        tasks = list(self._active.values())
        if tasks:
            _done, pending = await asyncio.wait(tasks, timeout=grace)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        async with self.db.uow() as uow:  # whatever we still hold goes back to the queue
            await queue_store.release_all(uow, self.boot_id)
        for future in self._waiters.values():
            if not future.done():
                future.set_exception(MessengerError("the outbox stopped before this message went out"))
        if self._liveness is not None:
            await self._liveness.dispose()
            self._liveness = None

    def wake(self) -> None:
        self._wakeup.set()

    async def drained(self, timeout: float = 60.0) -> bool:
        """Wait until nothing is queued or in flight, paused chats included (tests, benchmarks)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self._active and not await self._queued_count():
                return True
            await asyncio.sleep(0.05)
        return False

    # ------------------------------------------------------------------ the port, for handlers

    def messenger(self, inner: Messenger) -> Messenger:
        """``inner`` with its sends and edits going through this outbox."""
        self.messengers.setdefault(inner.platform, inner)
        return OutboxMessenger(inner, self)

    def wraps(self, messenger: Messenger) -> bool:
        return isinstance(messenger, OutboxMessenger)

    async def send(self, platform: str, chat_id: str, message: OutMessage, reply_to: str | None = None,
                   *, photo: str | None = None, document: tuple[str, bytes] | None = None) -> SentMessage:
        """Queue a reply (``photo``: that photo by file id, the text its caption) and deliver it now, in the
        caller's task, under every limit.

        The row is written first (already claimed by us), so a crash before delivery still gets
        it sent after the restart. If the chat is paused, the caller waits for the dispatcher.
        """
        now = utcnow()
        async with self.db.uow() as uow:
            row = await queue_store.add_claimed(
                uow,
                dedupe_key=f"reply:{self.boot_id}:{next(self._seq)}",
                platform=platform,
                chat_id=chat_id,
                chat_kind=chat_kind_of(platform, chat_id),
                priority=Priority.REPLY,
                payload=encode(message, reply_to=reply_to, photo=photo, document=document),
                claimer=self.boot_id,
                now=now,
            )
            assert row.id is not None
            claimed = _Row(row.id, platform, chat_id, row.chat_kind, None, row.priority, row.payload, 1)
        future: asyncio.Future[SentMessage] = asyncio.get_running_loop().create_future()
        self._waiters[claimed.id] = future
        try:
            await self._deliver(claimed)
            async with asyncio.timeout(REPLY_TIMEOUT):  # not wait_for: see bot.tasks.wait_event
                return await asyncio.shield(future)
        except TimeoutError:
            raise MessengerError("the reply is still queued (the chat is paused)") from None
        finally:
            self._waiters.pop(claimed.id, None)

    async def edit(
        self, platform: str, chat_id: str, message_id: str,
        message: OutMessage | Callable[[], Awaitable[OutMessage | None]],
    ) -> bool:
        """Edits (live messages) share the limits but are not persisted: the next refresh redoes them.

        ``message`` may be a function that renders it: it is called once the limits let the edit go,
        so what goes out is the state at sending time, not when the edit was asked for (None: nothing
        to send, False returned). Edits of one message never overlap, queued edits of it included.
        """
        inner = self.messengers[platform]

        async def call() -> bool:
            body = message if isinstance(message, OutMessage) else await message()
            if body is None:
                return False
            await inner.edit(chat_id, message_id, body)
            return True

        async with self._editing(platform, chat_id, message_id):
            edited = await self._transmit(
                platform, chat_id, chat_kind_of(platform, chat_id), Priority.REPLY, call, new_message=False,
            )
        if edited:
            self.stats.edited += 1
        return edited

    @contextlib.asynccontextmanager
    async def _editing(self, platform: str, chat_id: str, message_id: str) -> AsyncIterator[None]:
        """One edit of a message at a time: a live refresh and a queued edit of it do not cross."""
        key = (platform, chat_id, message_id)
        lock, users = self._edit_locks.get(key, (asyncio.Lock(), 0))
        self._edit_locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._edit_locks[key]
            if users > 1:
                self._edit_locks[key] = (lock, users - 1)
            else:
                del self._edit_locks[key]

    # ------------------------------------------------------------------ the loop

    async def _run(self) -> None:
        last_recovery = time.monotonic()
        while not self._stopping:
            self._wakeup.clear()
            try:
                await self._spawn_due_chats()
                if time.monotonic() - last_recovery > 60:
                    last_recovery = time.monotonic()
                    await self._recover()
                    self._prune()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - the loop must outlive a bad round (a database hiccup)
                log.exception("outbox round failed")
            await wait_event(self._wakeup, self.poll_interval)

    async def _queued_count(self) -> int:
        async with self.db.uow(readonly=True) as uow:
            return await queue_store.queued_count(uow)

    async def _spawn_due_chats(self) -> None:
        """Claim the next message of each idle chat in one transaction and start draining those chats."""
        room = MAX_ACTIVE_CHATS - len(self._active)
        if room <= 0 or not self.messengers:
            return
        now = time.monotonic()
        paused = {key for key, state in self._chats.items() if state.paused_until > now}
        async with self.db.uow() as uow:
            # Members who blocked the bot since their message was queued: skipped, not tried.
            await queue_store.skip_unreachable(uow)
            candidates = await queue_store.due(uow, utcnow(), CANDIDATES)
            firsts: dict[tuple[str, str], int] = {}
            for row_id, platform, chat_id in candidates:
                key = (platform, chat_id)
                if key in firsts or key in self._active or key in paused or platform not in self.messengers:
                    continue
                firsts[key] = row_id
                if len(firsts) >= room:
                    break
            if not firsts:
                return
            rows = await self._claim(uow, list(firsts.values()))
        for row in rows:
            key = (row.platform, row.chat_id)
            if key not in self._active:
                self._active[key] = asyncio.create_task(self._drain_chat(row))

    async def _claim(self, uow: UnitOfWork, ids: list[int]) -> list[_Row]:
        claimed = await queue_store.claim(uow, ids, self.boot_id, utcnow())
        return [
            _Row(r.id or 0, r.platform, r.chat_id, r.chat_kind, r.member_id, r.priority, r.payload, r.attempts)
            for r in claimed
        ]

    async def _drain_chat(self, first: _Row) -> None:
        platform, chat_id = first.platform, first.chat_id
        try:
            row: _Row | None = first
            while row is not None:
                if await self._deliver(row) != "sent" or self._stopping:
                    return  # paused, dropped or moved: the next round picks up what is left
                row = await self._claim_next(platform, chat_id)
        except Exception:  # noqa: BLE001
            log.exception("draining chat %s failed", chat_id)
        finally:
            self._active.pop((platform, chat_id), None)
            self.wake()

    async def _claim_next(self, platform: str, chat_id: str) -> _Row | None:
        async with self.db.uow() as uow:
            for _attempt in range(3):
                row_id = await queue_store.next_due_in_chat(uow, platform, chat_id, utcnow())
                if row_id is None:
                    return None
                claimed = await self._claim(uow, [row_id])
                if claimed:
                    return claimed[0]
            return None  # another process keeps winning this chat: leave it to them

    # ------------------------------------------------------------------ one message

    async def _deliver(self, row: _Row) -> str:
        """Send one claimed row and record the outcome: sent | paused | dropped | moved | retry | failed."""
        inner = self.messengers.get(row.platform)
        if inner is None:
            await self._release(row, delay=self.poll_interval, error="no messenger for this platform yet")
            return "retry"
        message, reply_to = decode(row.payload)
        edit = row.payload.get("edit")
        photo = row.payload.get("photo")
        document = document_of(row.payload)

        async def call() -> SentMessage:
            if edit is not None:
                await inner.edit(row.chat_id, str(edit), message)
                return SentMessage(row.chat_id, str(edit))
            if photo is not None:
                return await inner.send_photo(row.chat_id, str(photo), message.text)
            if document is not None:
                return await inner.send_document(row.chat_id, document[0], document[1], message.text)
            return await inner.send(row.chat_id, message, reply_to=reply_to)

        editing = self._editing(row.platform, row.chat_id, str(edit)) if edit is not None else contextlib.nullcontext()
        try:
            async with editing:
                sent = await self._transmit(row.platform, row.chat_id, row.chat_kind, row.priority, call,
                                            new_message=edit is None)
        except MessengerError as error:
            if error.not_modified:
                sent = SentMessage(row.chat_id, str(edit or ""))
            else:
                return await self._refused(row, error)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # noqa: BLE001 - a network failure the transport did not map
            return await self._refused(row, MessengerError(str(error) or type(error).__name__, transient=True))
        async with self.db.uow() as uow:
            await queue_store.mark_sent(uow, row.id, sent.message_id, utcnow(), forget=bool(row.payload.get("secret")))
        self.stats.sent += 1
        self._resolve(row.id, sent)
        return "sent"

    async def _transmit(
        self, platform: str, chat_id: str, kind: str, priority: int, call: Callable[[], Awaitable[T]],
        *, new_message: bool = True,
    ) -> T:
        """Make one call under the chat's and the global limits.

        Edits count against the per-second limits but not the group's 20 new messages a minute, which
        Telegram applies to messages posted; the ballot board already edits a vote's messages at most
        once per interval.
        """
        chat = self._chat(platform, chat_id, kind)
        if not new_message:  # an edit need not wait behind the chat's queue, only for its windows
            return await self._call_when_free(chat, None, priority, call, yield_to_posts=True)
        chat.posting += 1  # a reply the room waits for goes before edits (they are redone from the database)
        try:
            async with chat.lock:  # new messages to one chat go one at a time, in order
                return await self._call_when_free(chat, chat.group_window, priority, call)
        finally:
            chat.posting -= 1

    async def _call_when_free(
        self, chat: _Chat, group_window: SlidingWindow | None, priority: int, call: Callable[[], Awaitable[T]],
        *, yield_to_posts: bool = False,
    ) -> T:
        while True:
            now = time.monotonic()
            waits = [chat.paused_until - now, chat.window.wait(now)]
            if yield_to_posts and chat.posting:
                waits.append(0.05)
            if group_window is not None:
                waits.append(group_window.wait(now))
            wait = max(waits)
            if wait <= 0:
                break
            await asyncio.sleep(0.05 if wait == math.inf else wait)
        windows = [w for w in (chat.window, group_window) if w is not None]
        for window in windows:  # taken with no await since the check: no other task got in between
            window.start()
        try:
            await self.gate.acquire(priority)
            try:
                return await call()
            except MessengerError as error:
                if error.retry_after:
                    chat.paused_until = time.monotonic() + error.retry_after
                raise
            finally:
                self.gate.release()
        finally:
            finished = time.monotonic()
            for window in windows:
                window.finish(finished)

    def _chat(self, platform: str, chat_id: str, kind: str) -> _Chat:
        key = (platform, chat_id)
        state = self._chats.get(key)
        if state is None:
            group = None
            if kind != "private" and self.limits.group_per_minute:
                group = SlidingWindow(self.limits.group_per_minute, 60.0)
            state = self._chats[key] = _Chat(SlidingWindow(self.limits.chat_per_second, 1.0), group)
        return state

    def _prune(self) -> None:
        now = time.monotonic()
        for key in [k for k, state in self._chats.items() if k not in self._active and state.idle(now)]:
            del self._chats[key]

    # ------------------------------------------------------------------ refusals

    async def _refused(self, row: _Row, error: MessengerError) -> str:
        if error.retry_after:
            self.stats.retry_after += 1
            metrics.RETRY_AFTER.inc()
            log.info("chat %s paused for %ss (429)", row.chat_id, error.retry_after)
            await self._release(row, delay=error.retry_after, error=str(error))
            return "paused"
        if error.migrate_to:
            await self._migrated(row, error.migrate_to)
            return "moved"
        if error.blocked:
            await self._blocked(row, str(error))
            return "dropped"
        if error.transient and row.attempts < MAX_ATTEMPTS:
            await self._release(row, delay=min(2.0**row.attempts, 300.0), error=str(error))
            return "retry"
        async with self.db.uow() as uow:
            await queue_store.mark_failed(uow, row.id, str(error), forget=bool(row.payload.get("secret")))
        self.stats.failed += 1
        log.warning("message %s to %s failed for good: %s", row.id, row.chat_id, error)
        self._resolve(row.id, error)
        return "failed"

    async def _release(self, row: _Row, *, delay: float, error: str) -> None:
        """Back to the queue, not before ``delay`` seconds from now."""
        async with self.db.uow() as uow:
            await queue_store.release(uow, row.id, utcnow() + timedelta(seconds=delay), error)

    async def _blocked(self, row: _Row, error: str) -> None:
        """The recipient blocked the bot (or removed it from the group): drop what waits for that chat."""
        async with self.db.uow() as uow:
            if row.chat_kind == "private":
                await member_store.mark_unreachable(uow, row.platform, row.chat_id, row.member_id)
            dropped = await queue_store.skip_chat(uow, row.platform, row.chat_id, row.id, error)
        self.stats.skipped += dropped
        self._resolve(row.id, MessengerError(error, blocked=True))

    async def _migrated(self, row: _Row, new_chat_id: str) -> None:
        """The group became a supergroup: re-bind its room and move its queue (this message included)."""
        async with self.db.uow() as uow:
            await follow_migration(uow, row.platform, row.chat_id, new_chat_id)
            await queue_store.move_chat(uow, row.platform, row.chat_id, row.id, new_chat_id)
        self.stats.migrated += 1
        self.wake()

    def _resolve(self, row_id: int, outcome: SentMessage | MessengerError) -> None:
        future = self._waiters.get(row_id)
        if future is None or future.done():
            return
        if isinstance(outcome, MessengerError):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)

    async def _recover(self) -> None:
        """Claims left by a process that died mid-send go back to the queue (sent again: at least once)."""
        stale_before = utcnow() - timedelta(seconds=self.stale_after)
        async with self.db.uow() as uow:
            dead = await queue_store.dead_claimers(uow, self.boot_id, liveness_key) if self.shared else []
            requeued = await queue_store.requeue_claims(uow, self.boot_id, claimed_before=stale_before, dead=dead)
        if requeued:
            log.info("outbox: %s message(s) left in flight by a stopped process queued again", requeued)


def liveness_key(boot_id: str) -> int:
    return lock_key(f"outbox:{boot_id}")


class OutboxMessenger:
    """The Messenger port handlers use: sends and edits through the outbox, the rest straight through."""

    def __init__(self, inner: Messenger, dispatcher: Dispatcher) -> None:
        self.inner = inner
        self.dispatcher = dispatcher
        self.platform = inner.platform

    @property
    def bot_username(self) -> str:
        return getattr(self.inner, "bot_username", "")

    async def send(self, chat_id: str, message: OutMessage, *, reply_to: str | None = None) -> SentMessage:
        return await self.dispatcher.send(self.platform, chat_id, message, reply_to)

    async def edit(self, chat_id: str, message_id: str, message: OutMessage) -> None:
        await self.dispatcher.edit(self.platform, chat_id, message_id, message)

    async def send_photo(self, chat_id: str, file_id: str, caption: str) -> SentMessage:
        return await self.dispatcher.send(self.platform, chat_id, OutMessage(caption), photo=file_id)

    async def send_document(self, chat_id: str, filename: str, content: bytes, caption: str) -> SentMessage:
        # Secret: the row forgets the file once delivered (a council document need not stay in the queue).
        return await self.dispatcher.send(self.platform, chat_id, OutMessage(caption, secret=True),
                                          document=(filename, content))

    async def edit_rendered(
        self, chat_id: str, message_id: str, render: Callable[[], Awaitable[OutMessage | None]]
    ) -> bool:
        """An edit rendered when the outbox sends it (live messages: the state at sending time)."""
        return await self.dispatcher.edit(self.platform, chat_id, message_id, render)

    async def toast(self, press: ButtonPress, text: str, *, alert: bool = False) -> None:
        await self.inner.toast(press, text, alert=alert)  # an answer to a press, not a message

    async def is_chat_admin(self, chat_id: str, user_id: str) -> bool:
        return await self.inner.is_chat_admin(chat_id, user_id)

    async def set_commands(self, commands: list[CommandInfo], *, scope: CommandScope, language: str | None) -> None:
        await self.inner.set_commands(commands, scope=scope, language=language)
