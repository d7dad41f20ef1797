"""Photos on both Telegram runtimes through the fake Bot API: a user's photo arrives as an IncomingMessage
(its caption as the text, the largest size as the photo, the album id), and send_photo sends one by file id.
The fake itself answers as Telegram does: sendPhoto by a file id it never issued, getFile over 20 MB,
a caption over 1024 characters."""

from __future__ import annotations

import aiohttp
import pytest

from bot.chat.port import MessengerError, Photo
from bot.fakeapi import FakeTelegram
from bot.transports import Transport
from tests.transports.test_adapters import (  # noqa: F401 - fixtures
    ALICE,
    ALICE_CHAT,
    ALICE_SENDER,
    TOKEN,
    RecordingSink,
    fake,
    last_update_id,
    polling,
    runtime,
    settings,
    sink,
    transport,
)

pytestmark = pytest.mark.filterwarnings("ignore:.*retry_after:telegram.warnings.PTBDeprecationWarning")


async def test_a_photo_arrives_with_its_caption_as_text(
    fake: FakeTelegram, polling: Transport, sink: RecordingSink  # noqa: F811 - fixtures
) -> None:
    sent = fake.send_photo(ALICE, ALICE, "/report repair 3-2 lamp", size=2_000_000, width=1600, height=1200)
    update_id = last_update_id(fake)
    event = await sink.message("/report repair 3-2 lamp")
    biggest = sent.photo[-1]
    assert len(sent.photo) == 2 and sent.photo[0]["width"] < biggest["width"]  # a thumbnail, then the photo
    assert (event.update_id, event.sender, event.chat, event.message_id) == (
        update_id, ALICE_SENDER, ALICE_CHAT, str(sent.message_id))
    assert event.photos == (Photo(biggest["file_id"], biggest["file_unique_id"], 2_000_000, 1600, 1200),)
    assert event.media_group_id is None
    # An album's photo without a caption: empty text, the album's id.
    fake.send_photo(ALICE, ALICE, None, media_group_id="13579")
    other = await sink.wait_for(lambda e: getattr(e, "media_group_id", None) == "13579")
    assert getattr(other, "text", None) == "" and len(getattr(other, "photos", ())) == 1
    # The caption's command is marked as Telegram marks it.
    assert sent.caption_entities == [{"type": "bot_command", "offset": 0, "length": 7}]


async def test_send_photo_by_file_id(fake: FakeTelegram, transport: Transport) -> None:  # noqa: F811
    original = fake.send_photo(ALICE, ALICE, "look")
    file_id = original.photo[-1]["file_id"]
    sent = await transport.messenger.send_photo(str(ALICE), file_id, "R1: photo 1 of 1")
    stored = fake.message(ALICE, int(sent.message_id))
    assert stored.from_bot and stored.text is None and stored.caption == "R1: photo 1 of 1"
    assert [size["file_id"] for size in stored.photo] == [size["file_id"] for size in original.photo]
    # A file id Telegram never issued: a MessengerError, not a crash, and nothing sent.
    with pytest.raises(MessengerError) as refused:
        await transport.messenger.send_photo(str(ALICE), "AgAC-forged", "x")
    assert "wrong file identifier" in str(refused.value).lower()
    assert len(fake.messages(ALICE)) == 2


async def test_get_file_and_limits_as_telegram_has_them(fake: FakeTelegram) -> None:  # noqa: F811
    fake.add_private_chat(ALICE)
    small = fake.send_photo(ALICE, ALICE, None, size=20 * 1024 * 1024)
    big = fake.send_photo(ALICE, ALICE, None, size=20 * 1024 * 1024 + 1)
    url = f"{fake.base_url}/bot{TOKEN}"
    async with aiohttp.ClientSession() as http:
        async def call(method: str, **params: object) -> dict[str, object]:
            async with http.post(f"{url}/{method}", json=params) as response:
                return dict(await response.json())

        ok = await call("getFile", file_id=small.photo[-1]["file_id"])
        assert ok["ok"] is True and ok["result"]["file_size"] == 20 * 1024 * 1024  # type: ignore[index]
        too_big = await call("getFile", file_id=big.photo[-1]["file_id"])
        assert (too_big["error_code"], too_big["description"]) == (400, "Bad Request: file is too big")
        unknown = await call("getFile", file_id="nope")
        assert unknown["description"] == "Bad Request: invalid file_id"
        long = await call("sendPhoto", chat_id=ALICE, photo=small.photo[-1]["file_id"], caption="x" * 1025)
        assert long["description"] == "Bad Request: message caption is too long"
