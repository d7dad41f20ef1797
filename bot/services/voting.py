"""Votes: open with a frozen roll, cast and change ballots, paper and proxy ballots, close and tally."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, func, insert, select, tuple_, update
from sqlmodel import col

from bot.deliberation import secrecy
from bot.deliberation.errors import (
    AlreadyDone,
    DomainError,
    IllegalTransition,
    InvalidInput,
    LedgerMismatch,
    NotEligible,
    NotFound,
)
from bot.deliberation.ledger import commitment
from bot.deliberation.mandate import Power
from bot.deliberation.proposal import Category, ProposalAction, ProposalState, after_passed_vote, transition
from bot.deliberation.scope import Scope
from bot.deliberation.tally import (
    BinaryResult,
    ChoiceResult,
    Elector,
    Measure,
    tally_approval,
    tally_binary,
    tally_choice,
    tally_ranked,
)
from bot.deliberation.text import optional_text
from bot.deliberation.vote_kinds import BallotType, Electorate, VoteKind, get_kind
from bot.services import audit, directory
from bot.services.directory import Actor
from bot.storage.models import Ballot, Member, Proposal, RollEntry, Vote, utcnow
from bot.storage.uow import Database, UnitOfWork

log = logging.getLogger(__name__)
POSITIONS = ("yes", "no", "abstain")
# An owner's own ballot, from the chat ("self") or the web pages ("web"): the last one counts whichever
# surface cast it, and a moderator's paper or proxy entry never replaces it.
OWN_SOURCES = ("self", "web")
MAX_OPTIONS = 10
# E-vote windows of 5-60 days for owners' meetings (Hangzhou); other kinds may be shorter.
OWNERS_MIN_DAYS, MAX_DAYS = 5, 60


async def _vote(uow: UnitOfWork, vote_id: int, *, lock: bool = False) -> Vote:
    return await uow.get(Vote, vote_id, what="vote", lock=lock)


async def current_vote(uow: UnitOfWork, proposal_id: int) -> Vote | None:
    query = select(Vote).where(col(Vote.proposal_id) == proposal_id).order_by(col(Vote.id).desc()).limit(1)
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
    cleaned = [text for text in (optional_text(o, max_length=1000) for o in options or []) if text]
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
    receipt: str | None = None  # secret votes: the voter's receipt code (see secrecy.receipt)
    # (earlier voter's member id, elector, new revision) for each home whose ballot another account replaced
    replaced: tuple[tuple[int, str, int], ...] = ()


def _ensure_open(vote: Vote, now: datetime) -> None:
    if vote.status != "open":
        raise IllegalTransition("closed", "cast")
    if now >= vote.closes_at:
        raise IllegalTransition("past_deadline", "cast")


@dataclass(frozen=True, slots=True)
class BallotWrite:
    """One ballot as stored, and the ledger entry that records it."""

    row: dict[str, Any]
    event: str
    payload: dict[str, Any]


def ballot_write(
    vote: Vote, elector: str, choice: Any, *, source: str, member_id: int | None, authority: str | None,
    revision: int, now: datetime, secret_key: bytes | None = None,
) -> BallotWrite:
    """The row and ledger entry of one ballot. A secret ballot's choice is sealed under ``secret_key``
    and committed with a keyed HMAC; no opening is stored (nor anything testable without the key)."""
    assert vote.id is not None
    payload: dict[str, Any] = {"vote": vote.id, "elector": elector, "source": source, "revision": revision,
                               "by": member_id}
    if vote.secret:
        if secret_key is None:
            raise ValueError("a secret ballot needs BALLOT_SECRET_KEY")
        digest = secrecy.keyed_commitment(secret_key, vote.id, elector, revision, choice)
        row = {"vote_id": vote.id, "elector_key": elector, "choice": None,
               "sealed": secrecy.seal(secret_key, vote.id, elector, revision, choice), "commitment": digest,
               "nonce": "", "source": source, "authority": authority, "cast_by_member_id": member_id,
               "revision": revision, "cast_at": now}
    else:
        nonce = secrets.token_hex(16)
        digest = commitment(nonce, choice)
        row = {"vote_id": vote.id, "elector_key": elector, "choice": choice, "sealed": None, "commitment": digest,
               "nonce": nonce, "source": source, "authority": authority, "cast_by_member_id": member_id,
               "revision": revision, "cast_at": now}
        payload["choice"] = choice  # open ballots can be inspected by owners (Interpretation Art. 13)
    payload["commitment"] = digest
    if authority:
        payload["authority"] = authority
    return BallotWrite(row, "ballot_cast" if revision == 1 else "ballot_changed", payload)


def stored_choice(vote: Vote, row: dict[str, Any], secret_key: bytes) -> Any:
    """A stored ballot's choice: as is for an open vote, unsealed for a secret one."""
    if not vote.secret:
        return row["choice"]
    assert vote.id is not None
    return secrecy.unseal(secret_key, vote.id, row["elector_key"], row["revision"], row["sealed"])


