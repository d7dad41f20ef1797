"""How long the outbox takes to deliver a digest to N members with Telegram's limits enforced.

The in-repo fake Bot API server enforces the published limits (30 messages/s overall, about
1/s per private chat, 20/min per group) and answers 429 beyond them. The theoretical minimum
for N messages is N / 30 s; the ratio printed is measured time / minimum (target <= 1.1).
Each runtime runs in its own process, so its peak memory is its own.

Run:  .venv/bin/python bench/broadcast.py [--members 1000] [--groups 30] [--runtimes aiogram,ptb]
Prints messages, seconds, messages/s, ratio to N/30 s, 429s received, and peak RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TOKEN = "123456:bench-token"


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


async def _scenario(runtime: str, members: int, groups: int) -> dict[str, Any]:
    from bot.config import load_settings
    from bot.fakeapi import FakeTelegram
    from bot.fakeapi.server import FloodLimits
    from bot.handlers.app import Yishi
    from bot.i18n import Translator, _
    from bot.outbox import Priority, enqueue_text
    from bot.outbox.dispatcher import Dispatcher
    from bot.outbox.limits import Limits
    from bot.storage import Database
    from bot.storage.migrate import upgrade
    from bot.transports import create_transport

    workdir = Path(tempfile.mkdtemp(prefix="yishi-bench-"))
    url = f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
    await asyncio.to_thread(upgrade, url)
    db = Database(url)
    translator = Translator("zh_CN")
    async with FakeTelegram.running() as fake:
        fake.add_bot(TOKEN, "yishi_bot")
        users = list(range(100_000, 100_000 + members))
        rooms = [-2_000_000 - i for i in range(groups)]
        for user in users:
            fake.add_user(user, f"Member {user}")
            fake.add_private_chat(user)
        for room in rooms:
            fake.add_group(room, f"Room {room}", members=users[:2])
        fake.enable_flood_limits(FloodLimits())
        settings = load_settings(BOT_TOKEN=TOKEN, TELEGRAM_API_BASE=fake.api_base, TRANSPORT=runtime,
                                 DATABASE_URL=url)
        app = Yishi(db, translator, settings.tz)
        transport = create_transport(settings, app)
        await transport.start()
        # A digest-sized text per recipient, localized as members get it.
        body = translator.render(_("Vote on #{id} {title}", id=7, title="3-2 elevator"), "zh_CN")
        text = "\n".join([body] * 12)
        async with db.uow() as uow:
            for chat, kind in [(str(u), "private") for u in users] + [(str(r), "group") for r in rooms]:
                await enqueue_text(uow, platform="telegram", chat_id=chat, text=text, dedupe_key=f"digest:{chat}",
                                   chat_kind=kind, priority=Priority.BULK)
        rss_before = _rss_mb()
        dispatcher = Dispatcher(db, Limits(), boot_id="bench", poll_interval=0.5)
        dispatcher.attach(transport.messenger)
        started = time.perf_counter()
        await dispatcher.start()
        done = await dispatcher.drained(timeout=members / 10 + 120)
        elapsed = time.perf_counter() - started
        await dispatcher.stop()
        await transport.close()
        delivered = sum(1 for chat in [*users, *rooms] for m in fake.messages(chat) if m.from_bot)
        total = members + groups
        result = {
            "runtime": runtime,
            "messages": total,
            "delivered": delivered,
            "complete": done and delivered == total,
            "seconds": round(elapsed, 2),
            "per_second": round(total / elapsed, 2),
            "minimum_seconds": round(total / 30, 2),
            "ratio": round(elapsed / (total / 30), 3),
            "too_many_requests": fake.stats.too_many_requests,
            "rss_before_mb": round(rss_before, 1),
            "peak_rss_mb": round(_rss_mb(), 1),
        }
    await db.dispose()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=1000)
    parser.add_argument("--groups", type=int, default=30)
    parser.add_argument("--runtimes", default="aiogram,ptb")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: run one runtime in this process
    args = parser.parse_args()
    if args.one:
        print(json.dumps(asyncio.run(_scenario(args.one, args.members, args.groups))))
        return
    print(f"digest to {args.members} members and {args.groups} groups, Telegram limits enforced by the fake server")
    print(f"{'runtime':8} {'messages':>8} {'seconds':>8} {'msg/s':>7} {'minimum':>8} {'ratio':>6} "
          f"{'429s':>5} {'RSS before':>10} {'peak RSS':>9}")
    for runtime in args.runtimes.split(","):
        out = subprocess.run(
            [sys.executable, __file__, "--one", runtime, "--members", str(args.members), "--groups", str(args.groups)],
            capture_output=True, text=True, check=True, env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        r = json.loads(out.stdout.strip().splitlines()[-1])
        flag = "" if r["complete"] else "  INCOMPLETE"
        print(f"{r['runtime']:8} {r['messages']:8} {r['seconds']:8} {r['per_second']:7} {r['minimum_seconds']:7}s "
              f"{r['ratio']:6} {r['too_many_requests']:5} {r['rss_before_mb']:8} MB {r['peak_rss_mb']:6} MB{flag}")
    print("ratio = measured / (messages / 30 s); target <= 1.1")


if __name__ == "__main__":
    main()
