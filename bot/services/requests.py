"""Residents' requests (接诉即办): reporting, routing, handling, rating, the clock, rates and suggestions.

Every state change is one transaction with its ledger entry. The ledger records who acted, the party
and the states, never the request's text or location (those are for the author, the party's handlers
and the council only). Messages to other members are returned as ``Notice``s for the caller to send
(a handler through its messenger, a job through the outbox).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy import select
from sqlmodel import col

from bot.chat.port import MAX_PHOTO_BYTES, Photo
from bot.deliberation import requests as rules
from bot.deliberation.errors import IllegalTransition, InvalidInput, NotEligible, NotFound
from bot.deliberation.requests import Rating, RequestAction, RequestState
from bot.deliberation.scope import Scope
from bot.deliberation.text import clean_text, has_visible
from bot.deliberation.thresholds import required_supports
from bot.i18n import Text, _
from bot.services import directory
from bot.services.agenda import support_policy
from bot.services.census import get_community
from bot.services.directory import Actor
from bot.storage import members as member_store
from bot.storage.models import (
    CouncilRole,
    Member,
    Proposal,
    RequestHandler,
    RequestParty,
    RequestPhoto,
    RequestSettings,
    RequestSuggestion,
    ResidentRequest,
    utcnow,
)
from bot.storage.uow import Database, UnitOfWork

PARTY_KINDS = ("property", "grid", "committee", "street", "department")
REASON_MAX = 500


def category_name(code: str) -> Text | str:
    """A default category's name in the reader's language; a community's own category as it was named."""
    names = {
        "sanitation": _("Sanitation"),
        "repair": _("Repairs"),
        "safety": _("Safety hazard"),
        "noise": _("Noise"),
        "parking": _("Parking"),
        "property": _("Property services"),
        "other": _("Other"),
    }
    return names.get(code, code)


@dataclass(frozen=True, slots=True)
class Notice:
    """A private message for a member: ``rate`` adds the rating buttons of that request."""

    member: Member
    text: Text
    key: str  # what makes it unique (the outbox dedupe key of a job's notice)
    rate: int | None = None
    photos: tuple[str, ...] = ()  # platform file ids sent after the text (the resolution's photos)


@dataclass
class Outcome:
    request: ResidentRequest
    party: RequestParty | None
    notices: list[Notice] = field(default_factory=list)
    suggestion: RequestSuggestion | None = None
    needs_reason: bool = False


# --- settings ----------------------------------------------------------------------------------------


async def settings_of(uow: UnitOfWork, community_id: int) -> RequestSettings:
    found = await uow.session.get(RequestSettings, community_id)
    return found if found is not None else RequestSettings(community_id=community_id, routes={})


def categories(settings: RequestSettings) -> list[str]:
    return list(settings.routes) if settings.routes else list(rules.DEFAULT_CATEGORIES)


def policy(settings: RequestSettings) -> rules.Policy:
    return rules.Policy(settings.response_hours, settings.urgent_response_hours, settings.resolution_days,
                        settings.rating_days)


async def home_community(uow: UnitOfWork, member_id: int) -> tuple[int, str] | None:
    """The community of the member's first verified home and their household there."""
    links = (await directory.verified_links_of(uow, [member_id])).get(member_id, [])
    if not links:
        return None
    community_id = links[0][0]
    key = directory.household_key([link for cid, link in links if cid == community_id])
    return community_id, key or f"member:{member_id}"


async def community_categories(db: Database, actor: Actor) -> list[str] | None:
    """The categories of the actor's community (None: the actor has no verified home)."""
    async with db.uow(readonly=True) as uow:
        member = await member_store.find(uow, actor.platform, actor.external_id)  # never created by a read
        if member is None or member.id is None:
            return None
        home = await home_community(uow, member.id)
        if home is None:
            return None
        return categories(await settings_of(uow, home[0]))


# --- who is who ----------------------------------------------------------------------------------------


async def _members(uow: UnitOfWork, ids: Sequence[int]) -> list[Member]:
    if not ids:
        return []
    rows = await uow.session.execute(select(Member).where(col(Member.id).in_(sorted(set(ids)))))
    return list(rows.scalars())


async def party_members(uow: UnitOfWork, party_id: int | None, roles: tuple[str, ...] = ("handler", "supervisor")
                        ) -> list[Member]:
    if party_id is None:
        return []
    ids = (await uow.session.execute(select(col(RequestHandler.member_id)).where(
        col(RequestHandler.party_id) == party_id, col(RequestHandler.role).in_(roles)))).scalars().all()
    return await _members(uow, list(ids))


async def council(uow: UnitOfWork, community_id: int) -> list[Member]:
    ids = (await uow.session.execute(select(col(CouncilRole.member_id)).where(
        col(CouncilRole.community_id) == community_id))).scalars().all()
    return await _members(uow, list(ids))


async def _is_handler(uow: UnitOfWork, member_id: int, party_id: int | None) -> bool:
    if party_id is None:
        return False
    found = await uow.session.execute(select(col(RequestHandler.id)).where(
        col(RequestHandler.party_id) == party_id, col(RequestHandler.member_id) == member_id))
    return found.first() is not None


async def _party(uow: UnitOfWork, party_id: int | None) -> RequestParty | None:
    return None if party_id is None else await uow.session.get(RequestParty, party_id)