@dataclass(slots=True)
class BallotRequest:
    """One ballot to record: an owner's press (``source="self"``) or a moderator's paper/proxy entry.

    ``keys`` are the electors the caster may vote for (from their verified homes, or the one home a
    paper ballot is for); only those on the vote's frozen roll are recorded.
    """

    vote_id: int
    choice: Any
    member_id: int | None
    keys: list[str]
    source: str = "self"
    authority: str | None = None


async def votes_for_ballots(uow: UnitOfWork, vote_ids: set[int]) -> dict[int, tuple[Vote, int]]:
    """The votes ballots are for, with their community; shared-locked so a concurrent close waits."""
    query = (select(Vote, col(Proposal.community_id)).join(Proposal, col(Proposal.id) == col(Vote.proposal_id))
             .where(col(Vote.id).in_(vote_ids)))
    if uow.dialect == "postgresql":
        query = query.with_for_update(read=True, of=Vote)
    return {vote.id: (vote, community_id) for vote, community_id in await uow.session.execute(query)
            if vote.id is not None}


async def record_ballots(
    uow: UnitOfWork, requests: list[BallotRequest], now: datetime,
    votes: dict[int, tuple[Vote, int]] | None = None,
) -> list[Cast | DomainError]:
    """The one ballot rule: open-check, canonical choice, roll check and recording, for any number of ballots.

    Every press (alone or batched) and every paper or proxy ballot goes through here: set-based reads,
    one insert, the changed rows updated, the ledger entries appended in order. The last ballot of an
    elector counts; a moderator's entry never replaces the owner's own. A refused ballot is returned as
    its error and changes nothing; the others are recorded.
    """
    if votes is None:
        votes = await votes_for_ballots(uow, {r.vote_id for r in requests})
    on_roll = await _on_roll(uow, {(r.vote_id, key) for r in requests for key in r.keys})
    current = await _current_ballots(uow, on_roll)
    inserts: dict[tuple[int, str], dict[str, Any]] = {}
    dirty: set[tuple[int, str]] = set()
    events: list[tuple[str, str, dict[str, Any], datetime]] = []
    out: list[Cast | DomainError] = []
    for request in requests:
        try:
            out.append(_apply(request, votes, on_roll, current, inserts, dirty, events, now, uow.keys.ballots))
        except DomainError as error:
            out.append(error)
    if inserts:
        await uow.session.execute(insert(Ballot), list(inserts.values()))
    for vote_id, key in dirty - inserts.keys():
        row = {k: v for k, v in current[(vote_id, key)].items() if not k.startswith("_")}
        await uow.session.execute(
            update(Ballot).where(col(Ballot.vote_id) == vote_id, col(Ballot.elector_key) == key).values(row))
    await uow.ledger.append_many(events)
    return out


