"""The fake Bot API driven by the real clients: aiogram 3 and python-telegram-bot 22, over real HTTP."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
import telegram
import telegram.error
from aiogram import Bot, Dispatcher, F, Router
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramConflictError,
    TelegramForbiddenError,
    TelegramMigrateToChat,
    TelegramRetryAfter,
    TelegramUnauthorizedError,
)
from aiogram.filters import Command
from aiogram.types import (
    BotCommand,
    BotCommandScopeChat,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
)
from aiohttp import web
from telegram.ext import Application, CommandHandler, ContextTypes, MessageHandler, filters

from bot.fakeapi import FakeTelegram, FloodLimits, WebhookConfig

pytestmark = pytest.mark.asyncio

TOKEN = "123456:TEST-token"
ALICE = 1001
BOB = 1002
GROUP = -100


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram.running(webhook_retry_delay=0.05) as server:
        server.add_bot(TOKEN, "yishi_bot", "Yishi")
        server.add_user(ALICE, "Alice", username="alice", language_code="en")
        server.add_user(BOB, "Bob", language_code="zh")
        yield server


def aiogram_bot(fake: FakeTelegram, token: str = TOKEN) -> Bot:
    return Bot(token, session=AiohttpSession(api=TelegramAPIServer.from_base(fake.api_base)))


async def close_aiogram(bot: Bot) -> None:
    # AiohttpSession.close() sleeps 250 ms for TLS shutdown; plain HTTP to the fake needs none,
    # so close the underlying aiohttp session directly (close() is then a no-op).
    await (await bot.session.create_session()).close()
    await bot.session.close()


@pytest_asyncio.fixture
async def ag(fake: FakeTelegram) -> AsyncIterator[Bot]:
    bot = aiogram_bot(fake)
    yield bot
    await close_aiogram(bot)


@pytest_asyncio.fixture
async def ptb(fake: FakeTelegram) -> AsyncIterator[telegram.Bot]:
    async with telegram.Bot(TOKEN, base_url=f"{fake.api_base}/bot") as bot:
        yield bot


def keyboard(*data: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text=f"Option {d}", callback_data=d)] for d in data]
    )


async def test_get_me_from_both_clients(ag: Bot, ptb: telegram.Bot) -> None:
    me = await ag.get_me()
    assert (me.id, me.username, me.is_bot, me.first_name) == (123456, "yishi_bot", True, "Yishi")
    assert ptb.username == "yishi_bot"  # PTB's initialize() already called getMe
    assert (await ptb.get_me()).id == 123456


async def test_unknown_token_is_401_and_unknown_method_is_404(fake: FakeTelegram) -> None:
    stranger = aiogram_bot(fake, "999:nope")
    try:
        with pytest.raises(TelegramUnauthorizedError):
            await stranger.get_me()
    finally:
        await close_aiogram(stranger)
    with pytest.raises(telegram.error.InvalidToken):
        async with telegram.Bot("999:nope", base_url=f"{fake.api_base}/bot"):
            pass
    async with telegram.Bot(TOKEN, base_url=f"{fake.api_base}/bot") as bot:
        with pytest.raises(telegram.error.EndPointNotFound):
            await bot.do_api_request("sendTelepathy", api_kwargs={"chat_id": ALICE})
    assert fake.stats.errors[401] == 2
    assert fake.stats.errors[404] == 1


async def test_aiogram_polling_echo_round_trip(fake: FakeTelegram, ag: Bot) -> None:
    router = Router()

    @router.message(Command("start"))
    async def start(message: Message) -> None:
        await message.answer("welcome")

    @router.message(F.text)
    async def echo(message: Message) -> None:
        await message.reply(f"echo: {message.text}")

    dp = Dispatcher()
    dp.include_router(router)
    polling = asyncio.create_task(
        dp.start_polling(ag, handle_signals=False, polling_timeout=1, close_bot_session=False)
    )
    try:
        sent = fake.send_text(ALICE, ALICE, "/start@yishi_bot")
        reply = await fake.wait_for_message(ALICE, after=sent.message_id)
        assert reply.text == "welcome"

        sent = fake.send_text(ALICE, ALICE, "hello")
        reply = await fake.wait_for_message(ALICE, after=sent.message_id)
        assert reply.text == "echo: hello"
        assert reply.reply_to is sent and reply.from_bot
        assert [m.message_id for m in fake.messages(ALICE)] == [1, 2, 3, 4]
    finally:
        await dp.stop_polling()
        await polling
    # aiogram confirmed what it handled; only its final unconfirmed batch may remain.
    assert all(u["update_id"] >= 2 for u in fake.pending_updates())


async def test_ptb_application_polling_echo_round_trip(fake: FakeTelegram) -> None:
    async def start(update: telegram.Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text("welcome")

    async def echo(update: telegram.Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text(f"echo: {update.effective_message.text}")

    app = Application.builder().token(TOKEN).base_url(f"{fake.api_base}/bot").build()
    app.add_handler(CommandHandler("start", start))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(timeout=1, poll_interval=0)
        try:
            sent = fake.send_text(BOB, BOB, "/start@yishi_bot")
            assert (await fake.wait_for_message(BOB, after=sent.message_id)).text == "welcome"
            sent = fake.send_text(BOB, BOB, "你好")
            reply = await fake.wait_for_message(BOB, after=sent.message_id)
            assert reply.text == "echo: 你好"
        finally:
            await app.updater.stop()
            await app.stop()
    # PTB confirms the last batch on shutdown, so nothing is left to redeliver.
    assert fake.pending_updates() == []


async def test_unconfirmed_updates_are_redelivered(fake: FakeTelegram, ag: Bot) -> None:
    fake.send_text(ALICE, ALICE, "one")
    fake.send_text(ALICE, ALICE, "two")
    first = await ag.get_updates()
    again = await ag.get_updates()  # no offset: nothing was confirmed
    assert [u.message.text for u in first if u.message] == ["one", "two"]
    assert [u.update_id for u in again] == [u.update_id for u in first]

    rest = await ag.get_updates(offset=first[0].update_id + 1)
    assert [u.update_id for u in rest] == [first[1].update_id]
    assert await ag.get_updates(offset=first[1].update_id + 1, timeout=0) == []
    assert fake.pending_updates() == []

    limited = fake.send_text(ALICE, ALICE, "three"), fake.send_text(ALICE, ALICE, "four")
    assert len(limited) == 2 and len(await ag.get_updates(limit=1)) == 1


async def test_long_poll_returns_as_soon_as_an_update_arrives(fake: FakeTelegram, ag: Bot) -> None:
    started = time.monotonic()
    poll = asyncio.create_task(ag.get_updates(timeout=10))
    await asyncio.sleep(0.05)
    assert not poll.done()
    fake.send_text(ALICE, ALICE, "wake up")
    updates = await asyncio.wait_for(poll, 8)
    assert updates[0].message and updates[0].message.text == "wake up"
    assert time.monotonic() - started < 9  # well before the poll's own 10 s


async def test_second_poller_terminates_the_first_with_409(fake: FakeTelegram, ag: Bot) -> None:
    # aiogram, not PTB: PTB serialises its own getUpdates calls through a one-connection pool.
    first = asyncio.create_task(ag.get_updates(timeout=5))
    await asyncio.sleep(0.05)
    second = asyncio.create_task(ag.get_updates(timeout=0))
    with pytest.raises(TelegramConflictError, match="terminated by other getUpdates"):
        await first
    assert await second == []


async def test_keyboard_press_answer_and_edit_flow(fake: FakeTelegram, ag: Bot) -> None:
    router = Router()

    @router.message(Command("menu"))
    async def menu(message: Message) -> None:
        await message.answer("Pick one", reply_markup=keyboard("a", "b"))

    @router.callback_query()
    async def picked(query: CallbackQuery) -> None:
        assert isinstance(query.message, Message)
        await query.answer(f"Saved {query.data}", show_alert=query.data == "b")
        await query.message.edit_text(f"You picked {query.data}")

    dp = Dispatcher()
    dp.include_router(router)
    polling = asyncio.create_task(
        dp.start_polling(ag, handle_signals=False, polling_timeout=1, close_bot_session=False)
    )
    try:
        fake.send_text(ALICE, ALICE, "/menu")
        shown = await fake.wait_for_message(ALICE, lambda m: bool(m.buttons))
        assert shown.callback_data == ["a", "b"]

        query_id = fake.press_button(ALICE, ALICE, shown.message_id, "b")
        answer = await fake.wait_for_callback_answer(query_id)
        assert (answer.text, answer.show_alert, answer.user_id) == ("Saved b", True, ALICE)

        edited = await fake.wait_for_message(
            ALICE, lambda m: m.message_id == shown.message_id and m.edit_count == 1
        )
        # editMessageText without reply_markup removes the keyboard, as on Telegram.
        assert (edited.text, edited.reply_markup, edited.edit_history) == ("You picked b", None, ["Pick one"])
        with pytest.raises(Exception, match="no button"):
            fake.press_button(ALICE, ALICE, shown.message_id, "a")
    finally:
        await dp.stop_polling()
        await polling

    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await ag.edit_message_text(chat_id=ALICE, message_id=shown.message_id, text="You picked b")
    with pytest.raises(TelegramBadRequest, match="query is too old"):
        await ag.answer_callback_query(query_id, text="again")
    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await ag.edit_message_text(chat_id=ALICE, message_id=999, text="x")
    with pytest.raises(TelegramBadRequest, match="message can't be edited"):
        await ag.edit_message_text(chat_id=ALICE, message_id=1, text="x")  # Alice's /menu


async def test_edit_reply_markup_and_not_modified_with_ptb(fake: FakeTelegram, ptb: telegram.Bot) -> None:
    fake.send_text(ALICE, ALICE, "hi")
    markup = telegram.InlineKeyboardMarkup([[telegram.InlineKeyboardButton("Go", callback_data="go")]])
    sent = await ptb.send_message(ALICE, "<b>Menu</b>", parse_mode="HTML", reply_markup=markup)
    assert sent.text == "Menu" and sent.entities[0].type == "bold"
    assert fake.message(ALICE, sent.message_id).callback_data == ["go"]

    await ptb.edit_message_reply_markup(ALICE, sent.message_id, reply_markup=None)
    assert fake.message(ALICE, sent.message_id).reply_markup is None
    with pytest.raises(telegram.error.BadRequest, match="Message is not modified"):
        await ptb.edit_message_reply_markup(ALICE, sent.message_id, reply_markup=None)
    # Same parsed text and entities via a different markup language: still "not modified".
    with pytest.raises(telegram.error.BadRequest, match="Message is not modified"):
        await ptb.edit_message_text("*Menu*", ALICE, sent.message_id, parse_mode="MarkdownV2")


async def test_text_length_and_emptiness(fake: FakeTelegram, ag: Bot, ptb: telegram.Bot) -> None:
    fake.send_text(ALICE, ALICE, "hi")
    assert (await ag.send_message(ALICE, "x" * 4096)).text == "x" * 4096
    with pytest.raises(TelegramBadRequest, match="message is too long"):
        await ag.send_message(ALICE, "x" * 4097)
    with pytest.raises(telegram.error.BadRequest, match="Message is too long"):
        await ptb.send_message(ALICE, "x" * 4097)
    # Telegram counts UTF-16 code units: 2049 emoji are 4098 units.
    with pytest.raises(TelegramBadRequest, match="message is too long"):
        await ag.send_message(ALICE, "😀" * 2049)
    with pytest.raises(TelegramBadRequest, match="message text is empty"):
        await ag.send_message(ALICE, "")
    with pytest.raises(telegram.error.BadRequest, match="Can't parse entities: character '.' is reserved"):
        await ptb.send_message(ALICE, "Done.", parse_mode="MarkdownV2")


async def test_callback_data_is_limited_to_64_bytes(fake: FakeTelegram, ag: Bot, ptb: telegram.Bot) -> None:
    fake.send_text(ALICE, ALICE, "hi")
    fits, too_long = "选" * 21, "选" * 22  # 63 and 66 UTF-8 bytes
    assert (await ag.send_message(ALICE, "ok", reply_markup=keyboard(fits))).reply_markup is not None
    with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
        await ag.send_message(ALICE, "no", reply_markup=keyboard(too_long))
    markup = telegram.InlineKeyboardMarkup([[telegram.InlineKeyboardButton("x", callback_data=too_long)]])
    with pytest.raises(telegram.error.BadRequest, match="Button_data_invalid"):
        await ptb.send_message(ALICE, "no", reply_markup=markup)


async def test_injected_429_surfaces_as_retry_after(
    fake: FakeTelegram, ag: Bot, ptb: telegram.Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")  # read retry_after as timedelta, no deprecation
    fake.send_text(ALICE, ALICE, "hi")
    fake.inject_retry_after(7, chat_id=ALICE)
    with pytest.raises(TelegramRetryAfter) as aiogram_error:
        await ag.send_message(ALICE, "first")
    assert aiogram_error.value.retry_after == 7
    await ag.send_message(ALICE, "second")  # the injection was used up

    fake.inject_retry_after(3, count=2)
    for _ in range(2):
        with pytest.raises(telegram.error.RetryAfter) as ptb_error:
            await ptb.send_message(ALICE, "third")
        assert ptb_error.value.retry_after == dt.timedelta(seconds=3)
    assert fake.stats.too_many_requests == 3
    assert fake.stats.calls["sendMessage"] == 4


async def test_blocked_user_gives_403_and_my_chat_member(
    fake: FakeTelegram, ag: Bot, ptb: telegram.Bot
) -> None:
    fake.send_text(ALICE, ALICE, "hi")
    fake.block_bot(ALICE)
    update = fake.pending_updates()[-1]["my_chat_member"]
    assert (update["old_chat_member"]["status"], update["new_chat_member"]["status"]) == ("member", "kicked")

    with pytest.raises(TelegramForbiddenError, match="bot was blocked by the user"):
        await ag.send_message(ALICE, "still there?")
    with pytest.raises(telegram.error.Forbidden, match="bot was blocked by the user"):
        await ptb.send_message(ALICE, "still there?")
    updates = await ptb.get_updates()
    assert updates[-1].my_chat_member is not None
    assert updates[-1].my_chat_member.new_chat_member.status == "kicked"

    fake.send_text(ALICE, ALICE, "/start")  # writing again unblocks, like pressing Restart
    assert not fake.is_blocked(ALICE)
    assert (await ag.send_message(ALICE, "welcome back")).text == "welcome back"
    with pytest.raises(TelegramForbiddenError, match="can't initiate conversation"):
        await ag.send_message(BOB, "hello stranger")


async def test_commands_are_stored_per_scope_and_language(
    fake: FakeTelegram, ag: Bot, ptb: telegram.Bot
) -> None:
    await ag.set_my_commands([BotCommand(command="start", description="Start")])
    await ag.set_my_commands([BotCommand(command="start", description="开始")], language_code="zh")
    await ptb.set_my_commands([("help", "Hilfe")], language_code="de")
    fake.add_group(GROUP, "Club", members=[ALICE])
    await ag.set_my_commands(
        [BotCommand(command="vote", description="Vote")], scope=BotCommandScopeChat(chat_id=GROUP)
    )

    assert [c.description for c in await ag.get_my_commands()] == ["Start"]
    assert [c.description for c in await ag.get_my_commands(language_code="zh")] == ["开始"]
    assert [(c.command, c.description) for c in await ptb.get_my_commands(language_code="de")] == [
        ("help", "Hilfe")
    ]
    assert await ag.get_my_commands(language_code="fr") == []  # no fallback in getMyCommands
    assert fake.commands(scope={"type": "chat", "chat_id": GROUP}) == [
        {"command": "vote", "description": "Vote"}
    ]

    await ptb.delete_my_commands(language_code="zh")
    assert fake.commands(language_code="zh") == []
    with pytest.raises(TelegramBadRequest, match="BOT_COMMAND_INVALID"):
        await ag.set_my_commands([BotCommand(command="Bad Command", description="x")])


async def test_group_members_admins_and_get_chat(fake: FakeTelegram, ag: Bot, ptb: telegram.Bot) -> None:
    fake.add_group(GROUP, "Club", creator=ALICE, admins=[BOB], supergroup=True)
    fake.send_text(ALICE, ALICE, "hi")

    admins = await ag.get_chat_administrators(GROUP)
    assert sorted((a.user.id, a.status) for a in admins) == [(ALICE, "creator"), (BOB, "administrator")]
    member = await ptb.get_chat_member(GROUP, 123456)
    assert member.status == "member" and member.user.is_bot
    assert (await ag.get_chat_member(GROUP, BOB)).status == "administrator"

    chat = await ag.get_chat(GROUP)
    assert (chat.type, chat.title) == ("supergroup", "Club")
    private = await ptb.get_chat(ALICE)
    assert (private.type, private.first_name, private.username) == ("private", "Alice", "alice")
    with pytest.raises(TelegramBadRequest, match="chat not found"):
        await ag.get_chat(-555)

    fake.set_member(GROUP, BOB, "left")
    assert (await ptb.get_chat_member(GROUP, BOB)).status == "left"
    fake.set_member(GROUP, 123456, "kicked")
    with pytest.raises(TelegramForbiddenError, match="kicked from the supergroup chat"):
        await ag.send_message(GROUP, "hello?")


async def test_group_messages_reach_the_bot_with_command_entities(
    fake: FakeTelegram, ptb: telegram.Bot
) -> None:
    fake.add_group(GROUP, "Club", members=[ALICE, BOB])
    fake.send_text(BOB, GROUP, "/vote@yishi_bot yes")
    update = (await ptb.get_updates())[0]
    assert update.message is not None and update.message.chat.type == "group"
    assert update.message.parse_entities(["bot_command"]).popitem()[1] == "/vote@yishi_bot"
    reply = await ptb.send_message(GROUP, "Counted", reply_to_message_id=update.message.message_id)
    assert reply.reply_to_message is not None and reply.reply_to_message.from_user.id == BOB
    with pytest.raises(telegram.error.BadRequest, match="Message to be replied not found"):
        await ptb.send_message(GROUP, "x", reply_parameters=telegram.ReplyParameters(999))


async def test_webhook_delivery_with_secret_token(fake: FakeTelegram, ag: Bot) -> None:
    received: list[tuple[str | None, dict[str, Any]]] = []
    failures = [1]  # the first delivery fails, to exercise retry and last_error_message

    async def hook(request: web.Request) -> web.Response:
        if failures:
            failures.pop()
            return web.Response(status=500)
        update = await request.json()
        received.append((request.headers.get("X-Telegram-Bot-Api-Secret-Token"), update))
        # Answering with a method in the body makes Telegram run it on the bot's behalf.
        chat_id = update["message"]["chat"]["id"]
        return web.json_response({"method": "sendMessage", "chat_id": chat_id, "text": "via webhook"})

    receiver = web.Application()
    receiver.router.add_post("/hook", hook)
    runner = web.AppRunner(receiver)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        await ag.set_webhook(f"http://127.0.0.1:{port}/hook", secret_token="s3cret-Token_1")
        with pytest.raises(TelegramConflictError, match="webhook is active"):
            await ag.get_updates()

        sent = fake.send_text(ALICE, ALICE, "over the hook")
        reply = await fake.wait_for_message(ALICE, after=sent.message_id)
        assert reply.text == "via webhook"
        assert received[0][0] == "s3cret-Token_1"
        assert received[0][1]["message"]["text"] == "over the hook"

        info = await ag.get_webhook_info()
        assert info.url.endswith("/hook") and info.pending_update_count == 0
        assert info.last_error_message == "Wrong response from the webhook: 500 Internal Server Error"

        await ag.delete_webhook()
        fake.send_text(ALICE, ALICE, "back to polling")
        assert [u.message.text for u in await ag.get_updates() if u.message] == ["back to polling"]
    finally:
        await runner.cleanup()


async def test_group_migration_error_carries_new_chat_id(
    fake: FakeTelegram, ag: Bot, ptb: telegram.Bot
) -> None:
    fake.add_group(GROUP, "Club", creator=ALICE)
    new_id = -1001234567890
    fake.migrate_group(GROUP, new_id)

    with pytest.raises(TelegramMigrateToChat) as aiogram_error:
        await ag.send_message(GROUP, "hello")
    assert aiogram_error.value.migrate_to_chat_id == new_id
    with pytest.raises(telegram.error.ChatMigrated) as ptb_error:
        await ptb.send_message(GROUP, "hello")
    assert ptb_error.value.new_chat_id == new_id

    updates = await ptb.get_updates()
    assert [(u.message.chat.id, u.message.migrate_to_chat_id) for u in updates if u.message][0] == (
        GROUP,
        new_id,
    )
    assert (await ag.send_message(new_id, "hello again")).chat.type == "supergroup"


async def test_flood_limit_rejects_a_private_burst(fake: FakeTelegram, ag: Bot) -> None:
    fake.send_text(ALICE, ALICE, "hi")
    fake.enable_flood_limits(FloodLimits(private_per_second=1.0, private_burst=3))
    outcomes: list[int] = []
    for n in range(5):
        try:
            await ag.send_message(ALICE, f"burst {n}")
            outcomes.append(0)
        except TelegramRetryAfter as error:
            outcomes.append(error.retry_after)
    assert outcomes == [0, 0, 0, 1, 1]
    assert fake.stats.too_many_requests == 2
    assert len(fake.messages(ALICE)) == 4  # rejected sends leave no trace


async def test_flood_limits_for_groups_and_overall_follow_the_clock() -> None:
    now = [1000.0]
    async with FakeTelegram.running(flood_limits=FloodLimits(), clock=lambda: now[0]) as fake:
        fake.add_bot(TOKEN, "yishi_bot")
        fake.add_user(ALICE, "Alice")
        fake.add_group(GROUP, "Club", members=[ALICE])

        async def send(chat_id: int) -> tuple[int, dict[str, Any]]:
            return await fake.call_api(TOKEN, "sendMessage", {"chat_id": chat_id, "text": "x"})

        for _ in range(20):
            assert (await send(GROUP))[0] == 200
            now[0] += 0.5
        status, body = await send(GROUP)  # 21st message within a minute
        assert status == 429 and body["parameters"]["retry_after"] == 50
        now[0] += 50
        assert (await send(GROUP))[0] == 200

        for user_id in range(2000, 2031):
            fake.add_user(user_id, f"U{user_id}")
            fake.add_private_chat(user_id)
        results = [(await send(user_id))[0] for user_id in range(2000, 2031)]
        assert results.count(200) == 29 and results[-1] == 429  # 30 per second overall


async def test_aiogram_webhook_handler_replies_through_the_response(fake: FakeTelegram, ag: Bot) -> None:
    from aiogram.methods import SendMessage
    from aiogram.webhook.aiohttp_server import SimpleRequestHandler

    router = Router()

    @router.message()
    async def echo(message: Message) -> SendMessage:
        # Returned, not awaited: aiogram puts the call in the webhook response (multipart form).
        return message.answer(f"hooked: {message.text}")

    dp = Dispatcher()
    dp.include_router(router)
    receiver = web.Application()
    SimpleRequestHandler(dp, ag, secret_token="abc", handle_in_background=False).register(receiver, "/hook")
    runner = web.AppRunner(receiver)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        await ag.set_webhook(f"http://127.0.0.1:{runner.addresses[0][1]}/hook", secret_token="abc")
        sent = fake.send_text(ALICE, ALICE, "ping")
        reply = await fake.wait_for_message(ALICE, after=sent.message_id)
        assert reply.text == "hooked: ping"

        await ag.set_webhook(f"http://127.0.0.1:{runner.addresses[0][1]}/hook", secret_token="wrong")
        fake.send_text(ALICE, ALICE, "rejected")  # aiogram answers 401 to a bad secret
        await fake.wait_for(lambda: (fake.webhook() or WebhookConfig("")).last_error_message is not None)
        assert "401" in str(fake.webhook().last_error_message)  # type: ignore[union-attr]
    finally:
        await ag.delete_webhook()
        await runner.cleanup()