async def _party_named(uow: UnitOfWork, community_id: int, name: str) -> RequestParty:
    party = (await uow.session.execute(select(RequestParty).where(
        col(RequestParty.community_id) == community_id, col(RequestParty.name) == name.strip()))).scalar_one_or_none()
    if party is None:
        raise NotFound(f"no party {name!r}", what="party", name=name.strip()[:64])
    return party


async def _load(uow: UnitOfWork, member: Member, request_id: int, *, lock: bool = False
                ) -> tuple[ResidentRequest, bool, bool, bool]:
    """The request and whether the member is its author, a handler of its party, on the council.

    Anyone else is told there is no such work order: other parties' requests are not theirs to see.
    """
    query = select(ResidentRequest).where(col(ResidentRequest.id) == request_id)
    if lock:
        query = query.with_for_update()
    request = (await uow.session.execute(query)).scalar_one_or_none()
    if request is None:
        raise NotFound(f"no request {request_id}", what="request", id=request_id)
    assert member.id is not None
    author = request.author_member_id == member.id
    handler = await _is_handler(uow, member.id, request.party_id)
    on_council = await directory.is_council_member(uow, member.id, request.community_id)
    if not (author or handler or on_council):
        raise NotFound(f"no request {request_id}", what="request", id=request_id)
    return request, author, handler, on_council


def _clean(text: str, *, field_name: str, max_length: int, required: bool = True) -> str:
    text = clean_text(text, multiline=True).strip()
    if not has_visible(text):
        text = ""
    if required and not text:
        raise InvalidInput("empty", field=field_name)
    if len(text) > max_length:
        raise InvalidInput("too long", field=field_name, max=max_length)
    return text


def number(request: ResidentRequest) -> str:
    return rules.format_number(request.id or 0)


def summary(request: ResidentRequest, party: RequestParty | None, author: Member | None = None) -> Text:
    """The full work order, for its author, its party's handlers and the council only."""
    lines: list[Text | str] = [
        _("Work order {no}: {category}{urgent}", no=number(request), category=category_name(request.category),
          urgent=_(" (urgent)") if request.urgent else ""),
        _("Where: {location}", location=request.location),
    ]
    if author is not None:
        lines.append(_("Reported by: {name}", name=author.display_name or f"#{author.id}"))
    lines.append(request.text)
    lines.append(_("Handled by: {party}", party=party.name if party else _("not routed yet (the council)")))
    return _join(lines)


def _join(parts: Sequence[Text | str]) -> Text:
    placeholders = {f"l{i}": part for i, part in enumerate(parts)}
    return Text("\n".join("{" + key + "}" for key in placeholders), placeholders)


# --- reporting ---------------------------------------------------------------------------------------


async def report(db: Database, actor: Actor, category: str, location: str, text: str, *, urgent: bool = False,
                 now: datetime | None = None, photos: Sequence[Photo] = (), album: str | None = None) -> Outcome:
    """A resident reports a problem; the party its category is routed to (else the council) is told."""
    now = now or utcnow()
    check_photos(photos)
    text = _clean(text, field_name="request_text", max_length=rules.TEXT_MAX)
    where = rules.parse_location(clean_text(location))
    async with db.uow() as uow:
        member = await directory.member_of(uow, actor)
        assert member.id is not None
        home = await home_community(uow, member.id)
        if home is None:
            raise NotEligible("register first", reason="requests_unregistered")
        community_id, household = home
        settings = await settings_of(uow, community_id)
        if category not in categories(settings):
            raise InvalidInput("unknown category", field="request_category", value=category[:40])
        if where.home is not None:
            await directory.home_by_label(uow, community_id, where.label)
        elif str(where.scope) != "all" and not await directory.households_in_scope(uow, community_id, where.scope):
            raise NotFound("no homes", what="scope", name=where.label)
        clock = policy(settings)
        party_id = settings.routes.get(category) if settings.routes else None
        request = ResidentRequest(
            community_id=community_id, author_member_id=member.id, household_key=household, category=category,
            text=text, location=where.label, scope=str(where.scope), urgent=urgent, party_id=party_id,
            reported_at=now, response_due=rules.response_due(now, urgent, clock),
            resolution_due=rules.resolution_due(now, clock))
        uow.session.add(request)
        await uow.session.flush()
        party = await _party(uow, party_id)
        attached = await _attach(uow, request, "report", member, actor.platform, photos, album, now)
        await uow.ledger.append("request_reported", f"request:{request.id}", {
            "community": community_id, "category": category, "party": party_id, "urgent": urgent,
            "scope": request.scope, "by": member.id, **({"photos": attached} if attached else {})}, at=now)
        recipients = await party_members(uow, party_id) if party is not None else await council(uow, community_id)
        out = Outcome(request, party)
        new_lines: list[Text | str] = [_("New request:"), summary(request, party, member)]
        if attached:
            new_lines.append(_("Photos: {count} (/order {no} shows them)", count=attached, no=number(request)))
        for person in recipients:
            out.notices.append(Notice(person, _join(new_lines), f"request:{request.id}:new:{person.id}"))
        out.suggestion = await _recurring(uow, request, settings, now)
        if out.suggestion is not None:
            for person in await council(uow, community_id):
                out.notices.append(Notice(person, suggestion_text(out.suggestion),
                                          f"suggestion:{out.suggestion.id}:{person.id}"))
        return out


# --- handling ----------------------------------------------------------------------------------------


