"""Ballot presses per second through Yishi's full path, against a bare echo bot on the same runtime.

Each scenario runs in its own process (so peak memory is its own), on the in-repo fake Bot API
server, with the same press pattern:

  echo        a bare bot that answers every button press with a toast (no database)
  yishi-1     Yishi: 2,000 owners press Yes on one community-wide Art. 278 vote
              (roll check, ballot write, ledger append, toast, throttled ballot edit)
  yishi-20    the same presses spread over 20 open votes

Run:  .venv/bin/python bench/presses.py [--owners 2000] [--runtimes aiogram,ptb]
      [--scenarios echo,yishi-1,yishi-20] [--profile DIR]  (DIR: a py-spy flame graph of each
      scenario's press phase only, set-up excluded; needs py-spy in the venv)
Prints presses/s, p50/p99 press-to-toast latency, peak RSS, and the ratio Yishi / echo (target >= 0.7).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TOKEN = "123456:bench-token"
GROUP = -100777


class TimedAnswers(dict[str, Any]):
    """The fake server's callback-answer table, stamping when each toast arrived."""

    def __init__(self) -> None:
        super().__init__()
        self.at: dict[str, float] = {}

    def __setitem__(self, key: str, value: Any) -> None:
        self.at.setdefault(key, time.perf_counter())
        super().__setitem__(key, value)


async def _drive(fake: Any, presses: list[tuple[int, int, str]], timeout: float) -> dict[str, float]:
    profiler = _start_profiler()
    try:
        return await _press(fake, presses, timeout)
    finally:
        if profiler is not None:
            profiler.send_signal(signal.SIGINT)
            await asyncio.to_thread(profiler.wait)


def _start_profiler() -> subprocess.Popen[bytes] | None:
    """py-spy on this process from now on (BENCH_PROFILE: the flame graph's path), or None."""
    out = os.environ.get("BENCH_PROFILE")
    if not out:
        return None
    spy = Path(sys.executable).parent / "py-spy"
    process = subprocess.Popen([str(spy), "record", "--pid", str(os.getpid()), "--rate", "200", "-o", out],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)  # py-spy attaches before the first press
    return process


async def _press(fake: Any, presses: list[tuple[int, int, str]], timeout: float) -> dict[str, float]:
    answers = TimedAnswers()
    fake.callback_answers = answers
    sent: dict[str, float] = {}
    start = time.perf_counter()
    for user, message_id, data in presses:
        sent[fake.press_button(user, GROUP, message_id, data)] = time.perf_counter()
    await fake.wait_for(lambda: len(answers) >= len(presses), timeout)
    elapsed = max(answers.at.values()) - start
    latencies = sorted((answers.at[q] - t) * 1000 for q, t in sent.items())
    return {"presses": len(presses), "seconds": elapsed, "per_second": len(presses) / elapsed,
            "p50_ms": statistics.median(latencies), "p99_ms": latencies[int(len(latencies) * 0.99) - 1]}


async def echo(runtime: str, owners: int) -> dict[str, float]:
    from bot.fakeapi import FakeTelegram

    async with FakeTelegram.running() as fake:
        fake.add_bot(TOKEN, "bench_bot")
        for user in range(1, owners + 1):
            fake.add_user(user, f"u{user}")
        fake.add_group(GROUP, "bench", members=range(1, owners + 1))
        # A bot message with one button to press (posted through the API, as a bot would).
        keyboard = {"inline_keyboard": [[{"text": "Yes", "callback_data": "yes"}]]}
        status, envelope = await fake.call_api(TOKEN, "sendMessage",
                                               {"chat_id": GROUP, "text": "vote", "reply_markup": keyboard})
        assert status == 200, envelope
        message_id = envelope["result"]["message_id"]
        stop = asyncio.Event()
        task = asyncio.create_task(_echo_bot(runtime, fake.api_base, stop))
        await asyncio.sleep(0.5)
        result = await _drive(fake, [(u, message_id, "yes") for u in range(1, owners + 1)], 600)
        stop.set()
        await task
        return result


