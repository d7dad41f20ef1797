"""Messages the bot keeps editing (ballot turnout, proposal cards) always end on the current state.

A change *touches* its subject (a vote, a proposal); it never sends a snapshot of its own. Touched
subjects of a kind are gathered for at most the kind's interval, then every message posted for
them is marked dirty. Each dirty message has one worker and at most one edit in flight: the worker
takes the marks, renders the message from the database at the moment the outbox lets the edit go
(after the chat's and the global limits, see ``Dispatcher.edit``), and sends it; a mark made while
that edit is in flight makes it go round once more. So however presses and queued edits interleave,
on any runtime and under any limits, the last edit a chat sees was rendered after the last change
had been committed.

A kind of live message is a ``LiveKind``, registered by its feature module (bot.handlers.features),
with three functions: where its messages were posted, how one is rendered from the database, and
which subjects may be stale after a restart.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import tzinfo
from typing import Protocol

from bot.chat.port import Messenger, MessengerError, OutMessage
from bot.i18n import Translator
from bot.storage import Database
from bot.tasks import cancel_and_wait

log = logging.getLogger(__name__)


class Host(Protocol):
    """What a live kind renders with: the app's database, translator and time zone (Host has them)."""

    db: Database
    i18n: Translator
    tz: tzinfo


MAX_ATTEMPTS = 5  # tries of one refresh after a 429 or a network failure before it is given up
Render = Callable[[], Awaitable[OutMessage | None]]


@dataclass(frozen=True, slots=True)
class Post:
    """One message on a platform that shows a subject (a vote's ballot message, a proposal's card)."""

    kind: str
    subject_id: int
    platform: str
    chat_id: str
    message_id: str
    locale: str


@dataclass(frozen=True, slots=True)
class LiveKind:
    name: str
    # The messages posted for these subjects on this platform.
    posts: Callable[[Host, list[int], str], Awaitable[list[Post]]]
    # One message as the database says it should look now (None: leave it as it is).
    render: Callable[[Host, Post], Awaitable[OutMessage | None]]
    # Subjects whose messages may have missed an edit while the bot was down.
    current: Callable[[Host], Awaitable[list[int]]]



@dataclass(eq=False)
class _Message:
    post: Post
    messenger: Messenger
    wanted: int = 0  # refreshes asked for
    done: int = 0  # refreshes finished (each rendered after it was asked for)
    task: asyncio.Task[None] | None = None
    waiters: list[tuple[int, asyncio.Future[None]]] = field(default_factory=list)

    def wake(self, everyone: bool = False) -> None:
        still = []
        for target, future in self.waiters:
            if everyone or target <= self.done:
                if not future.done():
                    future.set_result(None)
            else:
                still.append((target, future))
        self.waiters = still