async def handle(db: Database, actor: Actor, request_id: int, action: RequestAction, text: str = "",
                 target: str = "", now: datetime | None = None, photos: Sequence[Photo] = (),
                 album: str | None = None) -> Outcome:
    """/take, /reply, /resolve, /transfer and /whistle by a handler of the request's party.

    The council may also /transfer a request nobody was routed to. ``photos`` go with a resolution only.
    """
    now = now or utcnow()
    photos = photos if action is RequestAction.RESOLVE else ()
    check_photos(photos)
    if action is RequestAction.REPLY:
        text = _clean(text, field_name="request_reply", max_length=rules.TEXT_MAX)
    elif action is RequestAction.RESOLVE:
        text = _clean(text, field_name="request_note", max_length=rules.TEXT_MAX)
    elif action in (RequestAction.TRANSFER, RequestAction.WHISTLE):
        text = _clean(text, field_name="request_reason", max_length=REASON_MAX)
    async with db.uow() as uow:
        member = await directory.member_of(uow, actor)
        assert member.id is not None
        request, _author, handler, on_council = await _load(uow, member, request_id, lock=True)
        may = handler or (action is RequestAction.TRANSFER and on_council and request.party_id is None)
        if not may:
            raise NotEligible("not a handler of this request's party", reason="not_request_handler")
        before = RequestState(request.state)
        after = rules.transition(before, action)
        old_party = await _party(uow, request.party_id)
        new_party = old_party
        if action in (RequestAction.TRANSFER, RequestAction.WHISTLE):
            new_party = await _party_named(uow, request.community_id, target)
            if new_party.id == request.party_id:
                raise InvalidInput("same party", field="request_party_same")
            if action is RequestAction.WHISTLE and new_party.kind != "department":
                raise InvalidInput("not a department", field="request_department")
            request.party_id = new_party.id
            request.handler_member_id = None
            request.whistled = request.whistled or action is RequestAction.WHISTLE
        else:
            request.handler_member_id = member.id
            if request.first_response_at is None:
                request.first_response_at = now
        if action is RequestAction.RESOLVE:
            request.resolved_at = now
            request.resolution_note = text
        request.state = str(after)
        attached = await _attach(uow, request, "resolve", member, actor.platform, photos, album, now)
        await uow.ledger.append(f"request_{action}", f"request:{request.id}", {
            "by": member.id, "from": str(before), "to": str(after), "party": request.party_id,
            "from_party": old_party.id if old_party else None, **({"photos": attached} if attached else {})}, at=now)
        out = Outcome(request, new_party)
        author = await uow.session.get(Member, request.author_member_id)
        assert author is not None
        no = number(request)
        party_name = new_party.name if new_party else ""
        key = f"request:{request.id}:{action}:{now.timestamp():.0f}"
        if action is RequestAction.TAKE:
            out.notices.append(Notice(author, _("Your request {no} was taken by {party}.", no=no, party=party_name),
                                      key))
        elif action is RequestAction.REPLY:
            out.notices.append(Notice(author, _("Answer to your request {no} from {party}:\n{text}", no=no,
                                                party=party_name, text=text), key))
        elif action is RequestAction.RESOLVE:
            out.notices.append(Notice(author, _(
                "{party} says your request {no} is solved:\n{text}\nHow satisfied are you? Please rate it.",
                no=no, party=party_name, text=text), key, rate=request.id,
                photos=tuple(p.file_id for p in photos)))
        else:
            out.notices.append(Notice(author, _("Your request {no} is now handled by {party}.", no=no,
                                                party=party_name), key))
            handed = _join([
                _("Whistle blown: {party} is called to work order {no}. Reason: {reason}", no=no,
                  party=party_name, reason=text)
                if action is RequestAction.WHISTLE else
                _("Work order {no} was transferred to {party}. Reason: {reason}", no=no, party=party_name,
                  reason=text),
                summary(request, new_party, author)])
            recipients = await party_members(uow, request.party_id)
            if action is RequestAction.WHISTLE:
                settings = await settings_of(uow, request.community_id)
                street = await party_members(uow, settings.street_party_id)
                recipients += street or await council(uow, request.community_id)
            for person in {p.id: p for p in recipients if p.id != member.id}.values():
                out.notices.append(Notice(person, handed, f"{key}:{person.id}"))
        return out


async def rate(db: Database, actor: Actor, request_id: int, rating: Rating, now: datetime | None = None) -> Outcome:
    """The author rates a resolved request. 不满意 needs a reason (``reopen``): nothing changes here then."""
    now = now or utcnow()
    async with db.uow() as uow:
        member, request = await _rated_by_author(uow, actor, request_id)
        before = RequestState(request.state)
        rules.transition(before, RequestAction.RATE)  # only a resolved request is rated, 不满意 included
        party = await _party(uow, request.party_id)
        if rating is Rating.UNSATISFIED:
            return Outcome(request, party, needs_reason=True)
        await _close_rated(uow, request, member, before, rating, now)
        out = Outcome(request, party)
        for person in await _members(uow, [request.handler_member_id] if request.handler_member_id else []):
            out.notices.append(Notice(person, _("Work order {no} was rated: {rating}.", no=number(request),
                                                rating=rating_name(rating)), f"request:{request.id}:rated"))
        return out


