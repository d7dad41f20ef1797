"""Both Telegram runtimes (aiogram 3, python-telegram-bot 22) against the fake Bot API, over real HTTP.

Every test runs once per runtime: the adapters must be interchangeable.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import socket
import warnings
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest

from bot.chat.port import (
    Action,
    ButtonPress,
    Chat,
    ChatMigrated,
    CommandInfo,
    Event,
    IncomingMessage,
    MembershipChange,
    Messenger,
    MessengerError,
    OutMessage,
    Sender,
)
from bot.config import Settings
from bot.fakeapi import FakeTelegram
from bot.transports import Transport, create_transport

# PTB 22 warns inside RetryAfter.__init__ itself (the adapter reads both forms): not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:.*retry_after:telegram.warnings.PTBDeprecationWarning")

TOKEN = "123456:TEST-token"
BOT_ID = 123456
ALICE, BOB, CAROL = 1001, 1002, 1003
GROUP = -100
NEW_SUPERGROUP = -1001234567890
TIMEOUT = 5.0

ALICE_SENDER = Sender(platform="telegram", user_id=str(ALICE), display_name="Alice Li", language_code="en")
ALICE_CHAT = Chat(platform="telegram", chat_id=str(ALICE), kind="private")


class RecordingSink:
    """Records every event; replies to a few texts the way a handler would."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.release = asyncio.Event()  # what "slow" waits for
        self._arrived = asyncio.Event()

    async def feed(self, event: Event, messenger: Messenger) -> None:
        self.events.append(event)
        self._arrived.set()
        if isinstance(event, ButtonPress):
            await messenger.toast(event, f"got {event.data}", alert=event.data == "alert")
        elif isinstance(event, IncomingMessage):
            if event.text == "boom":
                raise RuntimeError("the sink exploded")
            if event.text == "ping":
                await messenger.send(event.chat.chat_id, OutMessage("pong"), reply_to=event.message_id)
            if event.text == "slow":
                await self.release.wait()
                await messenger.send(event.chat.chat_id, OutMessage("done"))

    async def wait_for(self, predicate: Callable[[Event], bool], timeout: float = TIMEOUT) -> Event:
        async def first_match() -> Event:
            while True:
                for event in self.events:
                    if predicate(event):
                        return event
                self._arrived.clear()  # no await since the scan: nothing can slip in between
                await self._arrived.wait()

        return await asyncio.wait_for(first_match(), timeout)

    async def message(self, text: str) -> IncomingMessage:
        event = await self.wait_for(lambda e: isinstance(e, IncomingMessage) and e.text == text)
        assert isinstance(event, IncomingMessage)
        return event


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def last_update_id(fake: FakeTelegram) -> int:
    # Called right after the fake enqueued it, with no await in between: the poller cannot have run.
    return int(fake.pending_updates()[-1]["update_id"])