async def _echo_bot(runtime: str, base_url: str, stop: asyncio.Event) -> None:
    if runtime == "aiogram":
        from aiogram import Bot, Dispatcher, Router
        from aiogram.client.session.aiohttp import AiohttpSession
        from aiogram.client.telegram import TelegramAPIServer
        from aiogram.types import CallbackQuery

        bot = Bot(TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(base_url)))
        router = Router()

        @router.callback_query()
        async def on_press(query: CallbackQuery) -> None:
            await query.answer("ok")

        dp = Dispatcher()
        dp.include_router(router)
        polling = asyncio.create_task(dp.start_polling(bot, handle_signals=False, polling_timeout=1))
        await stop.wait()
        await dp.stop_polling()
        await polling
        await bot.session.close()
        return
    from telegram import Update
    from telegram.ext import Application, CallbackQueryHandler, ContextTypes

    async def answer(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.callback_query is not None
        await update.callback_query.answer("ok")

    app = (Application.builder().token(TOKEN).base_url(f"{base_url}/bot")
           .concurrent_updates(int(os.environ.get("ECHO_CONCURRENCY", "64"))).build())
    app.add_handler(CallbackQueryHandler(answer))
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(timeout=1, poll_interval=0)
        await stop.wait()
        await app.updater.stop()
        await app.stop()


async def yishi(runtime: str, owners: int, votes: int) -> dict[str, float]:
    from datetime import UTC, datetime

    from sqlalchemy import insert, select

    from bot.config import load_settings
    from bot.fakeapi import FakeTelegram
    from bot.handlers.app import Yishi
    from bot.i18n import Translator
    from bot.services import agenda, voting
    from bot.services.census import import_census
    from bot.services.council import add_council_member
    from bot.services.directory import Actor
    from bot.storage import Database
    from bot.storage.migrate import upgrade
    from bot.storage.models import BallotPost, Community, ExclusiveUnit, Member, MemberLink
    from bot.transports import create_transport

    workdir = Path(tempfile.mkdtemp(prefix="yishi-bench-"))
    url = f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
    await asyncio.to_thread(upgrade, url)
    db = Database(url)
    rows = ["building,unit,floor,room,area_m2,area_source,owner_id,owner_kind"]
    for i in range(owners):
        rows.append(f"{i // 200 + 1},{i % 200 // 20 + 1},{i % 20 // 2 + 1},{i % 20 + 101},"
                    f"{60 + i % 40}.{i % 100:02d},registry,O{i},person")
    await import_census(db, "Bench", "\n".join(rows) + "\n")
    await add_council_member(db, "Bench", "telegram", "999999")
    now = datetime.now(UTC)
    async with db.uow() as uow:
        (await uow.session.execute(select(Community))).scalar_one().support_fixed = 1
        homes = (await uow.session.execute(select(ExclusiveUnit.id).order_by(ExclusiveUnit.id))).scalars().all()
        await uow.session.execute(insert(Member), [
            {"platform": "telegram", "external_id": str(i + 1), "display_name": f"u{i + 1}", "reachable": True,
             "nudges": True, "created_at": now} for i in range(owners)])
        members = (await uow.session.execute(select(Member.id, Member.external_id))).all()
        by_external = {ext: mid for mid, ext in members}
        await uow.session.execute(insert(MemberLink), [
            {"member_id": by_external[str(i + 1)], "exclusive_unit_id": homes[i], "role": "owner",
             "status": "verified", "via": "code", "created_at": now} for i in range(owners)])
    moderator = Actor("telegram", "999999")
    vote_ids = []
    for n in range(votes):
        proposal = (await agenda.propose(db, 1, Actor("telegram", "1"), f"Matter {n}", scope="all", force=True,
                                         now=now)).proposal
        await agenda.accept(db, proposal.id, moderator, now=now)
        vote_ids.append((await voting.open_vote(db, proposal.id, moderator, "art278", 7, now=now)).id)

    async with FakeTelegram.running() as fake:
        fake.add_bot(TOKEN, "bench_bot")
        for user in [*range(1, owners + 1), 999_999]:
            fake.add_user(user, f"u{user}")
        fake.add_group(GROUP, "bench", members=range(1, owners + 1))
        settings = load_settings(BOT_TOKEN=TOKEN, TELEGRAM_API_BASE=fake.api_base, TRANSPORT=runtime,
                                 DATABASE_URL=url)
        app = Yishi(db, Translator("zh_CN"), settings.tz)
        transport = create_transport(settings, app)
        await transport.start()
        message_ids = []
        for vote_id in vote_ids:
            status, envelope = await fake.call_api(TOKEN, "sendMessage", {"chat_id": GROUP, "text": f"vote {vote_id}",
                                                                  "reply_markup": {"inline_keyboard": [[
                                                                      {"text": "Yes",
                                                                       "callback_data": f"v1:b:{vote_id}:y"}]]}})
            message_ids.append(envelope["result"]["message_id"])
            async with db.uow() as uow:
                uow.session.add(BallotPost(vote_id=vote_id, platform="telegram", chat_id=str(GROUP),
                                           message_id=str(envelope["result"]["message_id"]), locale="zh_CN"))
        stop = asyncio.Event()
        polling = asyncio.create_task(transport.run_polling(stop))
        await asyncio.sleep(0.5)
        presses = [(u, message_ids[(u - 1) % votes], f"v1:b:{vote_ids[(u - 1) % votes]}:y")
                   for u in range(1, owners + 1)]
        result = await _drive(fake, presses, 900)
        toasts = [a.text for a in fake.callback_answers.values()]
        result["recorded_toasts"] = sum("赞成" in (t or "") for t in toasts)
        result["ballot_edits"] = app.board.edits
        result["batches"] = app.ballots.batches
        stop.set()
        await polling
        await app.close()
        await transport.close()
    async with db.uow() as uow:
        result["ledger_entries"] = (await uow.ledger.head())["seq"]
    await db.dispose()
    return result


def child(scenario: str, runtime: str, owners: int) -> None:
    if scenario == "echo":
        result = asyncio.run(echo(runtime, owners))
    else:
        result = asyncio.run(yishi(runtime, owners, 1 if scenario == "yishi-1" else 20))
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--owners", type=int, default=2000)
    parser.add_argument("--runtimes", default="aiogram,ptb")
    parser.add_argument("--scenarios", default="echo,yishi-1,yishi-20")
    parser.add_argument("--profile", metavar="DIR", help="write <DIR>/<runtime>-<scenario>.svg (py-spy)")
    parser.add_argument("--child", nargs=2, metavar=("SCENARIO", "RUNTIME"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.child[1], args.owners)
        return
    print(f"{'runtime':8} {'scenario':9} {'presses/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'peak MB':>8} {'vs echo':>8}")
    from bot.transports import MAX_CONCURRENT_UPDATES

    for runtime in args.runtimes.split(","):
        baseline = None
        # The echo baseline at its best: aiogram's default (a task per update); PTB at 64 and at Yishi's
        # concurrency, keeping the faster, so the ratio is never flattered by a slow baseline.
        scenarios = [("echo", "64"), ("yishi-1", ""), ("yishi-20", "")]
        if runtime == "ptb":
            scenarios.insert(1, ("echo", str(MAX_CONCURRENT_UPDATES)))
        wanted = args.scenarios.split(",")
        for scenario, concurrency in scenarios:
            if scenario not in wanted and not (scenario == "echo" and baseline is None):
                continue  # the echo baseline always runs: the ratio needs it
            profile = {} if not args.profile or scenario == "echo" else {
                "BENCH_PROFILE": str(Path(args.profile).resolve() / f"{runtime}-{scenario}.svg")}
            out = subprocess.run([sys.executable, __file__, "--owners", str(args.owners), "--child", scenario,
                                  runtime], capture_output=True, text=True, cwd=ROOT,
                                 env={**os.environ, "ECHO_CONCURRENCY": concurrency or "64", **profile}, timeout=1800)
            if out.returncode != 0:
                print(f"{runtime:8} {scenario:9} FAILED\n{out.stderr[-2000:]}")
                continue
            r = json.loads(out.stdout.strip().splitlines()[-1])
            if scenario == "echo":
                baseline = max(baseline or 0.0, r["per_second"])
                scenario = f"echo/{concurrency}" if runtime == "ptb" else "echo"
            assert baseline is not None
            ratio = r["per_second"] / baseline
            extra = "" if scenario.startswith("echo") else (f"  toasts ok {r['recorded_toasts']}/{r['presses']}, "
                                                    f"{r['ballot_edits']} ballot edits, {r['batches']} batches, "
                                                          f"ledger {r['ledger_entries']}")
            print(f"{runtime:8} {scenario:9} {r['per_second']:10.1f} {r['p50_ms']:8.1f} {r['p99_ms']:8.1f} "
                  f"{r['peak_rss_mb']:8.1f} {ratio:8.2f}{extra}", flush=True)


if __name__ == "__main__":
    main()