async def _rated_by_author(uow: UnitOfWork, actor: Actor, request_id: int) -> tuple[Member, ResidentRequest]:
    """The rater and the request (locked): only its author rates it."""
    member = await directory.member_of(uow, actor)
    request, author, _handler, _council = await _load(uow, member, request_id, lock=True)
    if not author:
        raise NotEligible("only the author rates", reason="not_request_author")
    return member, request


async def _close_rated(uow: UnitOfWork, request: ResidentRequest, member: Member, before: RequestState,
                       rating: Rating, now: datetime) -> None:
    """The request closes with this rating (a rating, or a 不满意 once the reopening is used up)."""
    after = rules.transition(before, RequestAction.RATE)
    request.state, request.rating, request.closed_at = str(after), str(rating), now
    await uow.ledger.append("request_rated", f"request:{request.id}", {
        "by": member.id, "rating": str(rating), "from": str(before), "to": str(after),
        "party": request.party_id}, at=now)


async def reopen(db: Database, actor: Actor, request_id: int, reason: str, now: datetime | None = None) -> Outcome:
    """不满意 with a reason: the request reopens once (a new resolution deadline); a second time it closes
    with that rating."""
    now = now or utcnow()
    reason = _clean(reason, field_name="request_reason", max_length=REASON_MAX)
    async with db.uow() as uow:
        member, request = await _rated_by_author(uow, actor, request_id)
        before = RequestState(request.state)
        party = await _party(uow, request.party_id)
        no = number(request)
        if request.reopened >= rules.MAX_REOPENS:
            await _close_rated(uow, request, member, before, Rating.UNSATISFIED, now)
            text = _("Work order {no} was rated: {rating}. Reason: {reason}", no=no,
                     rating=rating_name(Rating.UNSATISFIED), reason=reason)
        else:
            after = rules.transition(before, RequestAction.REOPEN)
            settings = await settings_of(uow, request.community_id)
            request.state, request.reopened = str(after), request.reopened + 1
            request.resolved_at, request.resolution_stage = None, 0
            request.resolution_due = rules.resolution_due(now, policy(settings))
            await uow.ledger.append("request_reopened", f"request:{request.id}", {
                "by": member.id, "rating": str(Rating.UNSATISFIED), "from": str(before), "to": str(after),
                "party": request.party_id}, at=now)
            text = _("The resident is not satisfied: work order {no} is reopened. Reason: {reason}", no=no,
                     reason=reason)
        out = Outcome(request, party)
        recipients = await party_members(uow, request.party_id)
        for person in recipients:
            out.notices.append(Notice(person, text, f"request:{request.id}:reopen{request.reopened}:{person.id}"))
        return out


def rating_name(rating: Rating | str) -> Text:
    return {
        "satisfied": _("satisfied"),
        "basic": _("basically satisfied"),
        "unsatisfied": _("not satisfied"),
        "not_rated": _("not rated"),
    }.get(str(rating), _("not rated"))


def state_name(state: str) -> Text:
    return {
        "submitted": _("waiting for a response"),
        "in_progress": _("being handled"),
        "resolved": _("solved, waiting for your rating"),
        "closed": _("closed"),
    }.get(state, _("closed"))


# --- reading -----------------------------------------------------------------------------------------


async def mine(db: Database, actor: Actor, limit: int = 20) -> list[ResidentRequest]:
    async with db.uow(readonly=True) as uow:
        member = await member_store.find(uow, actor.platform, actor.external_id)  # never created by a read
        if member is None:
            return []
        rows = await uow.session.execute(select(ResidentRequest).where(
            col(ResidentRequest.author_member_id) == member.id).order_by(col(ResidentRequest.id).desc()).limit(limit))
        return list(rows.scalars())


async def show(db: Database, actor: Actor, request_id: int
               ) -> tuple[ResidentRequest, RequestParty | None, Member | None, list[RequestPhoto]]:
    """One work order and its photos, for those who may see it; the author's name only for the handlers and
    the council."""
    async with db.uow() as uow:
        member = await directory.member_of(uow, actor)
        request, author, handler, on_council = await _load(uow, member, request_id)
        party = await _party(uow, request.party_id)
        who = await uow.session.get(Member, request.author_member_id) if (handler or on_council) else None
        photos = await uow.session.execute(select(RequestPhoto).where(col(RequestPhoto.request_id) == request_id)
                                           .order_by(col(RequestPhoto.stage), col(RequestPhoto.id)))
        return request, party, who, list(photos.scalars())


async def queue(db: Database, actor: Actor) -> list[tuple[ResidentRequest, RequestParty]]:
    """Open requests of the parties the actor handles (and nobody else's)."""
    async with db.uow() as uow:
        member = await directory.member_of(uow, actor)
        rows = await uow.session.execute(
            select(ResidentRequest, RequestParty)
            .join(RequestParty, col(RequestParty.id) == col(ResidentRequest.party_id))
            .join(RequestHandler, col(RequestHandler.party_id) == col(RequestParty.id))
            .where(col(RequestHandler.member_id) == member.id, col(ResidentRequest.state) != "closed")
            .order_by(col(ResidentRequest.id)))
        return [(r, p) for r, p in rows.all()]


# --- the clock ---------------------------------------------------------------------------------------


def clock_of(request: ResidentRequest, settings: RequestSettings) -> rules.Clock:
    clock = policy(settings)
    return rules.Clock(
        state=RequestState(request.state), urgent=request.urgent, response_due=request.response_due,
        responded=request.first_response_at is not None, response_stage=request.response_stage,
        resolution_due=request.resolution_due, resolution_stage=request.resolution_stage,
        resolved_at=request.resolved_at, response_window=clock.response_window(request.urgent),
        resolution_window=clock.resolution_window, rating_window=timedelta(days=clock.rating_days))