def _apply(
    request: BallotRequest, votes: dict[int, tuple[Vote, int]], on_roll: set[tuple[int, str]],
    current: dict[tuple[int, str], dict[str, Any]], inserts: dict[tuple[int, str], dict[str, Any]],
    dirty: set[tuple[int, str]], events: list[tuple[str, str, dict[str, Any], datetime]], now: datetime,
    secret_key: bytes,
) -> Cast:
    entry = votes.get(request.vote_id)
    if entry is None:
        raise NotFound(f"no vote #{request.vote_id}", what="vote", id=request.vote_id)
    vote = entry[0]
    _ensure_open(vote, now)
    choice = normalize_choice(get_kind(vote.kind), vote, request.choice)
    electors = sorted({key for key in request.keys if (request.vote_id, key) in on_roll})
    if not electors:
        raise NotEligible("not on this vote's roll", reason="not_on_roll", vote=request.vote_id)
    if request.source not in OWN_SOURCES and any(
            current.get((request.vote_id, key), {}).get("source") in OWN_SOURCES for key in electors):
        # A moderator's paper or proxy entry never overrides the owner's own ballot.
        raise AlreadyDone("the owner has voted themselves", reason="owner_voted")
    changed, receipt, replaced = False, None, []
    for key in electors:
        pair = (request.vote_id, key)
        before = current.get(pair)
        if before is not None and before["source"] == request.source \
                and stored_choice(vote, before, secret_key) == choice:
            receipt = secrecy.receipt(before["commitment"]) if vote.secret else None
            continue  # a repeated press
        revision = 1 if before is None else before["revision"] + 1
        write = ballot_write(vote, key, choice, source=request.source, member_id=request.member_id,
                             authority=request.authority, revision=revision, now=now, secret_key=secret_key)
        if before is not None and before.get("cast_by_member_id") not in (None, request.member_id) \
                and before["source"] in OWN_SOURCES:
            replaced.append((before["cast_by_member_id"], key, revision))  # another account replaced it
        current[pair] = dict(write.row)
        if before is None or pair in inserts:
            inserts[pair] = write.row
        dirty.add(pair)
        events.append((write.event, f"vote:{request.vote_id}", write.payload, now))
        changed = True
        receipt = secrecy.receipt(write.row["commitment"]) if vote.secret else None
    return Cast(vote, electors, changed, choice, receipt, tuple(replaced))


async def _on_roll(uow: UnitOfWork, pairs: set[tuple[int, str]]) -> set[tuple[int, str]]:
    if not pairs:
        return set()
    rows = await uow.session.execute(select(col(RollEntry.vote_id), col(RollEntry.elector_key)).where(
        tuple_(col(RollEntry.vote_id), col(RollEntry.elector_key)).in_(pairs)))
    return {(v, k) for v, k in rows}


async def _current_ballots(uow: UnitOfWork, pairs: set[tuple[int, str]]) -> dict[tuple[int, str], dict[str, Any]]:
    if not pairs:
        return {}
    query = select(Ballot).where(tuple_(col(Ballot.vote_id), col(Ballot.elector_key)).in_(pairs))
    if uow.dialect == "postgresql":
        query = query.with_for_update()  # a concurrent change of the same ballot waits for this one
    rows = await uow.session.execute(query)
    return {(b.vote_id, b.elector_key): {"elector_key": b.elector_key, "choice": b.choice, "sealed": b.sealed,
                                         "source": b.source, "revision": b.revision, "commitment": b.commitment,
                                         "cast_by_member_id": b.cast_by_member_id}
            for b in rows.scalars()}


def _one(result: Cast | DomainError) -> Cast:
    if isinstance(result, DomainError):
        raise result
    return result


async def cast_ballot(db: Database, vote_id: int, actor: Actor, choice: Any, now: datetime | None = None,
                      *, source: str = "self") -> Cast:
    """Cast or change the actor's ballot, for every elector they represent on the roll (a batch of one).

    ``source`` is "self" for the chat, "web" for the web pages: the same owner's own ballot either way."""
    now = now or utcnow()
    if source not in OWN_SOURCES:
        raise InvalidInput("an owner's own ballot comes from the chat or the web", field="source")
    async with db.uow() as uow:
        member = await directory.member_of(uow, actor)
        assert member.id is not None
        return _one((await press_ballots(uow, [(member, vote_id, choice)], now, source=source))[0])


async def press_ballots(
    uow: UnitOfWork, presses: list[tuple[Member | None, int, Any]], now: datetime, *, source: str = "self"
) -> list[Cast | DomainError]:
    """Owners' own ballots: each presser's electors from their verified homes, then ``record_ballots``."""
    votes = await votes_for_ballots(uow, {vote_id for _m, vote_id, _c in presses})
    members = [m.id for m, _v, _c in presses if m is not None and m.id is not None]
    links = await directory.verified_links_of(uow, members)
    councils = await directory.council_pairs(uow, members)
    requests = []
    for member, vote_id, choice in presses:
        keys: list[str] = []
        entry = votes.get(vote_id)
        if member is not None and member.id is not None and entry is not None:
            vote, community_id = entry
            scope = Scope.parse(vote.scope)
            in_scope = [link for cid, link in links.get(member.id, [])
                        if cid == community_id and scope.contains(link.home.building, link.home.unit)]
            keys = directory.keys_for(in_scope, get_kind(vote.kind).electorate, member.id,
                                      (member.id, community_id) in councils)
        requests.append(BallotRequest(vote_id, choice, member.id if member else None, keys, source))
    return await record_ballots(uow, requests, now, votes)


