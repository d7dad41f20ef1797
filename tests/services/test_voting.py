"""Votes through the services, on SQLite and PostgreSQL, with exact boundaries."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.deliberation.errors import AlreadyDone, IllegalTransition, InvalidInput, NotEligible
from bot.services import agenda, voting
from bot.services.directory import Actor
from bot.services.ledger import verify_ledger
from bot.storage import Database
from bot.storage.models import Ballot, LedgerEntry, MemberLink
from tests.services.conftest import MODERATOR, T0, census


async def _agenda_item(db: Database, cid: int, author: Actor, category: str = "other", scope: str = "1-1") -> int:
    p = (await agenda.propose(db, cid, author, f"Matter {category}", scope=scope, category=category, force=True,
                              now=T0)).proposal
    if p.state == "collecting":
        raise AssertionError("use support_fixed=1 in these tests")
    await agenda.accept(db, p.id, MODERATOR, now=T0)
    return p.id


async def _vote(db, make_community, link, areas: list[str], kind: str, category: str = "other", **settings):
    homes = [("1-1", f"10{i}", 1, area, f"O{i}", "person") for i, area in enumerate(areas, start=1)]
    cid = await make_community(census(*homes), support_fixed=1, **settings)
    voters = [await link(cid, f"1-1-10{i}", i) for i in range(1, len(areas) + 1)]
    pid = await _agenda_item(db, cid, voters[0], category)
    vote = await voting.open_vote(db, pid, MODERATOR, kind, 7, now=T0)
    return cid, pid, vote.id, voters


def _criteria(result) -> dict[str, bool]:
    return {c["name"]: c["met"] for c in result["criteria"]}


async def test_exactly_two_thirds_participation_passes(db: Database, make_community, link) -> None:
    _, _, vid, v = await _vote(db, make_community, link, ["100.00", "100.00", "100.00"], "art278")
    for voter in v[:2]:
        await voting.cast_ballot(db, vid, voter, "yes", now=T0)
    closed = await voting.close_vote(db, vid, MODERATOR, now=T0 + timedelta(days=1))
    r = closed.result
    assert r["passed"] and all(_criteria(r).values())
    part = next(c for c in r["criteria"] if c["name"] == "participation_area")
    assert (part["actual"], part["required"]) == ("66.67%", "66.67%")
    assert r["participated"] == {"heads": 2, "area_m2": "200.00"}
    assert closed.proposal.state == "adopted"


async def test_one_hundredth_of_a_square_metre_less_fails(db: Database, make_community, link) -> None:
    _, _, vid, v = await _vote(db, make_community, link, ["100.00", "99.99", "100.00"], "art278")
    for voter in v[:2]:
        await voting.cast_ballot(db, vid, voter, "yes", now=T0)
    closed = await voting.close_vote(db, vid, MODERATOR, now=T0 + timedelta(days=1))
    met = _criteria(closed.result)
    assert not closed.result["passed"] and not met["participation_area"] and met["participation_heads"]
    assert closed.proposal.state == "rejected"


async def test_exactly_three_quarters_passes_a_major_matter(db: Database, make_community, link) -> None:
    _, _, vid, v = await _vote(db, make_community, link, ["100.00"] * 4, "art278_major")
    for voter, position in zip(v, ["yes", "yes", "yes", "no"], strict=True):
        await voting.cast_ballot(db, vid, voter, position, now=T0)
    assert (await voting.close_vote(db, vid, MODERATOR, now=T0))  .result["passed"]


async def test_three_quarters_less_one_hundredth_fails(db: Database, make_community, link) -> None:
    _, _, vid, v = await _vote(db, make_community, link, ["100.00", "100.00", "99.99", "100.00"], "art278_major")
    for voter, position in zip(v, ["yes", "yes", "yes", "no"], strict=True):
        await voting.cast_ballot(db, vid, voter, position, now=T0)
    result = (await voting.close_vote(db, vid, MODERATOR, now=T0)).result
    assert not result["passed"] and _criteria(result) == {
        "participation_area": True, "participation_heads": True, "approval_area": False, "approval_heads": True}


async def test_exactly_half_fails_an_ordinary_matter(db: Database, make_community, link) -> None:
    _, _, vid, v = await _vote(db, make_community, link, ["100.00"] * 4, "art278")
    for voter, position in zip(v, ["yes", "yes", "no", "no"], strict=True):
        await voting.cast_ballot(db, vid, voter, position, now=T0)
    result = (await voting.close_vote(db, vid, MODERATOR, now=T0)).result
    assert not result["passed"] and not _criteria(result)["approval_heads"]


async def test_abstention_takes_part_but_is_not_yes(db: Database, make_community, link) -> None:
    _, _, vid, v = await _vote(db, make_community, link, ["100.00"] * 3, "art278")
    for voter, position in zip(v, ["yes", "abstain", "no"], strict=True):
        await voting.cast_ballot(db, vid, voter, position, now=T0)
    result = (await voting.close_vote(db, vid, MODERATOR, now=T0)).result
    assert result["participated"]["heads"] == 3 and result["abstain"] == {"heads": 1, "area_m2": "100.00"}
    assert not result["passed"]  # 1 yes of 3 taking part is not more than half


async def test_multi_unit_and_developer_owners_count_once(db: Database, make_community, link) -> None:
    text = census(("1-1", "101", 1, "50.00", "O1", "person"), ("1-1", "102", 1, "60.00", "O1", "person"),
                  ("1-1", "201", 2, "70.00", "D", "developer"), ("1-1", "202", 2, "80.00", "D2", "developer"),
                  ("1-1", "301", 3, "90.00", "O3", "person"))
    cid = await make_community(text, support_fixed=1)
    multi = await link(cid, "1-1-101", 1)
    pid = await _agenda_item(db, cid, multi)
    vote = await voting.open_vote(db, pid, MODERATOR, "art278", 7, now=T0)
    cast = await voting.cast_ballot(db, vote.id, multi, "yes", now=T0)
    assert len(cast.electors) == 1  # one position for both homes
    developer = await link(cid, "1-1-201", 2)
    await voting.cast_ballot(db, vote.id, developer, "yes", now=T0)
    result = (await voting.close_vote(db, vote.id, MODERATOR, now=T0)).result
    # Heads: O1, the developer (two developer owners together), O3 = 3; area 350.00.
    assert result["eligible"] == {"heads": 3, "area_m2": "350.00"}
    assert result["yes"] == {"heads": 2, "area_m2": "260.00"}
    assert result["roll_size"] == 3


async def test_ballot_change_last_one_counts_and_both_are_in_the_ledger(db: Database, make_community,
                                                                          link) -> None:
    _, _, vid, v = await _vote(db, make_community, link, ["100.00"] * 3, "art278")
    assert (await voting.cast_ballot(db, vid, v[0], "yes", now=T0)).changed
    assert not (await voting.cast_ballot(db, vid, v[0], "yes", now=T0)).changed  # repeated press
    assert (await voting.cast_ballot(db, vid, v[0], "no", now=T0)).changed
    await voting.cast_ballot(db, vid, v[1], "no", now=T0)
    result = (await voting.close_vote(db, vid, MODERATOR, now=T0)).result
    assert result["no"]["heads"] == 2 and result["yes"]["heads"] == 0
    async with db.uow() as uow:
        events = [e.event for e in await uow.ledger.for_subject(f"vote:{vid}")]
    assert events == ["ballot_cast", "ballot_changed", "ballot_cast"]
    assert (await verify_ledger(db))[1] is None


async def test_paper_ballot_is_overridden_by_the_owner(db: Database, make_community, link) -> None:
    _, _, vid, v = await _vote(db, make_community, link, ["100.00"] * 3, "art278")
    with pytest.raises(NotEligible):
        await voting.paper_ballot(db, vid, v[1], "1-1-101", "yes", "signed form 1", now=T0)  # not a moderator
    with pytest.raises(InvalidInput):
        await voting.paper_ballot(db, vid, MODERATOR, "1-1-101", "yes", " ", now=T0)
    paper = await voting.paper_ballot(db, vid, MODERATOR, "1-1-101", "yes", "signed paper ballot no. 7", now=T0)
    assert paper.changed
    await voting.cast_ballot(db, vid, v[0], "no", now=T0)  # the owner's own later ballot
    with pytest.raises(AlreadyDone):
        await voting.paper_ballot(db, vid, MODERATOR, "1-1-101", "yes", "another form", now=T0)
    async with db.uow() as uow:
        ballot = (await uow.session.execute(select(Ballot).where(Ballot.vote_id == vid))).scalar_one()
        entries = await uow.ledger.for_subject(f"vote:{vid}")
    assert (ballot.choice, ballot.source, ballot.revision) == ("no", "self", 2)
    first = json.loads(entries[0].payload)
    assert first["source"] == "paper" and first["authority"] == "signed paper ballot no. 7" and first["by"]


async def test_off_roll_closed_and_malformed_ballots_are_refused(db: Database, make_community, link) -> None:
    text = census(("1-1", "101", 1, "100.00", "O1", "person"), ("1-2", "101", 1, "100.00", "O2", "person"))
    cid = await make_community(text, support_fixed=1)
    insider, outsider = await link(cid, "1-1-101", 1), await link(cid, "1-2-101", 2)
    tenant = await link(cid, "1-1-101", 3, role="resident")
    pid = await _agenda_item(db, cid, insider, "elevator")
    with pytest.raises(InvalidInput):
        await voting.open_vote(db, pid, MODERATOR, "art278", 7, now=T0)  # an elevator is art278_major
    with pytest.raises(InvalidInput):
        await voting.open_vote(db, pid, MODERATOR, "elevator", 2, now=T0)  # too short for owners
    vote = await voting.open_vote(db, pid, MODERATOR, "elevator", 7, now=T0)
    assert vote.kind == "art278_major"
    for stranger in (outsider, tenant, Actor("telegram", "555")):
        with pytest.raises(NotEligible):
            await voting.cast_ballot(db, vote.id, stranger, "yes", now=T0)
    with pytest.raises(InvalidInput):
        await voting.cast_ballot(db, vote.id, insider, "maybe", now=T0)
    with pytest.raises(IllegalTransition):
        await voting.close_vote(db, vote.id, None, now=T0)  # the system waits for the deadline
    await voting.close_vote(db, vote.id, MODERATOR, now=T0)
    with pytest.raises(IllegalTransition):
        await voting.cast_ballot(db, vote.id, insider, "yes", now=T0)
    with pytest.raises(IllegalTransition):
        await voting.close_vote(db, vote.id, MODERATOR, now=T0)


async def test_the_roll_is_frozen_when_the_vote_opens(db: Database, make_community, link) -> None:
    _, _, vid, v = await _vote(db, make_community, link, ["100.00"] * 2, "art278")
    async with db.uow() as uow:  # the census changes after the vote opened
        for row in (await uow.session.execute(select(MemberLink))).scalars():
            row.status = "verified"
    from bot.services.census import import_census

    await import_census(db, "T", census(("1-1", "101", 1, "100.00", "O1", "person"),
                                        ("1-1", "102", 1, "100.00", "O2", "person"),
                                        ("1-1", "103", 1, "500.00", "O3", "person")))
    _, standing = await voting.turnout(db, vid)
    assert standing["eligible"] == {"heads": 2, "area_centi": 20000}


async def test_deadline_closes_and_system_close(db: Database, make_community, link) -> None:
    _, _, vid, v = await _vote(db, make_community, link, ["100.00"] * 2, "art278")
    await voting.cast_ballot(db, vid, v[0], "yes", now=T0)
    assert await voting.votes_due(db, now=T0 + timedelta(days=6)) == []
    later = T0 + timedelta(days=7)
    with pytest.raises(IllegalTransition):
        await voting.cast_ballot(db, vid, v[1], "yes", now=later)
    assert await voting.votes_due(db, now=later) == [vid]
    closed = await voting.close_vote(db, vid, None, now=later)
    assert closed.vote.status == "closed" and not closed.result["passed"]


async def test_secret_vote_keeps_choices_out_of_the_ledger(db: Database, make_community, link) -> None:
    homes = [("1-1", f"10{i}", 1, "100.00", f"O{i}", "person") for i in range(1, 4)]
    cid = await make_community(census(*homes), support_fixed=1)
    voters = [await link(cid, f"1-1-10{i}", i) for i in range(1, 4)]
    pid = await _agenda_item(db, cid, voters[0])
    vote = await voting.open_vote(db, pid, MODERATOR, "art278", 7, secret=True, now=T0)
    for voter, position in zip(voters, ["yes", "no", "yes"], strict=True):
        await voting.cast_ballot(db, vote.id, voter, position, now=T0)
    async with db.uow() as uow:
        payloads = [json.loads(e.payload) for e in (await uow.session.execute(select(LedgerEntry))).scalars()
                    if e.subject == f"vote:{vote.id}"]
        ballots = (await uow.session.execute(select(Ballot))).scalars().all()
    assert len(payloads) == 3 and all("choice" not in p and len(p["commitment"]) == 64 for p in payloads)
    from bot.deliberation.secrecy import keyed_commitment, unseal

    # Nothing in clear beside the caster: no choice, no opening; the commitment is keyed.
    assert all(b.choice is None and b.nonce == "" and b.sealed for b in ballots)
    opened = {b.elector_key: unseal(db.keys.ballots, vote.id, b.elector_key, b.revision, b.sealed or "")
              for b in ballots}
    assert sorted(opened.values()) == ["no", "yes", "yes"]
    assert {b.commitment for b in ballots} == {
        keyed_commitment(db.keys.ballots, vote.id, b.elector_key, b.revision, opened[b.elector_key]) for b in ballots}
    result = (await voting.close_vote(db, vote.id, MODERATOR, now=T0)).result
    # Three equal homes: 2 yes / 1 no fits any two of them, so nobody is singled out and sums are exact.
    assert result["yes"]["heads"] == 2 and result["secrecy"] == {"published": "exact"}


async def test_council_and_choice_kinds(db: Database, make_community, link) -> None:
    homes = [("1-1", f"10{i}", 1, "100.00", f"O{i}", "person") for i in range(1, 4)]
    cid = await make_community(census(*homes), support_fixed=1)
    voters = [await link(cid, f"1-1-10{i}", i) for i in range(1, 4)]
    pid = await _agenda_item(db, cid, voters[0])
    with pytest.raises(InvalidInput):
        await voting.open_vote(db, pid, MODERATOR, "ranked", 3, options=["Red"], now=T0)
    vote = await voting.open_vote(db, pid, MODERATOR, "ranked", 3, options=["Red", "Green", "Blue"], now=T0)
    await voting.cast_ballot(db, vote.id, voters[0], [1, 0], now=T0)
    await voting.cast_ballot(db, vote.id, voters[1], [1, 2, 0], now=T0)
    with pytest.raises(InvalidInput):
        await voting.cast_ballot(db, vote.id, voters[2], [5], now=T0)
    result = (await voting.close_vote(db, vote.id, MODERATOR, now=T0)).result
    assert result["winners"] == [1] and result["options"][1] == "Green"
    # A council vote: only council members are on the roll.
    pid2 = await _agenda_item(db, cid, voters[0])
    council = await voting.open_vote(db, pid2, MODERATOR, "council", 2, now=T0)
    with pytest.raises(NotEligible):
        await voting.cast_ballot(db, council.id, voters[1], "yes", now=T0)
    await voting.cast_ballot(db, council.id, MODERATOR, "yes", now=T0)
    assert (await voting.close_vote(db, council.id, MODERATOR, now=T0)).result["passed"]


async def test_concurrent_ballots_200_owners_plus_50_duplicates(db: Database, make_community) -> None:
    homes = [("1-1", str(1000 + i), 1, "80.00", f"O{i}", "person") for i in range(200)]
    cid = await make_community(census(*homes), support_fixed=1)
    actors = []
    async with db.uow() as uow:
        from bot.deliberation.scope import Scope
        from bot.services.directory import homes as homes_in
        from bot.storage.models import utcnow

        for i, home in enumerate(await homes_in(uow, cid, Scope.community())):
            member = await uow.member("telegram", str(i + 1))
            uow.session.add(MemberLink(member_id=member.id, exclusive_unit_id=home.id, role="owner",
                                       status="verified", created_at=utcnow()))
            actors.append(Actor("telegram", str(i + 1)))
    pid = await _agenda_item(db, cid, actors[0], scope="all")
    vote = await voting.open_vote(db, pid, MODERATOR, "art278", 7, now=T0)
    presses = [(a, "yes") for a in actors] + [(a, "yes") for a in actors[:50]]
    results = await asyncio.gather(*(voting.cast_ballot(db, vote.id, a, c, now=T0) for a, c in presses),
                                   return_exceptions=True)
    errors = [r for r in results if isinstance(r, BaseException)]
    assert errors == []
    async with db.uow() as uow:
        counted = len((await uow.session.execute(select(Ballot).where(Ballot.vote_id == vote.id))).all())
        cast_events = await uow.ledger.count("ballot_cast", f"vote:{vote.id}")
    assert counted == 200 and cast_events == 200
    assert (await voting.close_vote(db, vote.id, MODERATOR, now=T0)).result["yes"]["heads"] == 200
    assert (await verify_ledger(db))[1] is None