async def run_clock(db: Database, request_id: int, now: datetime, *, quiet: bool, tz: tzinfo = UTC) -> list[Notice]:
    """Do what the clock asks of this request now: remind, escalate, or close an unrated one.

    In quiet hours reminders and escalations wait (the job is planned again for their end), except for
    urgent requests. Each step is done once: the stage it reaches is stored with its ledger entry.
    """
    async with db.uow() as uow:
        request = await uow.session.get(ResidentRequest, request_id, with_for_update=True)
        if request is None:
            return []
        settings = await settings_of(uow, request.community_id)
        notices: list[Notice] = []
        for due in rules.due_now(clock_of(request, settings), now):
            if due.kind == "rating":
                before = RequestState(request.state)
                after = rules.transition(before, RequestAction.EXPIRE_RATING)
                request.state, request.rating, request.closed_at = str(after), str(Rating.NOT_RATED), now
                await uow.ledger.append("request_not_rated", f"request:{request.id}", {
                    "from": str(before), "to": str(after), "party": request.party_id}, at=now)
                continue
            if quiet and not request.urgent:
                continue
            assert due.step is not None
            notices += await _step(uow, request, settings, due, tz)
            if due.kind == "response":
                request.response_stage = due.stage
            else:
                request.resolution_stage = due.stage
            await uow.ledger.append(f"request_{due.step}", f"request:{request.id}", {
                "deadline": due.kind, "stage": due.stage, "party": request.party_id}, at=now)
        return notices


async def _step(uow: UnitOfWork, request: ResidentRequest, settings: RequestSettings, due: rules.Due,
                tz: tzinfo) -> list[Notice]:
    party = await _party(uow, request.party_id)
    deadline = request.response_due if due.kind == "response" else request.resolution_due
    at = deadline.astimezone(tz).strftime("%Y-%m-%d %H:%M")  # as bot.handlers.render.when writes it
    no = number(request)
    what = _("first response") if due.kind == "response" else _("resolution")
    if due.step is rules.Step.REMIND:
        recipients = await _members(uow, [request.handler_member_id]) if request.handler_member_id else \
            await party_members(uow, request.party_id, ("handler",))
        text = _("Reminder: work order {no} is due for its {what} by {deadline}.", no=no, what=what, deadline=at)
    elif due.step is rules.Step.ESCALATE_SUPERVISOR:
        recipients = await party_members(uow, request.party_id, ("supervisor",))
        text = _("Overdue: work order {no} missed its {what} deadline ({deadline}).", no=no, what=what, deadline=at)
    else:
        recipients = await party_members(uow, settings.street_party_id)
        text = _("Escalated to the street level: work order {no} is still overdue for its {what} (deadline "
                 "{deadline}).", no=no, what=what, deadline=at)
    if not recipients:
        recipients = await council(uow, request.community_id)
    body = _join([text, summary(request, party)])
    key = f"request:{request.id}:{due.kind}:{due.stage}"
    return [Notice(person, body, f"{key}:{person.id}") for person in recipients]


async def next_runs(db: Database) -> list[tuple[int, datetime, bool, int]]:
    """(request id, when its clock next needs a look, urgent, community id) for every open request."""
    async with db.uow(readonly=True) as uow:
        rows = (await uow.session.execute(select(ResidentRequest).where(
            col(ResidentRequest.state) != "closed").order_by(col(ResidentRequest.id)))).scalars().all()
        settings: dict[int, RequestSettings] = {}
        out = []
        for request in rows:
            if request.community_id not in settings:
                settings[request.community_id] = await settings_of(uow, request.community_id)
            due = rules.next_due(clock_of(request, settings[request.community_id]))
            if due is not None and request.id is not None:
                out.append((request.id, due.at, request.urgent or due.kind == "rating", request.community_id))
        return out


# --- recurring problems ------------------------------------------------------------------------------


def _as_report(r: ResidentRequest) -> rules.Report:
    return rules.Report(r.id or 0, r.category, Scope.parse(r.scope), r.text, r.household_key, r.reported_at)


async def _recurring(uow: UnitOfWork, request: ResidentRequest, settings: RequestSettings,
                     now: datetime) -> RequestSuggestion | None:
    since = now - timedelta(days=settings.recurring_days)
    earlier = (await uow.session.execute(select(ResidentRequest).where(
        col(ResidentRequest.community_id) == request.community_id, col(ResidentRequest.category) == request.category,
        col(ResidentRequest.reported_at) >= since, col(ResidentRequest.id) != request.id))).scalars().all()
    evidence = rules.recurring(_as_report(request), [_as_report(r) for r in earlier],
                               households=settings.recurring_households, days=settings.recurring_days)
    if not evidence:
        return None
    ids = sorted(r.id for r in evidence)
    # One suggestion per problem: a report joining an open suggestion's evidence adds to it.
    open_ones = (await uow.session.execute(select(RequestSuggestion).where(
        col(RequestSuggestion.community_id) == request.community_id,
        col(RequestSuggestion.category) == request.category, col(RequestSuggestion.state) == "open"))).scalars().all()
    for suggestion in open_ones:
        if set(suggestion.request_ids) & set(ids):
            suggestion.request_ids = sorted(set(suggestion.request_ids) | set(ids))
            suggestion.scope = str(rules.widest(r.scope for r in evidence))
            return None
    suggestion = RequestSuggestion(community_id=request.community_id, category=request.category,
                                   scope=str(rules.widest(r.scope for r in evidence)), request_ids=ids,
                                   created_at=now)
    uow.session.add(suggestion)
    await uow.session.flush()
    await uow.ledger.append("request_suggestion", f"community:{request.community_id}", {
        "suggestion": suggestion.id, "category": request.category, "scope": suggestion.scope,
        "requests": ids}, at=now)
    return suggestion


