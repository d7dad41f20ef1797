"""The elevator story in one busy group (bench/group_story.py), counted: what the room and each person got.

The timing stays in the benchmark; here the counts must hold on both runtimes, under Telegram's limits.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import GROUP, MODERATOR, OWNERS, World

_SPEC = importlib.util.spec_from_file_location(
    "group_story", Path(__file__).resolve().parents[2] / "bench" / "group_story.py")
assert _SPEC is not None and _SPEC.loader is not None
story = importlib.util.module_from_spec(_SPEC)
sys.modules.setdefault("group_story", story)  # its dataclasses look their module up
_SPEC.loader.exec_module(story)


@pytest.mark.outbox_limits(chat_per_second=1, group_per_minute=20)
async def test_the_elevator_story_keeps_the_group_within_its_budget(world: World) -> None:
    w = world
    figures = await story.play(w.fake, w.codes, group=GROUP, owners=OWNERS, moderator=MODERATOR)
    # The room: /bind, the card, the acceptance, the ballot and the result; nothing else.
    assert figures.group_messages == 5 <= 15
    assert figures.steps == ["/bind 3-2", "/propose 3号楼2单元加装电梯", "/accept 1", "/vote 1 elevator 10d",
                             "/close 1"]
    # In private: 12 registrations, the offer of the similar matter, /support twice, /show, /help, /me,
    # the refused /accept, /results twice (9), and the council's notice of the matter to review (1).
    assert figures.private_messages == 12 + 9 + 1
    notices = [m for m in w.fake.messages(MODERATOR) if m.from_bot]
    assert len(notices) == 1 and notices[0].callback_data == ["v1:rv:1:a", "v1:rv:1:d"]
    texts = [m.text or "" for m in w.fake.messages(GROUP) if m.from_bot]
    assert len(texts) == 5 and not any("/help" in t for t in texts)