async def paper_ballot(
    db: Database, vote_id: int, actor: Actor, home_label: str, choice: Any, authority: str,
    *, source: str = "paper", now: datetime | None = None,
) -> Cast:
    """A moderator enters a paper or proxy ballot for the elector of a home, citing the authority."""
    now = now or utcnow()
    authority = optional_text(authority, max_length=500)
    if not authority:
        raise InvalidInput("say on what authority (e.g. signed paper ballot no. 12)", field="authority")
    if source not in ("paper", "proxy"):
        raise InvalidInput("source is paper or proxy", field="source")
    async with db.uow() as uow:
        vote = await _vote(uow, vote_id)
        _ensure_open(vote, now)
        kind = get_kind(vote.kind)
        normalize_choice(kind, vote, choice)
        proposal = await uow.get(Proposal, vote.proposal_id, what="proposal")
        moderator = await directory.require_moderator(uow, actor, proposal.community_id, power=Power.PAPER_BALLOT)
        home = await directory.home_by_label(uow, proposal.community_id, home_label)
        await directory.refuse_own_home(uow, moderator.id or 0, home.id, home.owner_id)
        key = home.owner_key if kind.electorate is Electorate.OWNERS else f"unit:{home.id}"
        if kind.electorate is Electorate.COUNCIL:
            raise NotEligible("that home is not on this vote's roll", reason="not_on_roll", vote=vote_id)
        request = BallotRequest(vote_id, choice, moderator.id, [key], source, authority[:500])
        return _one((await record_ballots(uow, [request], now))[0])


# --- closing ----------------------------------------------------------------------------------------


async def roll_and_ballots(uow: UnitOfWork, vote_id: int) -> tuple[list[Elector], dict[str, Any]]:
    """The frozen roll and each elector's choice (a secret vote's unsealed: only to tally it)."""
    roll = [Elector(key, area) for key, area in await uow.session.execute(
        select(col(RollEntry.elector_key), col(RollEntry.area_centi)).where(col(RollEntry.vote_id) == vote_id))]
    rows = await uow.session.execute(
        select(col(Ballot.elector_key), col(Ballot.choice), col(Ballot.sealed), col(Ballot.revision))
        .where(col(Ballot.vote_id) == vote_id))
    ballots = {key: choice if sealed is None else secrecy.unseal(uow.keys.ballots, vote_id, key, revision, sealed)
               for key, choice, sealed, revision in rows}
    return roll, ballots


def secret_result(secret_key: bytes, vote: Vote, kind: VoteKind, roll: list[Elector], ballots: dict[str, Any],
                  exact: dict[str, Any]) -> dict[str, Any]:
    """What a secret vote publishes: exact figures only if they cannot single out a voter.

    Otherwise whole-percent shares, or only each criterion met or not; the exact document is kept
    sealed under BALLOT_SECRET_KEY for the council's record, and the result says which was done and why.
    """
    assert vote.id is not None
    area = {e.key: e.area for e in roll}
    voters = [k for k in ballots if k in area]
    areas = [area[k] for k in voters]
    if kind.ballot is BallotType.YES_NO:
        names = list(POSITIONS)
        members = {name: [k for k in voters if ballots[k] == name] for name in names}
    else:
        names = [str(i) for i in range(len(vote.options or []))]
        members = {name: [k for k in voters if int(name) in ballots[k]] for name in names}
    groups = [(len(members[n]), sum(area[k] for k in members[n])) for n in names]
    whole_heads, whole_area = len(voters), sum(areas)
    mode, reason = secrecy.disclosure(areas, groups, whole_heads, whole_area)
    if mode == "exact":
        # Exact sums by option, but not the pairwise table of a ranked vote: those are other sums, which
        # the disclosure check above did not weigh (they stay in the sealed record only).
        public_exact = {key: value for key, value in exact.items() if key != "pairwise"}
        return {**public_exact, "secrecy": {"published": "exact"}}
    public: dict[str, Any] = {key: exact[key] for key in ("kind", "passed", "roll_size", "eligible", "participated")}
    if "options" in exact:
        public.update(options=exact["options"], winners=exact["winners"])
    public["criteria"] = [
        {"name": c["name"], "measure": c["measure"], "op": c["op"], "required": c["required"], "met": c["met"],
         "actual": f"≈{secrecy.whole_percent(c['numerator'], c['denominator'])}%" if mode == "rounded" else "-"}
        for c in exact["criteria"]]
    if mode == "rounded":
        public["shares"] = {name: {"heads_pct": secrecy.whole_percent(h, whole_heads),
                                   "area_pct": secrecy.whole_percent(a, whole_area)}
                            for name, (h, a) in zip(names, groups, strict=True)}
    sealed = secrecy.seal(secret_key, vote.id, "result", 0, exact, pad=8192)
    public["secrecy"] = {"published": mode, "reason": reason, "sealed_exact": sealed}
    return public


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
    def measure(m: Measure) -> dict[str, Any]:
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
        if result.schulze is not None:  # ranked: how many rankings put option i above option j
            doc["pairwise"] = [list(row) for row in result.schulze.d]
    return doc