def suggestion_text(s: RequestSuggestion) -> Text:
    return _("Recurring problem #{id}: {count} similar requests about {category} in {scope} within a month. "
             "See /suggestions.", id=s.id, count=len(s.request_ids), category=category_name(s.category),
             scope=s.scope)


async def suggestions(db: Database, actor: Actor) -> list[tuple[RequestSuggestion, list[ResidentRequest]]]:
    """Open suggestions of the communities whose council the actor sits on, with their evidence."""
    async with db.uow() as uow:
        member = await directory.member_of(uow, actor)
        assert member.id is not None
        communities = await directory.council_communities(uow, member.id)
        if not communities:
            raise NotEligible("council only", reason="not_moderator")
        rows = (await uow.session.execute(select(RequestSuggestion).where(
            col(RequestSuggestion.community_id).in_(communities), col(RequestSuggestion.state) == "open")
            .order_by(col(RequestSuggestion.id)))).scalars().all()
        out = []
        for s in rows:
            evidence = (await uow.session.execute(select(ResidentRequest).where(
                col(ResidentRequest.id).in_(s.request_ids)).order_by(col(ResidentRequest.id)))).scalars().all()
            out.append((s, list(evidence)))
        return out


async def adopt_suggestion(db: Database, actor: Actor, suggestion_id: int, now: datetime | None = None
                           ) -> tuple[Proposal, list[Member]]:
    """A council member turns a suggestion into a proposal in its scope, collecting co-signatures as any
    matter does; returns it and the reporters to invite privately to co-sign.

    The council proposes on the residents' behalf: no implicit co-signature (the council member need
    not live in the scope); the reporters' own co-signatures count.
    """
    now = now or utcnow()
    async with db.uow() as uow:
        suggestion = await uow.get(RequestSuggestion, suggestion_id, what="suggestion", lock=True)
        member = await directory.require_moderator(uow, actor, suggestion.community_id)
        if suggestion.state != "open":
            raise IllegalTransition("proposed", "adopt_suggestion")
        community = await directory.community_by_id(uow, suggestion.community_id)
        evidence = (await uow.session.execute(select(ResidentRequest).where(
            col(ResidentRequest.id).in_(suggestion.request_ids)).order_by(col(ResidentRequest.id)))).scalars().all()
        where = Scope.parse(suggestion.scope)
        households = await directory.households_in_scope(uow, suggestion.community_id, where)
        if households == 0:
            raise NotFound("no homes", what="scope", name=suggestion.scope)
        title = clean_text(evidence[0].text).strip()[:60] if evidence else suggestion.category
        body = "\n".join(f"{number(r)} {r.location}: {r.text[:200]}" for r in evidence)
        threshold = required_supports(support_policy(community), households)
        proposal = Proposal(
            community_id=suggestion.community_id, author_member_id=member.id or 0, title=title, body=body,
            category="other", scope=str(where), support_threshold=threshold, households_in_scope=households,
            created_at=now, collecting_until=now + timedelta(days=community.collecting_days), state_changed_at=now)
        uow.session.add(proposal)
        await uow.session.flush()
        suggestion.state, suggestion.proposal_id = "proposed", proposal.id
        await uow.ledger.append("proposal_submitted", f"proposal:{proposal.id}", {
            "author": member.id, "title": title, "body": body, "category": "other", "scope": str(where),
            "threshold": threshold, "households": households, "household": None,
            "suggestion": suggestion.id, "requests": suggestion.request_ids}, at=now)
        reporters = await _members(uow, sorted({r.author_member_id for r in evidence}))
        return proposal, reporters


# --- configuration (command line) --------------------------------------------------------------------


