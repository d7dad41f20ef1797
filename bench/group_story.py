"""The sample compound's elevator story in one busy group, under Telegram's real limits.

Twelve owners of unit 3-2 of 幸福里 and a council member share one group room. They register (in
private), bind the room, propose an elevator, meet the duplicate check, co-sign by button and by
command, look things up (/show, /help, /me, /results), get refused (/accept by an owner), accept,
vote by button, close and read the result. The bot runs on a real runtime over HTTP to the in-repo
fake Bot API, which enforces Telegram's flood limits, with the outbox's default limits (``Limits()``:
30 messages/s overall, 1/s per chat, 20/min per group).

Printed per runtime: the number of messages the bot posted in the group and in private chats, and
the latency (command sent -> its group message arrived) of every group message a command needs:
p50, p95 and max. Targets: p95 <= 2 s, group messages <= 15 for the whole story.

Run:  .venv/bin/python bench/group_story.py [--runtimes aiogram,ptb]
``play`` is also used by tests/e2e/test_group_story.py, which asserts the counts (not the timing).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TOKEN = "123456:story-token"
GROUP = -1003200
MODERATOR = 9000
ROOMS = ["101", "102", "201", "202", "301", "302", "401", "402", "501", "502", "601", "602"]
OWNERS = {room: 3200 + i for i, room in enumerate(ROOMS, start=1)}
TIMEOUT = 60.0


@dataclass
class Figures:
    group_messages: int = 0  # new messages the bot posted in the group (edits not counted)
    private_messages: int = 0  # messages the bot sent to the 13 people's private chats
    group_latencies: list[float] = field(default_factory=list)  # seconds, per group message a command needed
    steps: list[str] = field(default_factory=list)

    def percentile(self, share: float) -> float:
        ordered = sorted(self.group_latencies)
        if not ordered:
            return 0.0
        return ordered[min(len(ordered) - 1, max(0, math.ceil(share * len(ordered)) - 1))]


async def play(fake: Any, codes: dict[str, str], *, group: int = GROUP, owners: dict[str, int] | None = None,
               moderator: int = MODERATOR) -> Figures:
    """Play the story against a running bot; ``codes`` maps 3-2-<room> to its invite code."""
    owners = owners or OWNERS
    people = [moderator, *owners.values()]
    figures = Figures()

    def last(chat: int) -> int:
        message = fake.last_message(chat)
        return message.message_id if message is not None else 0

    def bot_count(chat: int) -> int:
        return sum(1 for m in fake.messages(chat) if m.from_bot)

    group_before = bot_count(group)
    private_before = sum(bot_count(p) for p in people)

    async def public(user: int, text: str) -> Any:
        """A command whose answer the whole room needs: timed until it is in the group."""
        started = time.perf_counter()
        sent = fake.send_text(user, group, text)
        message = await fake.wait_for_message(group, lambda m: m.from_bot, TIMEOUT, after=sent.message_id)
        figures.group_latencies.append(time.perf_counter() - started)
        figures.steps.append(text.split("\n")[0])
        return message

    async def personal(user: int, text: str, chat: int | None = None) -> Any:
        """A command answered to the person alone: in private."""
        mark = last(user)
        fake.send_text(user, group if chat is None else chat, text)
        return await fake.wait_for_message(user, lambda m: m.from_bot, TIMEOUT, after=mark)

    async def press(user: int, chat: int, message: Any, data: str) -> str:
        query = fake.press_button(user, chat, message.message_id, data)
        answer = await fake.wait_for_callback_answer(query, timeout=TIMEOUT)
        return str(answer.text or "")

    def button(message: Any, prefix: str) -> str:
        return next(d for d in message.callback_data if d.startswith(prefix))

    # Everyone registers in private with the code on their notice.
    for room, user in owners.items():
        await personal(user, f"/start reg_{codes['3-2-' + room]}", chat=user)
    await public(moderator, "/bind 3-2")
    card = await public(owners["101"], "/propose 3号楼2单元加装电梯\n六楼老人上下楼太难，申请加装电梯。")
    offer = await personal(owners["102"], "/propose 三号楼二单元申请装电梯")
    await press(owners["102"], owners["102"], offer, button(offer, "v1:dup:"))  # supports #1 instead
    for room in ("201", "202"):
        await press(owners[room], group, card, button(card, "v1:s:"))
    await personal(owners["301"], "/support 1")
    await personal(owners["201"], "/support 1")  # again: "already co-signed"
    await personal(owners["401"], "/show 1")
    await personal(owners["402"], "/help")
    await personal(owners["501"], "/me")
    await personal(owners["502"], "/accept 1")  # refused: council only
    await public(moderator, "/accept 1")
    ballot = await public(moderator, "/vote 1 elevator 10d")
    for index, (room, user) in enumerate(owners.items()):
        position = "n" if room in ("101", "102") else "a" if index == 11 else "y"
        await press(user, group, ballot, f"v1:b:1:{position}")
    await personal(owners["601"], "/results 1")
    await public(moderator, "/close 1")
    await personal(owners["602"], "/results 1")
    # Let the last edits and notices go out before counting.
    await asyncio.sleep(1.0)
    figures.group_messages = bot_count(group) - group_before
    figures.private_messages = sum(bot_count(p) for p in people) - private_before
    return figures


async def run(runtime: str) -> dict[str, Any]:
    from bot.config import load_settings
    from bot.fakeapi import FakeTelegram
    from bot.fakeapi.server import FloodLimits
    from bot.handlers.app import Yishi
    from bot.i18n import Translator
    from bot.outbox.dispatcher import Dispatcher
    from bot.outbox.limits import Limits
    from bot.services.census import import_census, issue_codes
    from bot.services.council import add_council_member
    from bot.storage import Database
    from bot.storage.migrate import upgrade
    from bot.transports import create_transport

    workdir = Path(tempfile.mkdtemp(prefix="yishi-story-"))
    url = f"sqlite+aiosqlite:///{workdir / 'story.db'}"
    await asyncio.to_thread(upgrade, url)
    db = Database(url)
    census = (ROOT / "data" / "sample" / "census-sample.csv").read_text(encoding="utf-8")
    await import_census(db, "幸福里", census)
    await add_council_member(db, "幸福里", "telegram", str(MODERATOR))
    codes = {f"{c.building}-{c.unit}-{c.room}": c.code for c in await issue_codes(db, "幸福里")}
    async with FakeTelegram.running() as fake:
        fake.add_bot(TOKEN, "yishi_bot")
        fake.add_user(MODERATOR, "Moderator Li", language_code="zh-hans")
        for room, user in OWNERS.items():
            fake.add_user(user, f"Owner {room}", language_code="zh-hans")
        everyone = [MODERATOR, *OWNERS.values()]
        for user in everyone:
            fake.add_private_chat(user)
        fake.add_group(GROUP, "3-2 加装电梯群", members=everyone, admins=[MODERATOR])
        fake.enable_flood_limits(FloodLimits())
        settings = load_settings(BOT_TOKEN=TOKEN, TELEGRAM_API_BASE=fake.api_base, TRANSPORT=runtime,
                                 DATABASE_URL=url)
        app = Yishi(db, Translator("zh_CN"), settings.tz)
        transport = create_transport(settings, app)
        await transport.start()
        outbox = Dispatcher(db, Limits(), boot_id=app.boot_id)
        outbox.attach(transport.messenger)
        await outbox.start()
        app.outbox = outbox
        stop = asyncio.Event()
        polling = asyncio.create_task(transport.run_polling(stop))
        try:
            figures = await play(fake, codes)
        finally:
            stop.set()
            await asyncio.wait_for(polling, 15)
            await app.close()
            await outbox.stop()
            await transport.close()
    await db.dispose()
    return {
        "runtime": runtime,
        "group_messages": figures.group_messages,
        "private_messages": figures.private_messages,
        "group_replies_timed": len(figures.group_latencies),
        "p50_s": round(figures.percentile(0.50), 3),
        "p95_s": round(figures.percentile(0.95), 3),
        "max_s": round(max(figures.group_latencies, default=0.0), 3),
        "targets_met": figures.percentile(0.95) <= 2.0 and figures.group_messages <= 15,
        "per_command_s": {step: round(t, 3) for step, t in zip(figures.steps, figures.group_latencies, strict=True)},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runtimes", default="aiogram,ptb")
    args = parser.parse_args()
    for runtime in args.runtimes.split(","):
        print(json.dumps(asyncio.run(run(runtime)), ensure_ascii=False))


if __name__ == "__main__":
    main()