@dataclass(frozen=True, slots=True)
class Closed:
    vote: Vote
    proposal: Proposal
    result: dict[str, Any]
    head: str | None = None  # the ledger's head after the result: printed with it, for the council to keep


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
    # The count is cross-checked against the keyed ledger: a ballot row edited in the database stops it.
    problems = await audit.ballot_problems(uow, vote)
    if problems:
        log.error("vote %s NOT closed, its ballots differ from the ledger: %s", vote_id, "; ".join(problems))
        raise LedgerMismatch("ballots differ from the ledger", vote=vote_id, count=len(problems))
    roll, ballots = await roll_and_ballots(uow, vote_id)
    result = result_document(tally(kind, vote, roll, ballots), len(roll))
    if vote.secret:
        result = secret_result(uow.keys.ballots, vote, kind, roll, ballots, result)
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
    head = await uow.ledger.append(
        "vote_closed", f"proposal:{proposal.id}",
        {"vote": vote_id, "by": by, "result": result, "proposal_state": proposal.state,
         "objection_until": proposal.objection_until.isoformat() if proposal.objection_until else None},
        at=now,
    )
    return Closed(vote, proposal, result, head.hash)


async def votes_due(db: Database, now: datetime | None = None) -> list[int]:
    now = now or utcnow()
    async with db.uow() as uow:
        rows = await uow.session.execute(
            select(col(Vote.id)).where(col(Vote.status) == "open", col(Vote.closes_at) <= now))
        return [v for v in rows.scalars() if v is not None]


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
        select(Vote).where(col(Vote.id).in_(vote_ids)))).scalars() if v.id is not None}
    voted = col(Ballot.id).is_not(None)
    rows = await uow.session.execute(
        select(col(RollEntry.vote_id), func.count(col(RollEntry.id)),
               func.coalesce(func.sum(col(RollEntry.area_centi)), 0), func.count(col(Ballot.id)),
               func.coalesce(func.sum(case((voted, col(RollEntry.area_centi)), else_=0)), 0))
        .select_from(RollEntry)
        .outerjoin(Ballot, (col(Ballot.vote_id) == col(RollEntry.vote_id))
                   & (col(Ballot.elector_key) == col(RollEntry.elector_key)))
        .where(col(RollEntry.vote_id).in_(vote_ids))
        .group_by(col(RollEntry.vote_id)))
    sums = {vote_id: rest for vote_id, *rest in rows}
    out: dict[int, tuple[Vote, dict[str, Any]]] = {}
    for vote_id, vote in votes.items():
        heads, area, took_heads, took_area = sums.get(vote_id, (0, 0, 0, 0))
        # A secret vote shows turnout by heads only: the area taking part would tell which homes voted when.
        out[vote_id] = (vote, {
            "eligible": {"heads": int(heads), "area_centi": int(area)},
            "participated": {"heads": int(took_heads), "area_centi": None if vote.secret else int(took_area)},
            "measures_area": get_kind(vote.kind).measures_area() and not vote.secret,
        })
    return out