async def configure(db: Database, community_name: str, *, parties: Sequence[tuple[str, str]] = (),
                    routes: Sequence[tuple[str, str]] = (), remove: Sequence[str] = (),
                    street: str | None = None, **clock: int | None) -> dict[str, Any]:
    """Add parties (name, kind), route categories (category, party name; a new category is added), remove
    categories, name the street level, set the clock; returns the configuration now in force."""
    async with db.uow() as uow:
        community = await get_community(uow, community_name)
        assert community.id is not None
        settings = await uow.session.get(RequestSettings, community.id)
        if settings is None:
            settings = RequestSettings(community_id=community.id,
                                       routes={c: None for c in rules.DEFAULT_CATEGORIES})
            uow.session.add(settings)
        changed: dict[str, Any] = {}
        for name, kind in parties:
            name = clean_text(name).strip()
            if not name or len(name) > 64:
                raise InvalidInput("party name 1-64 characters", field="party")
            if kind not in PARTY_KINDS:
                raise InvalidInput(f"party kind is one of {', '.join(PARTY_KINDS)}", field="party_kind")
            if await uow.insert_ignore(RequestParty, {"community_id": community.id, "name": name, "kind": kind},
                                       ("community_id", "name")):
                changed.setdefault("parties", []).append(f"{name}:{kind}")
        await uow.session.flush()
        new_routes = dict(settings.routes or {c: None for c in rules.DEFAULT_CATEGORIES})
        for category, party_name in routes:
            category = clean_text(category).strip()
            if not category or len(category) > 64:
                raise InvalidInput("category 1-64 characters", field="category")
            new_routes[category] = (await _party_named(uow, community.id, party_name)).id if party_name else None
            changed.setdefault("routes", []).append(f"{category}={party_name}")
        for category in remove:
            if new_routes.pop(category, "missing") != "missing":
                changed.setdefault("removed", []).append(category)
        if not new_routes:
            raise InvalidInput("at least one category", field="category")
        settings.routes = new_routes
        if street is not None:
            party = await _party_named(uow, community.id, street)
            settings.street_party_id = party.id
            changed["street"] = party.name
        for key, value in clock.items():
            if value is not None:
                setattr(settings, key, value)
                changed[key] = value
        rules.Policy(settings.response_hours, settings.urgent_response_hours, settings.resolution_days,
                     settings.rating_days).validate()
        if not 2 <= settings.recurring_households <= 50 or not 1 <= settings.recurring_days <= 365:
            raise InvalidInput("recurring: 2-50 households within 1-365 days", field="recurring")
        if changed:
            await uow.ledger.append("requests_configured", f"community:{community.id}", changed)
        names = {p.id: p.name for p in (await uow.session.execute(select(RequestParty).where(
            col(RequestParty.community_id) == community.id))).scalars()}
        kinds = {p.name: p.kind for p in (await uow.session.execute(select(RequestParty).where(
            col(RequestParty.community_id) == community.id))).scalars()}
        return {
            "community": community.name,
            "parties": ", ".join(f"{n} ({k})" for n, k in sorted(kinds.items())) or "-",
            "routes": ", ".join(f"{c}={names.get(p, '-') if p else '-'}" for c, p in new_routes.items()),
            "street": names.get(settings.street_party_id or 0, "-"),
            "response_hours": settings.response_hours, "urgent_response_hours": settings.urgent_response_hours,
            "resolution_days": settings.resolution_days, "rating_days": settings.rating_days,
            "recurring_households": settings.recurring_households, "recurring_days": settings.recurring_days,
        }


async def add_handler(db: Database, community_name: str, platform: str, external_id: str, party_name: str,
                      *, supervisor: bool = False) -> bool:
    """Give a chat member a handler (or supervisor) role in a party; False if they had it already."""
    async with db.uow() as uow:
        community = await get_community(uow, community_name)
        assert community.id is not None
        party = await _party_named(uow, community.id, party_name)
        member = await uow.member(platform, external_id)
        role = "supervisor" if supervisor else "handler"
        existing = (await uow.session.execute(select(RequestHandler).where(
            col(RequestHandler.party_id) == party.id, col(RequestHandler.member_id) == member.id))).scalar_one_or_none()
        if existing is not None:
            if existing.role == role:
                return False
            existing.role = role
        else:
            uow.session.add(RequestHandler(party_id=party.id or 0, member_id=member.id or 0, role=role))
        await uow.ledger.append("request_handler_added", f"community:{community.id}", {
            "party": party.id, "member": member.id, "role": role})
        return True


# --- rates -------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StatsRow:
    group: str  # "all", "party", "category"
    name: str
    rates: rules.Rates


async def stats(db: Database, community_name: str, month: str, tz: tzinfo) -> list[StatsRow]:
    """The month's rates (requests reported that month, community time): overall, per party, per category."""
    start, end = rules.month_bounds(month, tz)
    async with db.uow(readonly=True) as uow:
        community = await get_community(uow, community_name)
        rows = (await uow.session.execute(select(ResidentRequest).where(
            col(ResidentRequest.community_id) == community.id, col(ResidentRequest.reported_at) >= start,
            col(ResidentRequest.reported_at) < end).order_by(col(ResidentRequest.id)))).scalars().all()
        names = {p.id: p.name for p in (await uow.session.execute(select(RequestParty).where(
            col(RequestParty.community_id) == community.id))).scalars()}
    records = [rules.Record(
        category=r.category, party=names.get(r.party_id or 0, "-"), reported_at=r.reported_at,
        response_due=r.response_due, first_response_at=r.first_response_at, state=RequestState(r.state),
        resolution_due=r.resolution_due, resolved_at=r.resolved_at,
        rating=Rating(r.rating) if r.rating else None) for r in rows]
    out = [StatsRow("all", "all", rules.rates(records))]
    groups: tuple[tuple[str, Callable[[rules.Record], str]], ...] = (
        ("party", lambda r: r.party), ("category", lambda r: r.category))
    for group, key in groups:
        for name in sorted({key(r) for r in records}):
            out.append(StatsRow(group, name, rules.rates(r for r in records if key(r) == name)))
    return out


# --- photos ------------------------------------------------------------------------------------------
# Only the platform's file ids are kept, never the bytes: a photo is shown again by sending its id, to the
# same people who may read the request (its author, its party's handlers, the council). The ledger counts
# photos and records nothing else of them.

PHOTO_ID_MAX = 255
PHOTO_UNIQUE_MAX = 64


