"""Votes: open with a frozen roll, cast and change ballots, paper and proxy ballots, close and tally."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, func, select

from bot.deliberation.errors import AlreadyDone, IllegalTransition, InvalidInput, NotEligible, NotFound
from bot.deliberation.ledger import commitment
from bot.deliberation.mandate import Power
from bot.deliberation.proposal import Category, ProposalAction, ProposalState, after_passed_vote, transition
from bot.deliberation.scope import Scope
from bot.deliberation.tally import (
    BinaryResult,
    ChoiceResult,
    Elector,
    tally_approval,
    tally_binary,
    tally_choice,
    tally_ranked,
)
from bot.deliberation.vote_kinds import BallotType, Electorate, VoteKind, get_kind
from bot.services import directory
from bot.services.directory import Actor
from bot.storage.models import Ballot, Proposal, RollEntry, Vote, utcnow
from bot.storage.uow import Database, UnitOfWork

POSITIONS = ("yes", "no", "abstain")
MAX_OPTIONS = 10
# E-vote windows of 5-60 days for owners' meetings (Hangzhou); other kinds may be shorter.
OWNERS_MIN_DAYS, MAX_DAYS = 5, 60


async def _vote(uow: UnitOfWork, vote_id: int, *, lock: bool = False) -> Vote:
    return await uow.get(Vote, vote_id, what="vote", lock=lock)


async def current_vote(uow: UnitOfWork, proposal_id: int) -> Vote | None:
    query = select(Vote).where(Vote.proposal_id == proposal_id).order_by(Vote.id.desc()).limit(1)  # type: ignore[union-attr]
    return (await uow.session.execute(query)).scalar_one_or_none()


async def open_vote(
    db: Database,
    proposal_id: int,
    actor: Actor,
    kind_name: str,
    days: int = 7,
    *,
    secret: bool | None = None,
    options: list[str] | None = None,
    max_choices: int = 1,
    now: datetime | None = None,
) -> Vote:
    """Open the vote on an agenda item; the roll is computed from the census now and frozen."""
    now = now or utcnow()
    kind = get_kind(kind_name)
    async with db.uow() as uow:
        proposal = await uow.get(Proposal, proposal_id, what="proposal", lock=True)
        moderator = await directory.require_moderator(uow, actor, proposal.community_id, power=Power.OPEN_VOTE)
        if Category(proposal.category) is Category.ELEVATOR and kind.name != "art278_major":
            # Altering the building is an Art. 278 items 6-8 matter: 3/4 of those taking part.
            raise InvalidInput("an elevator is voted as art278_major", field="kind", value=kind_name,
                               reason="elevator_kind")
        low = OWNERS_MIN_DAYS if kind.electorate is Electorate.OWNERS else 1
        if not low <= days <= MAX_DAYS:
            raise InvalidInput(f"voting period must be {low}-{MAX_DAYS} days", field="days", min=low, max=MAX_DAYS)
        choices = _check_options(kind, options, max_choices)
        before = proposal.state
        proposal.state = str(transition(ProposalState(proposal.state), ProposalAction.OPEN_VOTE))
        proposal.state_changed_at = now
        community = await directory.community_by_id(uow, proposal.community_id)
        roll = await directory.build_roll(uow, proposal.community_id, Scope.parse(proposal.scope), kind.electorate)
        if not roll:
            raise NotEligible("nobody is entitled to vote in this scope", reason="empty_roll")
        vote = Vote(
            proposal_id=proposal_id, kind=kind.name, scope=proposal.scope,
            secret=kind.secret if secret is None else secret, options=choices,
            max_choices=max_choices if kind.ballot is BallotType.CHOICE else len(choices or []) or 1,
            non_voters_follow_majority=community.non_voters_follow_majority and kind.covenant,
            opened_by_member_id=moderator.id, opened_at=now, closes_at=now + timedelta(days=days),
        )
        uow.session.add(vote)
        await uow.session.flush()
        assert vote.id is not None
        uow.session.add_all(RollEntry(vote_id=vote.id, elector_key=e.key, area_centi=e.area) for e in roll)
        await uow.ledger.append(
            "vote_opened", f"proposal:{proposal_id}",
            {"vote": vote.id, "kind": kind.name, "by": moderator.id, "from": before, "secret": vote.secret,
             "options": choices, "closes_at": vote.closes_at.isoformat(), "roll_size": len(roll),
             "roll_heads": len(roll), "roll_area_centi": sum(e.area for e in roll),
             "covenant": vote.non_voters_follow_majority},
            at=now,
        )
        await uow.session.flush()
        return vote


def _check_options(kind: VoteKind, options: list[str] | None, max_choices: int) -> list[str] | None:
    if kind.ballot is BallotType.YES_NO:
        if options:
            raise InvalidInput("a yes/no vote takes no options", field="options")
        return None
    cleaned = [o.strip() for o in options or [] if o.strip()]
    if not 2 <= len(cleaned) <= MAX_OPTIONS or len(set(cleaned)) != len(cleaned):
        raise InvalidInput(f"give 2-{MAX_OPTIONS} different options", field="options", max=MAX_OPTIONS)
    if any(len(o) > 100 for o in cleaned):
        raise InvalidInput("an option is at most 100 characters", field="options")
    if kind.ballot is BallotType.CHOICE and not 1 <= max_choices <= len(cleaned):
        raise InvalidInput("max choices out of range", field="max_choices")
    return cleaned


def normalize_choice(kind: VoteKind, vote: Vote, choice: Any) -> Any:
    """The canonical form of a ballot, or InvalidInput."""
    if kind.ballot is BallotType.YES_NO:
        if choice not in POSITIONS:
            raise InvalidInput("choose yes, no or abstain", field="choice")
        return choice
    n = len(vote.options or [])
    if not isinstance(choice, list | tuple) or not all(isinstance(i, int) and not isinstance(i, bool)
                                                        for i in choice):
        raise InvalidInput("a list of option numbers is expected", field="choice")
    if any(not 0 <= i < n for i in choice) or len(set(choice)) != len(choice):
        raise InvalidInput("option out of range or repeated", field="choice")
    if kind.ballot is BallotType.RANKED:
        if not choice:
            raise InvalidInput("rank at least one option", field="choice")
        return list(choice)  # order matters: best first
    if not choice or (kind.ballot is BallotType.CHOICE and len(choice) > vote.max_choices):
        raise InvalidInput("choose between 1 and the allowed number of options", field="choice",
                           max=vote.max_choices)
    return sorted(choice)


@dataclass(frozen=True, slots=True)
class Cast:
    vote: Vote
    electors: list[str]
    changed: bool  # False when the same position was already recorded (a repeated press)
    choice: Any


def _ensure_open(vote: Vote, now: datetime) -> None:
    if vote.status != "open":
        raise IllegalTransition("closed", "cast")
    if now >= vote.closes_at:
        raise IllegalTransition("past_deadline", "cast")


async def _roll_keys(uow: UnitOfWork, vote_id: int, keys: list[str]) -> list[str]:
    if not keys:
        return []
    found = await uow.session.execute(
        select(RollEntry.elector_key).where(RollEntry.vote_id == vote_id,
                                            RollEntry.elector_key.in_(keys)))  # type: ignore[attr-defined]
    return sorted(found.scalars())


@dataclass(frozen=True, slots=True)
class BallotWrite:
    """One ballot as stored, and the ledger entry that records it."""

    row: dict[str, Any]
    event: str
    payload: dict[str, Any]


def ballot_write(
    vote: Vote, elector: str, choice: Any, *, source: str, member_id: int | None, authority: str | None,
    revision: int, now: datetime,
) -> BallotWrite:
    nonce = secrets.token_hex(16)
    digest = commitment(nonce, choice)
    row = {"vote_id": vote.id, "elector_key": elector, "choice": choice, "commitment": digest, "nonce": nonce,
           "source": source, "authority": authority, "cast_by_member_id": member_id, "revision": revision,
           "cast_at": now}
    payload: dict[str, Any] = {"vote": vote.id, "elector": elector, "source": source, "revision": revision,
                               "by": member_id, "commitment": digest}
    if authority:
        payload["authority"] = authority
    if not vote.secret:
        payload["choice"] = choice  # open ballots can be inspected by owners (Interpretation Art. 13)
    return BallotWrite(row, "ballot_cast" if revision == 1 else "ballot_changed", payload)


async def _record(
    uow: UnitOfWork, vote: Vote, elector: str, choice: Any, *, source: str, member_id: int | None,
    authority: str | None, now: datetime,
) -> bool:
    """Insert or change one elector's ballot; the last one counts. True if anything changed."""
    assert vote.id is not None
    write = ballot_write(vote, elector, choice, source=source, member_id=member_id, authority=authority,
                         revision=1, now=now)
    if not await uow.insert_ignore(Ballot, write.row, ("vote_id", "elector_key")):
        ballot = (
            await uow.session.execute(
                select(Ballot).where(Ballot.vote_id == vote.id, Ballot.elector_key == elector).with_for_update()
            )
        ).scalar_one()
        if source != "self" and ballot.source == "self":
            # A moderator's paper or proxy entry never overrides the owner's own ballot.
            raise AlreadyDone("the owner has voted themselves", reason="owner_voted")
        if ballot.choice == choice and ballot.source == source:
            return False
        write = ballot_write(vote, elector, choice, source=source, member_id=member_id, authority=authority,
                             revision=ballot.revision + 1, now=now)
        for key, value in write.row.items():
            setattr(ballot, key, value)
    await uow.ledger.append(write.event, f"vote:{vote.id}", write.payload, at=now)
    return True