class LiveMessages:
    """The live messages of one process, coalesced per message."""

    def __init__(
        self, app: Host, intervals: dict[str, float] | None = None, *, kinds: dict[str, LiveKind] | None = None
    ) -> None:
        self.app = app
        self.kinds = kinds or {}  # name -> kind, from the features' registrations
        self.intervals = intervals or {}  # kind -> least seconds between two rounds (0: next loop turn)
        self.edits: Counter[str] = Counter()  # edits that went out, per kind (tests, benchmarks)
        self._touched: dict[str, dict[int, Messenger]] = {}
        self._flushers: dict[str, asyncio.Task[None]] = {}
        self._last_round: dict[str, float] = {}
        self._messages: dict[tuple[str, str, str], _Message] = {}

    @property
    def idle(self) -> bool:
        """Nothing touched, nothing being refreshed (tests wait for this before reading a message)."""
        return not any(self._touched.values()) and all(t.done() for t in self._flushers.values()) \
            and not self._messages

    # ------------------------------------------------------------------ marking

    def touch(self, kind: str, subject_id: int, messenger: Messenger) -> None:
        """The subject changed (committed): its messages are refreshed from the database soon."""
        self._touched.setdefault(kind, {})[subject_id] = messenger
        flusher = self._flushers.get(kind)
        if flusher is None or flusher.done():
            self._flushers[kind] = asyncio.create_task(self._rounds(kind), name=f"live:{kind}")

    async def refresh(self, kind: str, subject_ids: Iterable[int], messenger: Messenger) -> None:
        """Refresh now (no interval) and wait until each message was edited from a later render."""
        posts = await self.kinds[kind].posts(self.app, sorted(set(subject_ids)), messenger.platform)
        await asyncio.gather(*(self._until(*self._want(post, messenger)) for post in posts))

    async def refresh_current(self, messenger: Messenger) -> int:
        """After a start: touch every subject whose messages may be stale; how many were touched."""
        touched = 0
        for kind in list(self.kinds.values()):
            try:
                subject_ids = await kind.current(self.app)
            except Exception:  # noqa: BLE001 - one kind failing must not stop the start or the others
                log.exception("finding the %s messages to refresh at start-up failed", kind.name)
                continue
            for subject_id in subject_ids:
                self.touch(kind.name, subject_id, messenger)
                touched += 1
        return touched

    async def _rounds(self, kind: str) -> None:
        """Turn touched subjects into dirty messages, at most once per the kind's interval."""
        interval = self.intervals.get(kind, 0.0)
        while self._touched.get(kind):
            wait = self._last_round.get(kind, -math.inf) + interval - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            self._last_round[kind] = time.monotonic()
            touched = self._touched.pop(kind, {})
            by_platform: dict[int, tuple[Messenger, list[int]]] = {}
            for subject_id, messenger in touched.items():
                by_platform.setdefault(id(messenger), (messenger, []))[1].append(subject_id)
            for messenger, subject_ids in by_platform.values():
                try:
                    for post in await self.kinds[kind].posts(self.app, sorted(subject_ids), messenger.platform):
                        self._want(post, messenger)
                except Exception:  # noqa: BLE001 - a failed refresh must not surface anywhere
                    log.exception("finding the %s messages of %s failed", kind, subject_ids)

    def _want(self, post: Post, messenger: Messenger) -> tuple[_Message, int]:
        key = (post.platform, post.chat_id, post.message_id)
        state = self._messages.get(key)
        if state is None:
            state = self._messages[key] = _Message(post, messenger)
        else:
            state.post, state.messenger = post, messenger
        state.wanted += 1
        if state.task is None or state.task.done():
            state.task = asyncio.create_task(self._work(key, state), name=f"live:{key[1]}:{key[2]}")
        return state, state.wanted

    async def _until(self, state: _Message, target: int) -> None:
        if state.done >= target:
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        state.waiters.append((target, future))
        await future

    # ------------------------------------------------------------------ editing

    async def _work(self, key: tuple[str, str, str], state: _Message) -> None:
        try:
            while state.done < state.wanted:
                target = state.wanted  # marks made from here on need another round
                await self._edit(state.post, state.messenger)
                state.done = target
                state.wake()
        finally:
            if self._messages.get(key) is state and state.done >= state.wanted:
                del self._messages[key]
            state.wake(everyone=True)  # cancelled (shutting down): nobody waits for ever

    async def _edit(self, post: Post, messenger: Messenger) -> None:
        kind = self.kinds[post.kind]

        async def render() -> OutMessage | None:
            return await kind.render(self.app, post)

        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                if await edit_rendered(messenger, post.chat_id, post.message_id, render):
                    self.edits[post.kind] += 1
                return
            except MessengerError as error:
                if error.not_modified:
                    return
                if (error.retry_after or error.transient) and attempt < MAX_ATTEMPTS:
                    # The outbox already holds the chat back for retry_after; a bare messenger does not.
                    await asyncio.sleep(min(error.retry_after or 2.0**attempt, 60.0))
                    continue
                log.warning("could not refresh %s message %s in %s: %s", post.kind, post.message_id,
                            post.chat_id, error)
                return
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - a failed refresh must not surface anywhere
                log.exception("refreshing %s message %s in %s failed", post.kind, post.message_id, post.chat_id)
                return

    async def drain(self, grace: float = 5.0) -> None:
        """Stop: pending refreshes are dropped (the next start refreshes every live message).

        Edits already in hand get ``grace`` seconds to finish before they are cancelled: a task cancelled
        in the middle of a database read leaves its pooled connection to be reset by the garbage collector.
        """
        self._touched.clear()
        for state in self._messages.values():
            state.wanted = state.done  # a worker ends after the edit it is doing
        tasks = [t for t in self._flushers.values() if not t.done()]
        tasks += [s.task for s in self._messages.values() if s.task is not None and not s.task.done()]
        if tasks:
            _done, late = await asyncio.wait(tasks, timeout=grace)
            await cancel_and_wait(late)
        self._touched.clear()


async def edit_rendered(messenger: Messenger, chat_id: str, message_id: str, render: Render) -> bool:
    """Edit with a text rendered as late as possible: by the outbox when its limits let the edit go.

    False when the render had nothing to show. A messenger without the outbox renders right away.
    """
    late = getattr(messenger, "edit_rendered", None)
    if late is not None:
        return bool(await late(chat_id, message_id, render))
    message = await render()
    if message is None:
        return False
    await messenger.edit(chat_id, message_id, message)
    return True
