"""Following an adopted matter's implementation, and residents' evaluation of a completed one.

Co-signers follow a matter by default; anyone of the community may /follow it (or /unfollow it). Every
/progress note goes privately to its followers. When a matter is done, the households in its scope are
asked for an evaluation (满意 / 基本满意 / 不满意, with a comment); the counts are public, one per household.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction

from sqlalchemy import select
from sqlmodel import col

from bot.deliberation.errors import AlreadyDone, IllegalTransition, InvalidInput, NotEligible
from bot.deliberation.scope import Scope
from bot.deliberation.text import clean_text
from bot.services import directory
from bot.services.directory import Actor
from bot.storage.models import (
    ExclusiveUnit,
    Member,
    MemberLink,
    Proposal,
    ProposalEvaluation,
    ProposalFollow,
    Support,
    utcnow,
)
from bot.storage.uow import Database, UnitOfWork

EVALUATIONS = ("satisfied", "basic", "unsatisfied")
COMMENT_MAX = 500


async def follow(db: Database, actor: Actor, proposal_id: int, on: bool = True) -> tuple[Proposal, bool]:
    """Follow (or stop following) a matter's progress; returns it and whether anything changed."""
    async with db.uow() as uow:
        proposal = await uow.get(Proposal, proposal_id, what="proposal")
        member = await directory.member_of(uow, actor)
        assert member.id is not None
        if not await directory.may_see_community(uow, member.id, proposal.community_id):
            raise NotEligible("not of this community", reason="not_registered_in_scope", scope=proposal.scope)
        row = (await uow.session.execute(select(ProposalFollow).where(
            col(ProposalFollow.proposal_id) == proposal_id,
            col(ProposalFollow.member_id) == member.id))).scalar_one_or_none()
        before = row.following if row is not None else await _cosigned(uow, proposal_id, member.id)
        if row is None:
            uow.session.add(ProposalFollow(proposal_id=proposal_id, member_id=member.id, following=on))
        else:
            row.following = on
        return proposal, before != on


async def _cosigned(uow: UnitOfWork, proposal_id: int, member_id: int) -> bool:
    found = await uow.session.execute(select(col(Support.id)).where(col(Support.proposal_id) == proposal_id,
                                                           col(Support.member_id) == member_id).limit(1))
    return found.first() is not None


async def followers(db: Database, proposal_id: int, *, besides: int | None = None) -> list[Member]:
    """Who hears of the matter's progress: its co-signers unless they opted out, and whoever followed it."""
    async with db.uow(readonly=True) as uow:
        cosigners = set((await uow.session.execute(select(col(Support.member_id)).where(
            col(Support.proposal_id) == proposal_id))).scalars())
        choices = {m: on for m, on in await uow.session.execute(select(
            col(ProposalFollow.member_id), col(ProposalFollow.following)).where(
                col(ProposalFollow.proposal_id) == proposal_id))}
        ids = {m for m in cosigners if choices.get(m, True)} | {m for m, on in choices.items() if on}
        ids.discard(besides or 0)
        if not ids:
            return []
        return list((await uow.session.execute(select(Member).where(
            col(Member.id).in_(sorted(ids)), col(Member.reachable).is_(True)).order_by(col(Member.id)))).scalars())


async def residents_in_scope(db: Database, proposal: Proposal) -> list[Member]:
    """Members with a verified home in the matter's scope, each once (asked to evaluate it)."""
    async with db.uow(readonly=True) as uow:
        homes = await directory.homes(uow, proposal.community_id, Scope.parse(proposal.scope))
        home_ids = [h.id for h in homes]
        if not home_ids:
            return []
        ids = set((await uow.session.execute(select(col(MemberLink.member_id)).join(
            ExclusiveUnit, col(ExclusiveUnit.id) == col(MemberLink.exclusive_unit_id))
            .where(col(MemberLink.exclusive_unit_id).in_(home_ids), col(MemberLink.status) == "verified"))).scalars())
        if not ids:
            return []
        return list((await uow.session.execute(select(Member).where(
            col(Member.id).in_(sorted(ids)), col(Member.reachable).is_(True)).order_by(col(Member.id)))).scalars())


@dataclass(frozen=True, slots=True)
class Evaluation:
    proposal: Proposal
    satisfied: int
    basic: int
    unsatisfied: int

    @property
    def total(self) -> int:
        return self.satisfied + self.basic + self.unsatisfied

    @property
    def rate(self) -> Fraction | None:
        """Satisfaction: (满意 + 基本满意) / evaluations, as for residents' requests."""
        return Fraction(self.satisfied + self.basic, self.total) if self.total else None


async def evaluate(db: Database, actor: Actor, proposal_id: int, rating: str, comment: str = "",
                   now: datetime | None = None) -> Evaluation:
    """A household in the scope of a completed matter evaluates it (once; a second time changes it)."""
    now = now or utcnow()
    if rating not in EVALUATIONS:
        raise InvalidInput("rating", field="evaluation")
    comment = clean_text(comment, multiline=True).strip()
    if len(comment) > COMMENT_MAX:
        raise InvalidInput("too long", field="body", max=COMMENT_MAX)
    async with db.uow() as uow:
        proposal = await uow.get(Proposal, proposal_id, what="proposal", lock=True)
        if proposal.state != "done":
            raise IllegalTransition(proposal.state, "evaluate")
        member = await directory.member_of(uow, actor)
        links = await directory.verified_links(uow, member.id or 0, proposal.community_id,
                                               Scope.parse(proposal.scope))
        key = directory.household_key(links)
        if key is None:
            raise NotEligible("not in scope", reason="not_registered_in_scope", scope=proposal.scope)
        row = (await uow.session.execute(select(ProposalEvaluation).where(
            col(ProposalEvaluation.proposal_id) == proposal_id, col(ProposalEvaluation.household_key) == key))
        ).scalar_one_or_none()
        if row is not None and row.rating == rating and (not comment or comment == row.comment):
            raise AlreadyDone("same evaluation")
        if row is None:
            uow.session.add(ProposalEvaluation(proposal_id=proposal_id, household_key=key, member_id=member.id or 0,
                                               rating=rating, comment=comment, created_at=now))
        else:
            row.rating, row.member_id, row.created_at = rating, member.id or 0, now
            row.comment = comment or row.comment
        await uow.session.flush()
        ratings = list((await uow.session.execute(select(col(ProposalEvaluation.rating)).where(
            col(ProposalEvaluation.proposal_id) == proposal_id))).scalars())
        # The running counts ride along: the digest shows them without reading the rows.
        await uow.ledger.append("proposal_evaluated", f"proposal:{proposal_id}", {
            "household": key, "rating": rating, "by": member.id,
            "counts": {r: ratings.count(r) for r in EVALUATIONS}}, at=now)
    return await evaluation(db, proposal_id)


async def evaluation(db: Database, proposal_id: int) -> Evaluation:
    async with db.uow(readonly=True) as uow:
        proposal = await uow.get(Proposal, proposal_id, what="proposal")
        ratings = list((await uow.session.execute(select(col(ProposalEvaluation.rating)).where(
            col(ProposalEvaluation.proposal_id) == proposal_id))).scalars())
    return Evaluation(proposal, ratings.count("satisfied"), ratings.count("basic"), ratings.count("unsatisfied"))