async def _ballot_for(
    uow: UnitOfWork, vote_id: int, choice: Any, now: datetime
) -> tuple[Vote, VoteKind, Any, Proposal]:
    """The open vote a ballot is for, its kind, the ballot in canonical form, and the proposal."""
    vote = await _vote(uow, vote_id)
    _ensure_open(vote, now)
    kind = get_kind(vote.kind)
    proposal = await uow.get(Proposal, vote.proposal_id, what="proposal")
    return vote, kind, normalize_choice(kind, vote, choice), proposal


async def cast_ballot(db: Database, vote_id: int, actor: Actor, choice: Any, now: datetime | None = None) -> Cast:
    """Cast or change the actor's ballot, for every elector they represent on the roll."""
    now = now or utcnow()
    async with db.uow() as uow:
        vote, kind, choice, proposal = await _ballot_for(uow, vote_id, choice, now)
        member = await directory.member_of(uow, actor)
        assert member.id is not None
        keys = await directory.elector_keys(uow, member.id, proposal.community_id, Scope.parse(vote.scope),
                                            kind.electorate)
        electors = await _roll_keys(uow, vote_id, keys)
        if not electors:
            raise NotEligible("not on this vote's roll", reason="not_on_roll", vote=vote_id)
        changed = False
        for elector in electors:
            changed |= await _record(uow, vote, elector, choice, source="self", member_id=member.id,
                                     authority=None, now=now)
        return Cast(vote, electors, changed, choice)