def record_calls(fake: FakeTelegram) -> list[tuple[str, dict[str, Any]]]:
    """Every Bot API call the fake receives, with its parameters (nested ones JSON-decoded)."""
    calls: list[tuple[str, dict[str, Any]]] = []
    real = fake.call_api

    async def recording(token: str, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        decoded = {}
        for key, value in params.items():
            try:
                decoded[key] = json.loads(value) if isinstance(value, str) else value
            except ValueError:
                decoded[key] = value
        calls.append((method, decoded))
        return await real(token, method, params)

    fake.call_api = recording  # type: ignore[method-assign]
    return calls


@pytest.fixture(params=["aiogram", "ptb"])
def runtime(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram.running(webhook_retry_delay=0.05) as server:
        server.add_bot(TOKEN, "yishi_bot", "Yishi")
        server.add_user(ALICE, "Alice", username="alice", language_code="en", last_name="Li")
        server.add_user(BOB, "Bob", language_code="zh")
        server.add_user(CAROL, "Carol")
        server.add_private_chat(ALICE)
        yield server


@pytest.fixture
def settings(fake: FakeTelegram, runtime: str) -> Settings:
    return Settings(BOT_TOKEN=TOKEN, TELEGRAM_API_BASE=fake.api_base, TRANSPORT=runtime,  # type: ignore[arg-type]
                    WEBHOOK_HOST="127.0.0.1", WEBHOOK_PORT=free_port(), WEBHOOK_SECRET=None)


@pytest.fixture
def sink() -> RecordingSink:
    return RecordingSink()


@pytest.fixture
async def transport(settings: Settings, sink: RecordingSink) -> AsyncIterator[Transport]:
    started = create_transport(settings, sink)
    await started.start()
    try:
        yield started
    finally:
        await started.close()


@pytest.fixture
async def polling(transport: Transport) -> AsyncIterator[Transport]:
    stop = asyncio.Event()
    task = asyncio.create_task(transport.run_polling(stop))
    yield transport
    stop.set()
    await asyncio.wait_for(task, TIMEOUT)


# ----------------------------------------------------------------------------------- incoming


async def test_start_command_in_private_arrives_as_incoming_message(
    fake: FakeTelegram, polling: Transport, sink: RecordingSink
) -> None:
    sent = fake.send_text(ALICE, ALICE, "/start ref")
    update_id = last_update_id(fake)
    event = await sink.message("/start ref")
    assert event == IncomingMessage(update_id=update_id, sender=ALICE_SENDER, chat=ALICE_CHAT,
                                    message_id=str(sent.message_id), text="/start ref", reply_to_text=None)


async def test_group_reply_carries_the_replied_text(
    fake: FakeTelegram, polling: Transport, sink: RecordingSink
) -> None:
    fake.add_group(GROUP, "Club", members=[ALICE, BOB])
    question = await polling.messenger.send(str(GROUP), OutMessage("Who is in?"))
    fake.send_text(BOB, GROUP, "me", reply_to=int(question.message_id))
    event = await sink.message("me")
    assert event.chat == Chat(platform="telegram", chat_id=str(GROUP), kind="group", title="Club")
    assert event.sender == Sender(platform="telegram", user_id=str(BOB), display_name="Bob", language_code="zh")
    assert event.reply_to_text == "Who is in?"


async def test_press_arrives_as_button_press_and_the_toast_is_shown(
    fake: FakeTelegram, polling: Transport, sink: RecordingSink
) -> None:
    sent = await polling.messenger.send(
        str(ALICE), OutMessage("Vote?", actions=((Action("Yes", data="yes"), Action("Loud", data="alert")),))
    )
    query_id = fake.press_button(ALICE, ALICE, int(sent.message_id), "alert")
    update_id = last_update_id(fake)
    event = await sink.wait_for(lambda e: isinstance(e, ButtonPress))
    assert event == ButtonPress(update_id=update_id, sender=ALICE_SENDER, chat=ALICE_CHAT,
                                message_id=sent.message_id, press_id=query_id, data="alert",
                                buttons=("yes", "alert"))  # the pressed message's buttons, as Telegram shows them
    answer = await fake.wait_for_callback_answer(query_id, TIMEOUT)
    assert (answer.text, answer.show_alert) == ("got alert", True)


async def test_membership_changes_arrive(fake: FakeTelegram, polling: Transport, sink: RecordingSink) -> None:
    fake.block_bot(ALICE)
    blocked = await sink.wait_for(lambda e: isinstance(e, MembershipChange))
    assert blocked == MembershipChange(update_id=blocked.update_id, chat=ALICE_CHAT, sender=ALICE_SENDER,
                                       status="kicked")
    fake.add_group(GROUP, "Club", creator=BOB)
    fake.set_member(GROUP, BOT_ID, "administrator")
    promoted = await sink.wait_for(lambda e: isinstance(e, MembershipChange) and e.chat.kind == "group")
    assert isinstance(promoted, MembershipChange)
    assert (promoted.status, promoted.chat.chat_id, promoted.sender.user_id) == ("administrator", str(GROUP), str(BOB))


async def test_group_migration_arrives_and_service_messages_are_ignored(
    fake: FakeTelegram, polling: Transport, sink: RecordingSink
) -> None:
    fake.add_group(GROUP, "Club", creator=ALICE)
    fake.migrate_group(GROUP, NEW_SUPERGROUP)
    migrated = await sink.wait_for(lambda e: isinstance(e, ChatMigrated))
    assert migrated == ChatMigrated(update_id=migrated.update_id, new_chat_id=str(NEW_SUPERGROUP),
                                    chat=Chat(platform="telegram", chat_id=str(GROUP), kind="group", title="Club"))
    fake.send_text(ALICE, NEW_SUPERGROUP, "still here")
    later = await sink.message("still here")
    assert later.chat.kind == "group"  # a supergroup is a group too
    # The supergroup's own "migrated from" service message produced no event.
    assert [type(e).__name__ for e in sink.events] == ["ChatMigrated", "IncomingMessage"]


async def test_a_failing_sink_is_logged_and_the_next_update_still_handled(
    fake: FakeTelegram, polling: Transport, sink: RecordingSink, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="bot.transports")
    fake.send_text(ALICE, ALICE, "boom")
    boom_id = last_update_id(fake)
    await sink.message("boom")
    sent = fake.send_text(ALICE, ALICE, "ping")
    await sink.message("ping")
    reply = await fake.wait_for_message(ALICE, lambda m: m.from_bot and m.text == "pong", TIMEOUT)
    assert reply.reply_to is not None and reply.reply_to.message_id == sent.message_id
    failures = [r for r in caplog.records if r.exc_info and f"update {boom_id}" in r.getMessage()]
    assert len(failures) == 1 and "the sink exploded" in str(failures[0].exc_info[1])  # type: ignore[index]


# ------------------------------------------------------------------------------------ messenger


async def test_send_renders_actions_as_an_inline_keyboard(fake: FakeTelegram, transport: Transport) -> None:
    calls = record_calls(fake)
    asked = fake.send_text(ALICE, ALICE, "menu please")
    actions = ((Action("Yes", data="v:1"), Action("No", data="v:0")), (Action("Join", start="ref42"),))
    sent = await transport.messenger.send(str(ALICE), OutMessage("Pick", actions=actions),
                                          reply_to=str(asked.message_id))
    stored = fake.message(ALICE, int(sent.message_id))
    assert (sent.chat_id, stored.text) == (str(ALICE), "Pick")
    assert stored.reply_markup == {"inline_keyboard": [
        [{"text": "Yes", "callback_data": "v:1"}, {"text": "No", "callback_data": "v:0"}],
        [{"text": "Join", "url": "https://t.me/yishi_bot?start=ref42"}],
    ]}
    assert stored.reply_to is asked
    params = [p for method, p in calls if method == "sendMessage"][-1]
    assert params["link_preview_options"] == {"is_disabled": True}
    assert params["reply_parameters"]["allow_sending_without_reply"] is True

    # Replying to a message that is gone still sends; no actions means no keyboard.
    orphan = await transport.messenger.send(str(ALICE), OutMessage("Plain"), reply_to="999")
    stored = fake.message(ALICE, int(orphan.message_id))
    assert (stored.reply_to, stored.reply_markup) == (None, None)


async def test_edit_changes_in_place_and_an_identical_edit_is_fine(fake: FakeTelegram, transport: Transport) -> None:
    messenger = transport.messenger
    sent = await messenger.send(str(ALICE), OutMessage("Draft", actions=((Action("A", data="a"),),)))
    final = OutMessage("Final", actions=((Action("B", data="b"), Action("Share", start="s1")),))
    await messenger.edit(str(ALICE), sent.message_id, final)
    stored = fake.message(ALICE, int(sent.message_id))
    assert (stored.text, stored.callback_data, stored.edit_count) == ("Final", ["b"], 1)
    await messenger.edit(str(ALICE), sent.message_id, final)  # "message is not modified" is swallowed
    assert stored.edit_count == 1
    await messenger.edit(str(ALICE), sent.message_id, OutMessage("Final"))  # dropping the keyboard is a change
    assert (stored.reply_markup, stored.edit_count) == (None, 2)
    assert len(fake.messages(ALICE)) == 1


async def test_is_chat_admin(fake: FakeTelegram, transport: Transport) -> None:
    fake.add_group(GROUP, "Council", creator=ALICE, admins=[BOB], members=[CAROL], supergroup=True)
    check = transport.messenger.is_chat_admin
    assert await check(str(GROUP), str(ALICE)) is True
    assert await check(str(GROUP), str(BOB)) is True
    assert await check(str(GROUP), str(CAROL)) is False
    assert await check(str(GROUP), "424242") is False  # unknown user: an API error
    assert await check("-555", str(ALICE)) is False  # unknown chat: an API error


async def test_set_commands_per_scope_and_language(fake: FakeTelegram, transport: Transport) -> None:
    messenger = transport.messenger
    await messenger.set_commands([CommandInfo("start", "开始")], scope="private", language="zh_CN")
    await messenger.set_commands([CommandInfo("vote", "Vote")], scope="groups", language=None)
    await messenger.set_commands([CommandInfo("admin", "Admin"), CommandInfo("help", "Help")],
                                 scope="group_admins", language="en")
    assert fake.commands(scope={"type": "all_private_chats"}, language_code="zh") == [
        {"command": "start", "description": "开始"}]
    assert fake.commands(scope={"type": "all_private_chats"}) == []
    assert fake.commands(scope={"type": "all_group_chats"}) == [{"command": "vote", "description": "Vote"}]
    assert [c["command"] for c in fake.commands(scope={"type": "all_chat_administrators"}, language_code="en")] == [
        "admin", "help"]


async def test_api_errors_become_messenger_errors(fake: FakeTelegram, transport: Transport) -> None:
    messenger = transport.messenger
    fake.inject_retry_after(7, chat_id=ALICE)
    with pytest.raises(MessengerError) as slow_down:
        await messenger.send(str(ALICE), OutMessage("first"))
    assert (slow_down.value.retry_after, slow_down.value.blocked) == (7.0, False)
    await messenger.send(str(ALICE), OutMessage("second"))  # the injection is used up

    fake.block_bot(ALICE)
    with pytest.raises(MessengerError) as blocked:
        await messenger.send(str(ALICE), OutMessage("still there?"))
    assert blocked.value.blocked and blocked.value.retry_after is None

    fake.add_group(GROUP, "Club", creator=BOB)
    fake.migrate_group(GROUP, NEW_SUPERGROUP)
    with pytest.raises(MessengerError) as moved:
        await messenger.send(str(GROUP), OutMessage("hello"))
    assert moved.value.migrate_to == str(NEW_SUPERGROUP)

    with pytest.raises(MessengerError, match="(?i)message to edit not found") as missing:
        await messenger.edit(str(NEW_SUPERGROUP), "999", OutMessage("x"))
    error = missing.value
    assert (error.retry_after, error.blocked, error.migrate_to, error.not_modified) == (None, False, None, False)


# ---------------------------------------------------------------------------------- lifecycle


@pytest.mark.parametrize("secret", [None, "s3cret-Token_1"])
async def test_webhook_delivers_with_the_secret_and_rejects_a_wrong_one(
    fake: FakeTelegram, settings: Settings, sink: RecordingSink, secret: str | None
) -> None:
    settings = settings.model_copy(update={"WEBHOOK_SECRET": secret})
    transport = create_transport(settings, sink)
    await transport.start()
    url = f"http://127.0.0.1:{settings.WEBHOOK_PORT}/telegram/hook"
    stop = asyncio.Event()
    task = asyncio.create_task(transport.run_webhook(url, stop))
    try:
        await fake.wait_for(lambda: fake.webhook() is not None or task.done(), TIMEOUT)
        hook = fake.webhook()
        assert hook is not None and hook.url == url
        assert hook.secret_token == secret if secret else len(hook.secret_token or "") >= 32

        fake.send_text(ALICE, ALICE, "/start hooked")
        update_id = last_update_id(fake)
        event = await sink.message("/start hooked")
        assert (event.update_id, event.sender, event.chat) == (update_id, ALICE_SENDER, ALICE_CHAT)

        forged = {"update_id": 999_999, "message": {"message_id": 77, "date": 0, "text": "forged",
                                                    "chat": {"id": ALICE, "type": "private"},
                                                    "from": {"id": ALICE, "is_bot": False, "first_name": "A"}}}
        async with aiohttp.ClientSession() as http:
            for headers in ({"X-Telegram-Bot-Api-Secret-Token": "wrong"}, {}):
                async with http.post(url, json=forged, headers=headers) as response:
                    assert response.status in (401, 403)
        fake.send_text(ALICE, ALICE, "after the forgery")
        await sink.message("after the forgery")
        assert not any(isinstance(e, IncomingMessage) and e.text == "forged" for e in sink.events)
    finally:
        stop.set()
        await asyncio.wait_for(task, TIMEOUT)
        await transport.close()
    assert fake.webhook() is None  # deleted on stop


async def test_polling_stops_cleanly_after_finishing_updates_in_hand(
    fake: FakeTelegram, settings: Settings, sink: RecordingSink
) -> None:
    loop = asyncio.get_running_loop()
    loop_errors: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _, context: loop_errors.append(context))
    before = asyncio.all_tasks()
    transport: Transport | None = create_transport(settings, sink)
    assert transport is not None
    await transport.start()
    stop = asyncio.Event()
    task = asyncio.create_task(transport.run_polling(stop))
    try:
        fake.send_text(ALICE, ALICE, "slow")
        await sink.message("slow")
        stop.set()
        done, _ = await asyncio.wait({task}, timeout=0.2)
        assert not done, "polling returned while an update was still being handled"
        sink.release.set()
        await asyncio.wait_for(task, TIMEOUT)
        # The handler was allowed to finish, not cancelled.
        assert [m.text for m in fake.messages(ALICE) if m.from_bot] == ["done"]
    finally:
        sink.release.set()
        stop.set()
        await asyncio.wait_for(task, TIMEOUT)
        await transport.close()

    transport = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gc.collect()
    loop.set_exception_handler(None)
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)]
    assert not [c for c in loop_errors if "nclosed" in str(c.get("message"))]
    # The fake's own request handlers (e.g. the long poll the client dropped) are not the transport's.
    leftover = [t for t in asyncio.all_tasks() - before
                if not t.done() and t.get_coro().__qualname__ != "RequestHandler.start"]  # type: ignore[union-attr]
    assert leftover == [], leftover


async def test_a_stop_set_before_polling_starts_returns_promptly(transport: Transport) -> None:
    stop = asyncio.Event()
    stop.set()
    await asyncio.wait_for(transport.run_polling(stop), TIMEOUT)
    stop.clear()  # and polling can start again afterwards
    task = asyncio.create_task(transport.run_polling(stop))
    stop.set()
    await asyncio.wait_for(task, TIMEOUT)