def check_photos(photos: Sequence[Photo]) -> None:
    """Refuse what the platform would not let the bot fetch, and more photos than a request holds."""
    for photo in photos:
        if photo.size > MAX_PHOTO_BYTES:
            raise InvalidInput("photo too big", field="request_photo_size", max=MAX_PHOTO_BYTES // (1024 * 1024))
        if not 0 < len(photo.file_id) <= PHOTO_ID_MAX or not 0 < len(photo.file_unique_id) <= PHOTO_UNIQUE_MAX:
            raise InvalidInput("not a photo id", field="request_photo_id")
    if len(photos) > rules.MAX_PHOTOS:
        raise InvalidInput("too many photos", field="request_photo_count", max=rules.MAX_PHOTOS)


async def _attach(uow: UnitOfWork, request: ResidentRequest, stage: str, member: Member, platform: str,
                  photos: Sequence[Photo], album: str | None, now: datetime) -> int:
    """Store the photos' ids with the request; how many were new (the same photo twice counts once)."""
    if not photos:
        return 0
    assert request.id is not None and member.id is not None
    have = set((await uow.session.execute(select(col(RequestPhoto.file_unique_id)).where(
        col(RequestPhoto.request_id) == request.id, col(RequestPhoto.stage) == stage))).scalars())
    new = list({p.file_unique_id: p for p in photos if p.file_unique_id not in have}.values())
    if len(have) + len(new) > rules.MAX_PHOTOS:
        raise InvalidInput("too many photos", field="request_photo_count", max=rules.MAX_PHOTOS)
    for photo in new:
        uow.session.add(RequestPhoto(
            request_id=request.id, stage=stage, platform=platform, file_id=photo.file_id,
            file_unique_id=photo.file_unique_id, size=photo.size, width=photo.width, height=photo.height,
            member_id=member.id, media_group_id=album[:64] if album else None, created_at=now))
    await uow.session.flush()
    return len(new)


def _photo_stage(request: ResidentRequest, author: bool, handler: bool, wanted: str | None = None) -> str:
    """The author adds to the report (until the request is closed); a handler of its party to the resolution.
    ``wanted``: the stage an album's first photo went to (a handler who also reported it may add to either)."""
    if handler and (wanted == "resolve" or (wanted is None and not author)):
        return "resolve"
    if author and request.state != "closed":
        return "report"
    if author:
        raise InvalidInput("closed", field="request_photo_closed")
    raise NotEligible("not the author nor a handler", reason="not_request_handler")


async def _photo_notices(uow: UnitOfWork, request: ResidentRequest, stage: str, by: Member,
                         photos: Sequence[Photo], key: str) -> list[Notice]:
    """Photos added after the fact: the resolution's go to the author; the report's to the handlers of
    the request (else its party; else the council)."""
    no = number(request)
    if stage == "resolve":
        recipients = await _members(uow, [request.author_member_id])
        text = _("More photos of the solution of your request {no}:", no=no)
    else:
        recipients = (await _members(uow, [request.handler_member_id]) if request.handler_member_id else
                      await party_members(uow, request.party_id, ("handler",)) if request.party_id else
                      await council(uow, request.community_id))
        text = _("The resident added photos to work order {no}:", no=no)
    ids = tuple(p.file_id for p in photos)
    return [Notice(person, text, f"{key}:{person.id}", photos=ids) for person in recipients if person.id != by.id]


async def add_photos(db: Database, actor: Actor, request_id: int, photos: Sequence[Photo],
                     album: str | None = None, now: datetime | None = None, stage: str | None = None
                     ) -> tuple[Outcome, str, int]:
    """/photo <no>: the author adds photos to the report, a handler of its party to the resolution.

    Returns the outcome (notices with the photos), the stage and how many photos were new.
    """
    now = now or utcnow()
    check_photos(photos)
    if not photos:
        raise InvalidInput("no photo", field="request_photo_missing")
    async with db.uow() as uow:
        member = await directory.member_of(uow, actor)
        request, author, handler, _council = await _load(uow, member, request_id, lock=True)
        stage = _photo_stage(request, author, handler, stage)
        attached = await _attach(uow, request, stage, member, actor.platform, photos, album, now)
        out = Outcome(request, await _party(uow, request.party_id))
        if attached:
            await uow.ledger.append("request_photos", f"request:{request.id}", {
                "by": member.id, "stage": stage, "photos": attached, "party": request.party_id}, at=now)
            out.notices = await _photo_notices(uow, request, stage, member, photos,
                                               f"request:{request.id}:photo:{now.timestamp():.0f}")
        return out, stage, attached


async def attach_album(db: Database, actor: Actor, album: str, photos: Sequence[Photo],
                       now: datetime | None = None) -> tuple[Outcome, str, int] | None:
    """A photo without a caption that belongs to an album whose captioned photo went to a request: it joins
    that request, at the same stage, if its sender still may add to it. None: no such album (yet)."""
    now = now or utcnow()
    check_photos(photos)
    async with db.uow() as uow:
        member = await directory.member_of(uow, actor)
        first = (await uow.session.execute(select(RequestPhoto).where(
            col(RequestPhoto.platform) == actor.platform, col(RequestPhoto.media_group_id) == album[:64],
            col(RequestPhoto.member_id) == member.id).order_by(col(RequestPhoto.id)).limit(1))).scalar_one_or_none()
    if first is None:
        return None
    return await add_photos(db, actor, first.request_id, photos, album, now, stage=first.stage)