async def paper_ballot(
    db: Database, vote_id: int, actor: Actor, home_label: str, choice: Any, authority: str,
    *, source: str = "paper", now: datetime | None = None,
) -> Cast:
    """A moderator enters a paper or proxy ballot for the elector of a home, citing the authority."""
    now = now or utcnow()
    authority = authority.strip()
    if not authority:
        raise InvalidInput("say on what authority (e.g. signed paper ballot no. 12)", field="authority")
    if source not in ("paper", "proxy"):
        raise InvalidInput("source is paper or proxy", field="source")
    async with db.uow() as uow:
        vote, kind, choice, proposal = await _ballot_for(uow, vote_id, choice, now)
        moderator = await directory.require_moderator(uow, actor, proposal.community_id, power=Power.PAPER_BALLOT)
        home = await directory.home_by_label(uow, proposal.community_id, home_label)
        await directory.refuse_own_home(uow, moderator.id or 0, home.id, home.owner_id)
        key = home.owner_key if kind.electorate is Electorate.OWNERS else f"unit:{home.id}"
        if kind.electorate is Electorate.COUNCIL or not await _roll_keys(uow, vote_id, [key]):
            raise NotEligible("that home is not on this vote's roll", reason="not_on_roll", vote=vote_id)
        changed = await _record(uow, vote, key, choice, source=source, member_id=moderator.id,
                                authority=authority[:500], now=now)
        return Cast(vote, [key], changed, choice)


