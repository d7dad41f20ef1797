"""The ledger covers the count: edits to ballots, results and registrations, a plain SHA-256 re-chain,
and a cut-back head are each detected; a vote whose ballots differ from the ledger is not counted."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, text, update

from bot.deliberation.errors import LedgerMismatch
from bot.deliberation.ledger import GENESIS_HASH, canonical_json
from bot.handlers.errors import explain
from bot.i18n import Translator
from bot.scheduler.context import JobContext, set_context
from bot.services import agenda, voting
from bot.services.census import issue_codes, redeem_code
from bot.services.directory import Actor
from bot.services.ledger import verify_all
from bot.storage import Database
from bot.storage.models import Ballot, ChatRoom, LedgerEntry, LedgerHead, MemberLink, OutboxMessage, Vote
from tests.services.conftest import MODERATOR, T0, census

AREAS = ["100.00", "90.00", "80.00", "70.00"]


async def _story(db: Database, make_community, secret: bool = False) -> tuple[int, list[Actor]]:
    """Four owners registered with their codes (in the ledger), a vote, ballots yes, yes, no, no."""
    homes = [("1-1", f"10{i}", 1, area, f"O{i}", "person") for i, area in enumerate(AREAS, start=1)]
    cid = await make_community(census(*homes), support_fixed=1)
    codes = {c.room: c.code for c in await issue_codes(db, "T")}
    voters = []
    for i in range(1, 5):
        await redeem_code(db, "telegram", str(i), codes[f"10{i}"])
        voters.append(Actor("telegram", str(i)))
    proposal = (await agenda.propose(db, cid, voters[0], "Repaint", scope="1-1", force=True, now=T0)).proposal
    await agenda.accept(db, proposal.id, MODERATOR, now=T0)
    vote = await voting.open_vote(db, proposal.id, MODERATOR, "art278", 7, secret=secret, now=T0)
    for voter, choice in zip(voters, ["yes", "yes", "no", "no"], strict=True):
        await voting.cast_ballot(db, vote.id, voter, choice, now=T0)
    assert (await verify_all(db)).ok
    return vote.id, voters


async def _sql(db: Database, statement: str, **params: object) -> None:
    async with db.engine.begin() as conn:
        await conn.execute(text(statement), params)


async def test_an_edited_ballot_is_detected_and_not_counted(db: Database, make_community) -> None:
    vote_id, _voters = await _story(db, make_community)
    await _sql(db, "UPDATE ballot SET choice = :c WHERE elector_key = (SELECT elector_key FROM ballot "
                   "WHERE vote_id = :v ORDER BY elector_key DESC LIMIT 1)", c=json.dumps("yes"), v=vote_id)
    report = await verify_all(db)
    assert report.broken is None and len(report.problems) == 1 and "differs from the ledger" in report.problems[0]
    with pytest.raises(LedgerMismatch) as refused:
        await voting.close_vote(db, vote_id, MODERATOR, now=T0 + timedelta(days=7))
    assert refused.value.params == {"vote": vote_id, "count": 1}
    message = Translator("en").render(explain(refused.value), "en")
    assert f"Vote #{vote_id} was not closed" in message and "yishi ledger verify" in message
    async with db.uow() as uow:
        assert (await uow.session.get(Vote, vote_id)).status == "open"  # type: ignore[union-attr]


async def test_an_edited_secret_ballot_is_detected(db: Database, make_community) -> None:
    vote_id, _voters = await _story(db, make_community, secret=True)
    async with db.uow() as uow:
        rows = (await uow.session.execute(select(Ballot).order_by(Ballot.elector_key))).scalars().all()
    # Swap two sealed choices: each still opens only for its own elector, so both break.
    await _sql(db, "UPDATE ballot SET sealed = :s WHERE id = :i", s=rows[0].sealed, i=rows[3].id)
    report = await verify_all(db)
    assert report.problems == [f"vote {vote_id}: ballot of {rows[3].elector_key}: the sealed choice does not open"]
    with pytest.raises(LedgerMismatch):
        await voting.close_vote(db, vote_id, MODERATOR, now=T0 + timedelta(days=7))


async def test_a_result_set_to_passed_is_detected(db: Database, make_community) -> None:
    vote_id, _voters = await _story(db, make_community)
    closed = await voting.close_vote(db, vote_id, MODERATOR, now=T0 + timedelta(days=7))
    assert closed.result["passed"] is False and closed.head and len(closed.head) == 64
    forged = {**closed.result, "passed": True}
    async with db.uow() as uow:
        await uow.session.execute(update(Vote).where(Vote.id == vote_id).values(result=forged))  # type: ignore[arg-type]
    report = await verify_all(db)
    assert report.problems == [f"vote {vote_id}: the stored result differs from the ledger"]


async def test_an_edited_registration_is_detected(db: Database, make_community) -> None:
    await _story(db, make_community)
    async with db.uow() as uow:
        link = (await uow.session.execute(select(MemberLink).order_by(MemberLink.id))).scalars().first()
        assert link is not None
        link.role = "resident"
        forged = MemberLink(member_id=link.member_id, exclusive_unit_id=link.exclusive_unit_id + 1, role="owner",
                            status="verified")
        uow.session.add(forged)
    problems = (await verify_all(db)).problems
    assert len(problems) == 2 and "is resident/verified, the ledger says owner/verified" in problems[0]
    assert "the ledger says nothing" in problems[1]


async def test_a_plain_sha256_rechain_is_detected(db: Database, make_community) -> None:
    await _story(db, make_community)
    async with db.uow() as uow:
        entries = (await uow.session.execute(select(LedgerEntry).order_by(LedgerEntry.seq))).scalars().all()  # type: ignore[arg-type]
        prev = GENESIS_HASH
        for entry in entries:  # what an attacker without the key can do: re-chain with plain SHA-256
            envelope = canonical_json({"seq": entry.seq, "at": entry.at.isoformat(), "event": entry.event,
                                       "subject": entry.subject, "payload": entry.payload})
            entry.prev_hash, entry.hash = prev, hashlib.sha256(f"{prev}\n{envelope}".encode()).hexdigest()
            prev = entry.hash
        await uow.session.execute(update(LedgerHead).values(hash=prev))
    report = await verify_all(db)
    assert report.broken is not None and (report.broken.seq, report.broken.reason) == (1, "hash")
    # Marking the ledger as one from before the key does not help: an unkeyed ledger fails verification.
    await _sql(db, "UPDATE ledger_head SET scheme = 'sha256'")
    report = await verify_all(db)
    assert report.broken is not None and report.broken.reason == "unkeyed"


async def test_cutting_the_ledger_back_is_detected_by_a_kept_head(db: Database, make_community) -> None:
    vote_id, _voters = await _story(db, make_community)
    async with db.uow() as uow:
        kept = await uow.ledger.head()
    assert (await verify_all(db, f"{kept['seq']}:{kept['hash']}")).ok
    # Delete the last two entries (two ballots) and move the head back: the chain alone still holds.
    async with db.uow() as uow:
        last = kept["seq"] - 2
        tip = (await uow.session.execute(select(LedgerEntry.hash).where(LedgerEntry.seq == last))).scalar_one()
        await uow.session.execute(LedgerEntry.__table__.delete().where(LedgerEntry.seq > last))  # type: ignore[attr-defined]
        await uow.session.execute(update(LedgerHead).values(seq=last, hash=tip))
    report = await verify_all(db, f"{kept['seq']}:{kept['hash']}")
    assert report.broken is None
    kept_text = f"{kept['seq']}:{kept['hash']}"
    assert f"the kept head {kept_text} is not in this ledger (rewritten or cut back)" in report.problems
    # ... and the two ballots whose entries went are no longer covered.
    assert sum("is not in the ledger" in p for p in report.problems) == 2
    assert not (await verify_all(db, kept["hash"])).ok


async def test_a_ledger_from_before_the_key_is_rekeyed_once(db: Database, make_community) -> None:
    await _story(db, make_community)
    other = Database(db.url, keys=type(db.keys)(b"an-older-plain-ledger-key-" + b"0" * 16, db.keys.ballots))
    try:
        async with db.uow() as uow:  # rebuild the chain as plain SHA-256, as the migration leaves it
            entries = (await uow.session.execute(select(LedgerEntry).order_by(LedgerEntry.seq))).scalars().all()  # type: ignore[arg-type]
            prev = GENESIS_HASH
            for entry in entries:
                envelope = canonical_json({"seq": entry.seq, "at": entry.at.isoformat(), "event": entry.event,
                                           "subject": entry.subject, "payload": entry.payload})
                entry.prev_hash, entry.hash = prev, hashlib.sha256(f"{prev}\n{envelope}".encode()).hexdigest()
                prev = entry.hash
            await uow.session.execute(update(LedgerHead).values(hash=prev, scheme="sha256"))
            former = {"seq": entries[-1].seq, "hash": prev}
        assert (await verify_all(db)).broken.reason == "unkeyed"  # type: ignore[union-attr]
        async with db.uow() as uow:  # the first write re-keys it
            await uow.ledger.append("test_event", "test", {"n": 1})
        report = await verify_all(db)
        assert report.ok and report.checked == former["seq"] + 2
        async with db.uow() as uow:
            keyed = await uow.ledger.for_subject("ledger")
        assert [json.loads(e.payload)["former_head"] for e in keyed] == [former]
        # Under another key the same chain does not verify.
        assert (await verify_all(other)).broken is not None
    finally:
        await other.dispose()


async def test_the_head_is_posted_to_community_rooms_once_per_change(db: Database, make_community) -> None:
    from bot.scheduler.anchor import post_head, queue_head

    await _story(db, make_community)
    async with db.uow() as uow:
        uow.session.add(ChatRoom(platform="telegram", chat_id="-100", community_id=1, scope="all"))
        uow.session.add(ChatRoom(platform="telegram", chat_id="-200", community_id=1, scope="1-1"))
        head = await uow.ledger.head()
    set_context(JobContext(db, Translator("en"), T0.tzinfo))  # type: ignore[arg-type]
    try:
        await post_head()
        async with db.uow() as uow:
            assert await queue_head(uow) == 0  # the same head is not posted twice
    finally:
        set_context(None)
    async with db.uow() as uow:
        rows = (await uow.session.execute(select(OutboxMessage))).scalars().all()
    assert [(r.chat_id, r.payload["text"]) for r in rows] == [
        ("-100", f"Ledger head today: {head['seq']}:{head['hash']}. Keep this message: `yishi ledger verify "
                 f"--head {head['seq']}:{head['hash']}` checks that the ledger still contains it.")]


def test_ledger_verify_head_on_the_command_line(tmp_path: Path, database_url: str) -> None:
    (tmp_path / ".env").write_text(f"DATABASE_URL={database_url}\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in {"BOT_TOKEN", "DATABASE_URL"}}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "bot", *args], cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=120)

    sample = Path(__file__).resolve().parents[2] / "data" / "sample" / "census-sample.csv"
    assert run("census", "import", str(sample), "--community", "X").returncode == 0
    ok = run("ledger", "verify")
    assert ok.returncode == 0 and "Ledger OK: 1 entries verified, rows match." in ok.stdout
    missing = run("ledger", "verify", "--head", "1:" + "ab" * 32)
    assert missing.returncode == 1 and "is not in this ledger" in missing.stderr
