"""Following a matter's implementation and evaluating it when done, in the chat (fed directly)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.handlers.app import Yishi
from bot.handlers.digests import digest_text
from bot.i18n import Text, Translator
from bot.services import agenda
from bot.services.census import issue_codes, redeem_code
from bot.services.council import add_council_member
from bot.services.digests import build_digest
from bot.services.directory import Actor
from bot.storage import Database
from bot.storage.models import Community, DigestSubscription, LedgerEntry, Proposal, utcnow
from tests.handlers.test_app import Recorder
from tests.handlers.test_requests import Chatter

COUNCIL = 9000
A, B, C, OUTSIDER = 1, 2, 3, 5  # 3-2-101 (author), 3-2-102 (co-signer), 3-2-201, 3-1-101


@pytest.fixture
async def chat(db: Database, community: str) -> Chatter:
    codes = {f"{c.building}-{c.unit}-{c.room}": c.code for c in await issue_codes(db, community)}
    for user, home in ((A, "3-2-101"), (B, "3-2-102"), (C, "3-2-201"), (OUTSIDER, "3-1-101")):
        await redeem_code(db, "telegram", str(user), codes[home], f"User {user}")
    await add_council_member(db, community, "telegram", str(COUNCIL))
    async with db.uow(readonly=True) as uow:
        community_id = (await uow.session.execute(select(Community.id))).scalar_one()
    submitted = await agenda.propose(db, community_id, Actor("telegram", str(A)), "Paint the stairwell",
                                     scope="3-2", force=True)
    assert submitted.proposal is not None
    await agenda.support(db, 1, Actor("telegram", str(B)))
    async with db.uow() as uow:  # the vote that adopted it is not this test's subject
        proposal = await uow.session.get(Proposal, 1)
        assert proposal is not None
        proposal.state = "adopted"
    return Chatter(Yishi(db, Translator("en"), ZoneInfo("Asia/Shanghai"), ballot_edit_interval=0), Recorder())


async def test_progress_reaches_followers_and_done_asks_for_evaluation(chat: Chatter, db: Database) -> None:
    assert "You will hear privately of the progress of #1" in (await chat.say(C, "/follow 1"))[0]
    assert "no longer hear" in (await chat.say(B, "/unfollow 1"))[0]
    assert "Only registered households" in (await chat.say(77, "/follow 1"))[0]
    await chat.say(COUNCIL, "/progress 1 Scaffolding is up")
    for user in (A, C):
        assert "Scaffolding is up" in chat.inbox(user)[-1].text
    assert not any("Scaffolding" in m.text for m in chat.inbox(B))
    await chat.say(COUNCIL, "/progress 1 done Painted white")
    for user in (A, B, C):  # every household in 3-2 is asked, whether following or not
        ask = chat.inbox(user)[-1]
        assert "How satisfied are you" in ask.text
        assert [a.data for row in ask.actions for a in row] == ["v1:ev:1:s", "v1:ev:1:b", "v1:ev:1:u"]
    assert "Painted white" in chat.inbox(C)[-2].text and not any("Painted" in m.text for m in chat.inbox(B))
    assert not any("How satisfied" in m.text for m in chat.inbox(OUTSIDER))
    assert "Thank you" in await chat.press(A, "v1:ev:1:s")
    answer = (await chat.say(B, "/evaluate 1 \u4e0d\u6ee1\u610f The colour is too dark"))[0]
    assert "satisfied 1, basically satisfied 0, not satisfied 1" in answer
    await chat.press(C, "v1:ev:1:b")
    summary = (await chat.say(A, "/evaluation 1"))[0]
    assert "satisfied 1, basically satisfied 1, not satisfied 1 (66.67% satisfied of 3)" in summary
    # One per household; someone outside the scope does not evaluate; bad words get the usage.
    assert "already" in (await chat.say(A, "/evaluate 1 satisfied"))[0].lower()
    assert "Only registered households in building 3, unit 2" in (await chat.say(OUTSIDER, "/evaluate 1 s"))[0]
    assert "Usage" in (await chat.say(A, "/evaluate 1 great"))[0]
    async with db.uow(readonly=True) as uow:
        events = (await uow.session.execute(select(LedgerEntry.event).where(
            LedgerEntry.event == "proposal_evaluated"))).scalars().all()
    assert len(events) == 3
    # The counts appear in the digest (a subscription from before the evaluations).
    async with db.uow(readonly=True) as uow:
        changes = await build_digest(uow, DigestSubscription(community_id=1, member_id=1, cadence="daily",
                                                             at_time="20:00", last_seq=0), utcnow())
    text = Translator("en").render(digest_text(changes, ZoneInfo("Asia/Shanghai"), heading=Text("Digest")) or "")
    assert "Residents' evaluation of completed matters:" in text
    assert "#1 Paint the stairwell: satisfied 1, basically satisfied 1, not satisfied 1" in text


async def test_an_open_matter_cannot_be_evaluated(chat: Chatter, db: Database) -> None:
    assert "Not possible now" in (await chat.say(A, "/evaluate 1 s"))[0]