# --- closing ----------------------------------------------------------------------------------------


async def roll_and_ballots(uow: UnitOfWork, vote_id: int) -> tuple[list[Elector], dict[str, Any]]:
    roll = [Elector(key, area) for key, area in await uow.session.execute(
        select(RollEntry.elector_key, RollEntry.area_centi).where(RollEntry.vote_id == vote_id))]
    ballots = {key: choice for key, choice in await uow.session.execute(
        select(Ballot.elector_key, Ballot.choice).where(Ballot.vote_id == vote_id))}
    return roll, ballots


def tally(kind: VoteKind, vote: Vote, roll: list[Elector], ballots: dict[str, Any]) -> BinaryResult | ChoiceResult:
    if kind.ballot is BallotType.YES_NO:
        return tally_binary(kind, roll, ballots, non_voters_follow_majority=vote.non_voters_follow_majority)
    options = vote.options or []
    if kind.ballot is BallotType.RANKED:
        return tally_ranked(kind, roll, {k: tuple(v) for k, v in ballots.items()}, options)
    if kind.ballot is BallotType.APPROVAL:
        return tally_approval(kind, roll, {k: frozenset(v) for k, v in ballots.items()}, options)
    return tally_choice(kind, roll, {k: frozenset(v) for k, v in ballots.items()}, options,
                        max_choices=vote.max_choices)


def result_document(result: BinaryResult | ChoiceResult, roll_size: int) -> dict[str, Any]:
    """The frozen, exported form of a result: integers for heads, exact decimal strings for area."""
    def measure(m: Any) -> dict[str, Any]:
        return {"heads": m.heads, "area_m2": m.area_m2}

    doc: dict[str, Any] = {
        "kind": result.kind,
        "passed": result.passed,
        "roll_size": roll_size,
        "eligible": measure(result.eligible),
        "participated": measure(result.participated),
        "criteria": [
            {"name": c.name, "measure": str(c.measure), "op": str(c.op), "required": c.required, "actual": c.actual,
             "met": c.met, "numerator": c.numerator, "denominator": c.denominator,
             "ratio": f"{c.ratio.numerator}/{c.ratio.denominator}"}
            for c in result.criteria
        ],
    }
    if isinstance(result, BinaryResult):
        doc.update(yes=measure(result.yes), no=measure(result.no), abstain=measure(result.abstain))
        if result.covenant is not None:
            note = result.covenant
            doc["covenant"] = {"outcome": str(note.outcome), "side": note.side and str(note.side),
                               "followers": measure(note.followers), "non_voters": measure(note.non_voters),
                               "sources": list(note.sources), "explain": note.explain()}
    else:
        doc.update(options=list(result.options), scores=[measure(s) for s in result.scores],
                   winners=list(result.winners), order=[list(group) for group in result.order])
    return doc


@dataclass(frozen=True, slots=True)
class Closed:
    vote: Vote
    proposal: Proposal
    result: dict[str, Any]


async def close_vote(db: Database, vote_id: int, actor: Actor | None = None, now: datetime | None = None) -> Closed:
    """Close a vote (a moderator at any time, the system at its deadline) and freeze its result."""
    now = now or utcnow()
    async with db.uow() as uow:
        return await close_in(uow, vote_id, actor, now)


