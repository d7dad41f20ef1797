"""Run the fake Telegram Bot API standalone: ``python -m bot.fakeapi --port 8081``.

Point a bot at the printed URL (aiogram: ``TelegramAPIServer.from_base(url)``; python-telegram-bot:
``base_url=f"{url}/bot"``) and play the users through the ``/_fake/...`` control endpoints.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal

from bot.fakeapi.server import FakeTelegram, FloodLimits

DEFAULT_BOT = "123456:fake-token=yishi_bot"


def _parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bot.fakeapi", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081, help="0 picks a free port")
    parser.add_argument(
        "--bot",
        action="append",
        metavar="TOKEN=USERNAME",
        help=f"register a bot (repeatable; default {DEFAULT_BOT})",
    )
    parser.add_argument(
        "--user", action="append", default=[], metavar="ID=NAME", help="register a user (repeatable)"
    )
    parser.add_argument("--flood", action="store_true", help="enforce Telegram's flood limits (429s)")
    return parser.parse_args(argv)


async def _serve(args: argparse.Namespace) -> None:
    fake = FakeTelegram(flood_limits=FloodLimits() if args.flood else None)
    for spec in args.bot or [DEFAULT_BOT]:
        token, _, username = spec.partition("=")
        fake.add_bot(token, username or "fake_bot")
    for spec in args.user:
        user_id, _, name = spec.partition("=")
        fake.add_user(int(user_id), name or f"User {user_id}")
    async with fake.serve(args.host, args.port):
        print(f"Fake Telegram Bot API listening on {fake.base_url}", flush=True)
        for account in fake.bots.values():
            print(f"  bot @{account.username}  token {account.token}", flush=True)
        print(f"  control API: {fake.base_url}/_fake/state", flush=True)
        stop = asyncio.Event()
        with contextlib.suppress(NotImplementedError):  # no signal handlers on Windows
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        await stop.wait()  # until Ctrl-C or SIGTERM, then shut down cleanly


def main(argv: list[str] | None = None) -> None:
    args = _parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args))


if __name__ == "__main__":
    main()
