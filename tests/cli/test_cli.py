"""The `yishi` command line, run as a user would: a real subprocess in a scratch directory."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data" / "sample" / "census-sample.csv"


def yishi(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k not in {"BOT_TOKEN", "DATABASE_URL", "TIMEZONE",
                                                                    "TRANSPORT", "DEFAULT_LOCALE"}}
    environment.update({"WEB_PORT": "0", **env})  # the web pages on any free port (tests run in parallel)
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=cwd, env=environment, capture_output=True,
                          text=True, timeout=120)


@pytest.fixture
def workdir(tmp_path: Path, database_url: str) -> Path:
    # Point the CLI at this test's database (SQLite copy, or the truncated PostgreSQL one).
    (tmp_path / ".env").write_text(f"DATABASE_URL={database_url}\n", encoding="utf-8")
    return tmp_path


def test_run_without_token_starts_the_local_room(tmp_path: Path) -> None:
    import signal
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    environment = {k: v for k, v in os.environ.items() if k not in {"BOT_TOKEN", "DATABASE_URL"}}
    environment["WEB_PORT"] = "0"
    process = subprocess.Popen([sys.executable, "-m", "bot", "run", "--demo-port", str(port)], cwd=tmp_path,
                               env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    # Reading a pipe line by line has no deadline of its own: a room that never prints its address is killed,
    # which ends the pipe and fails the asserts below with what it did print.
    watchdog = threading.Timer(120, process.kill)
    watchdog.start()
    try:
        lines = []
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if "Residents' web pages" in line:  # printed right after the room's address
                break
        watchdog.cancel()
        output = "".join(lines)
        assert "BOT_TOKEN is not set" in output and f"http://127.0.0.1:{port}/" in output
        assert re.search(r"Residents' web pages: http://127\.0\.0\.1:\d+/", output), output
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(60)
    assert process.returncode == 0
    assert (tmp_path / "data" / "demo" / "yishi-demo.db").exists()


@pytest.mark.parametrize(
    ("name", "value"),
    [("TIMEZONE", "Mars/Olympus"), ("TRANSPORT", "carrier-pigeon"), ("DATABASE_URL", "mysql://x"),
     ("DEFAULT_LOCALE", "fr"), ("BOT_TOKEN", "not-a-token"), ("TELEGRAM_API_BASE", "api.telegram.org")],
)
def test_a_bad_setting_fails_with_one_line_naming_it(tmp_path: Path, name: str, value: str) -> None:
    result = yishi(tmp_path, "run", **{name: value})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"Bad setting {name}:")


def test_settings_come_from_dotenv(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("TIMEZONE=Nowhere/Land\n", encoding="utf-8")
    result = yishi(tmp_path, "run")
    assert "Bad setting TIMEZONE" in result.stderr


def test_sqlite_default_is_created_and_migrated_on_first_use(tmp_path: Path) -> None:
    result = yishi(tmp_path, "ledger", "verify")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "data" / "yishi.db").exists()
    assert "Ledger OK: 0 entries" in result.stdout


def test_census_import_codes_and_ledger(workdir: Path) -> None:
    first = yishi(workdir, "census", "import", str(SAMPLE), "--community", "幸福里")
    assert first.returncode == 0, first.stderr
    again = yishi(workdir, "census", "import", str(SAMPLE), "--community", "幸福里")
    assert "0 created, 0 updated, 144 unchanged" in again.stdout
    codes = yishi(workdir, "census", "codes", "--community", "幸福里", "--format", "csv", "--scope", "3-2")
    lines = codes.stdout.strip().splitlines()
    assert lines[0] == "building,unit,room,code" and len(lines) == 13
    assert lines[1].startswith("3,2,101,")
    verify = yishi(workdir, "ledger", "verify")
    assert verify.returncode == 0 and "Ledger OK: 2 entries verified, rows match." in verify.stdout


def test_bad_census_lists_lines_and_exits_nonzero(workdir: Path) -> None:
    bad = workdir / "bad.csv"
    bad.write_text(SAMPLE.read_text(encoding="utf-8").replace("1,1,2,201,70.63", "1,1,2,201,70.639")
                   .replace("1,1,3,301,58.35", "1,1,x,301,58.35"), encoding="utf-8")
    result = yishi(workdir, "census", "import", str(bad), "--community", "幸福里")
    assert result.returncode == 1
    assert "line 4: bad_area: 70.639" in result.stderr and "line 6: bad_floor: x" in result.stderr


def test_council_add_is_idempotent(workdir: Path) -> None:
    assert yishi(workdir, "census", "import", str(SAMPLE), "--community", "幸福里").returncode == 0
    first = yishi(workdir, "council", "add", "telegram", "777", "--community", "幸福里")
    second = yishi(workdir, "council", "add", "telegram", "777", "--community", "幸福里")
    assert "added" in first.stdout and "nothing changed" in second.stdout
    missing = yishi(workdir, "council", "add", "telegram", "777", "--community", "Nowhere")
    assert missing.returncode == 1 and "not_found" in missing.stderr


def test_console_script_is_installed() -> None:
    script = Path(sys.executable).with_name("yishi")
    result = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "census" in result.stdout


POSTGRES_URL = os.environ.get("TEST_DATABASE_URL", "")


@pytest.mark.skipif(not POSTGRES_URL.startswith("postgresql"), reason="PostgreSQL run only")
def test_postgres_start_up_refuses_an_unmigrated_database(tmp_path: Path) -> None:
    import asyncio

    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    async def recreate() -> None:
        engine = create_async_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
        async with engine.connect() as conn:
            await conn.execute(text("DROP DATABASE IF EXISTS yishi_unmigrated"))
            await conn.execute(text("CREATE DATABASE yishi_unmigrated"))
        await engine.dispose()

    asyncio.run(recreate())
    fresh = POSTGRES_URL.rsplit("/", 1)[0] + "/yishi_unmigrated"
    refused = yishi(tmp_path, "run", BOT_TOKEN="123456:abcdef", DATABASE_URL=fresh)
    assert refused.returncode == 2 and "yishi migrate" in refused.stderr
    assert yishi(tmp_path, "migrate", DATABASE_URL=fresh).returncode == 0
    assert yishi(tmp_path, "ledger", "verify", DATABASE_URL=fresh).returncode == 0


def test_community_config_and_elevator_shares(workdir: Path) -> None:
    assert yishi(workdir, "census", "import", str(SAMPLE), "--community", "幸福里").returncode == 0
    shown = yishi(workdir, "community", "config", "--community", "幸福里")
    assert "support: max(5, 1/5 of households in scope)" in shown.stdout
    changed = yishi(workdir, "community", "config", "--community", "幸福里", "--support", "10",
                    "--elevator-rule", "vote_only", "--non-voters-follow-majority")
    assert changed.returncode == 0, changed.stderr
    assert "support: 10" in changed.stdout and "non_voters_follow_majority: True" in changed.stdout
    bad = yishi(workdir, "community", "config", "--community", "幸福里", "--support", "lots")
    assert bad.returncode == 1 and "invalid_input" in bad.stderr
    shares = yishi(workdir, "elevator", "shares", "--community", "幸福里", "--scope", "3-2", "--total", "600000",
                   "--subsidy", "200000", "--format", "csv")
    assert shares.returncode == 0, shares.stderr
    rows = shares.stdout.strip().splitlines()
    assert rows[0] == "home,floor,area_m2,coefficient,share_yuan" and len(rows) == 13
    assert rows[1].startswith("3-2-101,1,63.98,0,0.00")
    total_fen = sum(int(r.split(",")[-1].replace(".", "")) for r in rows[1:])
    assert total_fen == 40_000_000
    refused = yishi(workdir, "elevator", "shares", "--community", "幸福里", "--scope", "3-2", "--total", "1.001")
    assert refused.returncode == 1


def test_export_json_and_csv(workdir: Path) -> None:
    assert yishi(workdir, "census", "import", str(SAMPLE), "--community", "幸福里").returncode == 0
    empty = yishi(workdir, "export", "--format", "json")
    assert empty.returncode == 0 and '"proposals": []' in empty.stdout
    out = workdir / "export.csv"
    written = yishi(workdir, "export", "--format", "csv", "-o", str(out))
    assert written.returncode == 0 and out.read_text(encoding="utf-8").startswith("proposal_id,title,")
    missing = yishi(workdir, "export", "--proposal", "42")
    assert missing.returncode == 1 and "No proposal #42" in missing.stderr


@pytest.mark.parametrize("transport", ["aiogram", "ptb"])
async def test_yishi_run_serves_until_interrupted(tmp_path: Path, transport: str) -> None:
    """`yishi run` as a user starts it: a real process, long polling the fake Bot API, stopped by Ctrl-C."""
    import asyncio
    import signal

    from bot.fakeapi import FakeTelegram

    async with FakeTelegram.running() as fake:
        fake.add_bot("123456:run-token", "yishi_bot")
        fake.add_user(42, "Resident", language_code="en")
        fake.add_private_chat(42)
        env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "TIMEZONE", "DEFAULT_LOCALE"}}
        env.update(BOT_TOKEN="123456:run-token", TELEGRAM_API_BASE=fake.api_base, TRANSPORT=transport, WEB_PORT="0")
        process = await asyncio.create_subprocess_exec(sys.executable, "-m", "bot", "run", cwd=tmp_path, env=env,
                                                       stdout=asyncio.subprocess.PIPE,
                                                       stderr=asyncio.subprocess.STDOUT)
        try:
            await fake.wait_for(lambda: bool(fake.commands(scope={"type": "all_private_chats"}, language_code="en")),
                                timeout=60)
            sent = fake.send_text(42, 42, "/start")
            reply = await fake.wait_for_message(42, after=sent.message_id, timeout=30)
            assert "Welcome to Yishi" in (reply.text or "")
        finally:
            process.send_signal(signal.SIGINT)
            output, _ = await asyncio.wait_for(process.communicate(), 60)
        assert process.returncode == 0, output.decode()[-2000:]


def test_a_census_with_more_problems_than_listed_counts_the_rest(workdir: Path) -> None:
    bad = workdir / "bad.csv"
    bad.write_text("building,unit,floor,room,area_m2,area_source,owner_id,owner_kind\n"
                   + "".join(f"1,1,1,{n},0,registry,O{n},person\n" for n in range(10_005)), encoding="utf-8")
    result = yishi(workdir, "census", "import", str(bad), "--community", "幸福里")
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert lines[0] == "line 2: bad_area: 0" and lines[9_999] == "line 10001: bad_area: 0"
    assert lines[10_000] == "... and 5 more problem(s) not listed"
    assert "census_rejected: 10005 problem(s)" in result.stderr


def test_records_refuse_an_unknown_proposal_and_write_nothing(workdir: Path) -> None:
    assert yishi(workdir, "census", "import", str(SAMPLE), "--community", "幸福里").returncode == 0
    out = workdir / "a.pdf"
    missing = yishi(workdir, "records", "announcement", "--proposal", "42", "-o", str(out))
    assert missing.returncode == 1 and "No proposal #42." in missing.stderr
    register = yishi(workdir, "records", "register", "--proposal", "42", "-o", str(workdir / "r.xlsx"))
    assert register.returncode == 1 and "No proposal #42." in register.stderr
    assert not out.exists() and not (workdir / "r.xlsx").exists()