async def close_in(uow: UnitOfWork, vote_id: int, actor: Actor | None, now: datetime) -> Closed:
    """``close_vote`` inside the caller's unit of work, so the result is announced in the same transaction."""
    vote = await _vote(uow, vote_id, lock=True)
    proposal = await uow.get(Proposal, vote.proposal_id, what="proposal", lock=True)
    by: int | None = None
    if actor is not None:
        # Only a council member ends a vote early; the deadline closes it otherwise.
        by = (await directory.require_moderator(uow, actor, proposal.community_id, power=Power.CLOSE_VOTE)).id
    elif now < vote.closes_at:
        raise IllegalTransition("open", "close_before_deadline")
    if vote.status != "open":
        raise IllegalTransition("closed", "close")
    kind = get_kind(vote.kind)
    roll, ballots = await roll_and_ballots(uow, vote_id)
    result = result_document(tally(kind, vote, roll, ballots), len(roll))
    vote.status, vote.closed_at, vote.result = "closed", now, result
    community = await directory.community_by_id(uow, proposal.community_id)
    if result["passed"]:
        action = after_passed_vote(Category(proposal.category))
        if action is ProposalAction.OPEN_OBJECTIONS and community.elevator_rule == "vote_only":
            action = ProposalAction.VOTE_PASSED
    else:
        action = ProposalAction.VOTE_FAILED
    proposal.state = str(transition(ProposalState(proposal.state), action))
    proposal.state_changed_at = now
    if action is ProposalAction.OPEN_OBJECTIONS:
        proposal.objection_until = now + timedelta(days=community.objection_days)
    await uow.ledger.append(
        "vote_closed", f"proposal:{proposal.id}",
        {"vote": vote_id, "by": by, "result": result, "proposal_state": proposal.state,
         "objection_until": proposal.objection_until.isoformat() if proposal.objection_until else None},
        at=now,
    )
    return Closed(vote, proposal, result)


async def votes_due(db: Database, now: datetime | None = None) -> list[int]:
    now = now or utcnow()
    async with db.uow() as uow:
        rows = await uow.session.execute(select(Vote.id).where(Vote.status == "open", Vote.closes_at <= now))
        return [int(v) for v in rows.scalars()]


async def turnout(db: Database, vote_id: int) -> tuple[Vote, dict[str, Any]]:
    """Live participation (public even for secret votes): heads and area that took part, summed in SQL."""
    found = await turnouts(db, [vote_id])
    if vote_id not in found:
        raise NotFound(f"no vote #{vote_id}", what="vote", id=vote_id)
    return found[vote_id]


async def turnouts(db: Database, vote_ids: list[int]) -> dict[int, tuple[Vote, dict[str, Any]]]:
    """Turnout of several votes in one query (the ballot board refreshes them together)."""
    async with db.uow(readonly=True) as uow:
        return await turnouts_in(uow, vote_ids)


async def turnouts_in(uow: UnitOfWork, vote_ids: list[int]) -> dict[int, tuple[Vote, dict[str, Any]]]:
    votes = {v.id: v for v in (await uow.session.execute(
        select(Vote).where(Vote.id.in_(vote_ids)))).scalars()}  # type: ignore[union-attr]
    voted = Ballot.id.is_not(None)  # type: ignore[union-attr]
    rows = await uow.session.execute(
        select(RollEntry.vote_id, func.count(RollEntry.id), func.coalesce(func.sum(RollEntry.area_centi), 0),
               func.count(Ballot.id), func.coalesce(func.sum(case((voted, RollEntry.area_centi), else_=0)), 0))
        .select_from(RollEntry)
        .outerjoin(Ballot, (Ballot.vote_id == RollEntry.vote_id)  # type: ignore[arg-type]
                   & (Ballot.elector_key == RollEntry.elector_key))
        .where(RollEntry.vote_id.in_(vote_ids))  # type: ignore[attr-defined]
        .group_by(RollEntry.vote_id))
    sums = {vote_id: rest for vote_id, *rest in rows}
    out = {}
    for vote_id, vote in votes.items():
        heads, area, took_heads, took_area = sums.get(vote_id, (0, 0, 0, 0))
        out[vote_id] = (vote, {
            "eligible": {"heads": int(heads), "area_centi": int(area)},
            "participated": {"heads": int(took_heads), "area_centi": int(took_area)},
            "measures_area": get_kind(vote.kind).measures_area(),
        })
    return out
