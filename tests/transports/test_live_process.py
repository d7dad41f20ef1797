"""The real-process harness itself: a `yishi run` child on each runtime answers, and restarts on its data."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.live import GROUP, OWNERS, live_bot


@pytest.mark.parametrize("runtime", ["aiogram", "ptb"])
async def test_a_real_process_answers_and_restarts(tmp_path: Path, database_url: str, runtime: str) -> None:
    async with live_bot(tmp_path, runtime, database_url) as bot:
        await bot.register_owners(["101"])
        await bot.bind_group()
        card = await bot.say(OWNERS["101"], GROUP, "/propose 3号楼2单元加装电梯")
        assert "#1" in (card.text or "")
        await bot.kill()
        await bot.start()
        me = await bot.say(OWNERS["101"], OWNERS["101"], "/me")
        assert "3-2-101" in (me.text or "")
        assert bot.runs == 2
