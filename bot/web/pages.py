"""The pages: sign-in, my page, a matter, a ballot, results, propose. Each checks rights on the server
(through bot.services), and each action is a POST form followed by a redirect (no double submit)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from fractions import Fraction
from typing import Any

from aiohttp import web
from multidict import MultiDictProxy

from bot.deliberation.errors import InvalidInput
from bot.deliberation.proposal import Category
from bot.deliberation.vote_kinds import BallotType, get_kind
from bot.handlers import render as words_of
from bot.handlers.agenda import CARD
from bot.handlers.board import BALLOT
from bot.handlers.errors import state_name
from bot.i18n import Text
from bot.plain import scope_name
from bot.services import agenda, portal, voting
from bot.services import web as signin
from bot.storage.models import Member, Vote
from bot.web.base import (
    BIG_COOKIE,
    FORM,
    LANG_COOKIE,
    MEMBER,
    SESSION_COOKIE,
    _cookie,
    config,
    locale_of,
    message,
    redirect,
    render,
    words,
)
from bot.web.text import EVENTS, ROLES, RULES

ID_RE = re.compile(r"[0-9]{1,9}")
TOKEN_RE = re.compile(r"[A-Za-z0-9_\-.]{10,100}")
FIELD_MAX = 4000  # any one form field: longer is refused before it reaches a service


def _id(request: web.Request, name: str = "id") -> int:
    value = request.match_info.get(name, "")
    if not ID_RE.fullmatch(value):
        raise web.HTTPNotFound()
    return int(value)


def _member(request: web.Request) -> Member:
    member: Member | None = request.get(MEMBER)
    if member is None or member.id is None:
        target = request.path if request.method == "GET" else "/"
        raise web.HTTPSeeOther(f"/signin?next={target}")
    return member


def _field(request: web.Request, name: str, limit: int = FIELD_MAX) -> str:
    form: MultiDictProxy[Any] = request[FORM]
    value = form.get(name, "")
    if not isinstance(value, str):
        raise InvalidInput("not text", field=name)
    if len(value) > limit:
        raise TooLong()
    return value


class TooLong(web.HTTPRequestEntityTooLarge):
    def __init__(self) -> None:
        super().__init__(max_size=FIELD_MAX, actual_size=FIELD_MAX + 1)


def _when(request: web.Request, moment: datetime) -> str:
    return words_of.when(moment, config(request).tz)


NEXT_RE = re.compile(r"/(?:[A-Za-z0-9_\-]+(?:/[A-Za-z0-9_\-]+)*)?")


def _safe_next(target: str) -> str:
    """Only a path of this site ("/v/3"): never "//host" or "/\\host", which browsers read as another site."""
    return target if NEXT_RE.fullmatch(target) and len(target) < 100 else "/"


def client_address(request: web.Request) -> str:
    """Who is guessing codes: the peer, or the client a proxy on this machine (nginx in front) names in
    X-Forwarded-For (its last entry: the one that proxy added). A remote peer cannot set it for itself."""
    peer = request.remote or "unknown"
    forwarded = request.headers.get("X-Forwarded-For", "")
    if peer in ("127.0.0.1", "::1") and forwarded:
        return forwarded.split(",")[-1].strip()[:60] or peer
    return peer


# --- sign-in --------------------------------------------------------------------------------------------


async def signin_page(request: web.Request) -> web.StreamResponse:
    return render(request, "signin.html", next=_safe_next(request.query.get("next", "/")))


async def signin_code(request: web.Request) -> web.StreamResponse:
    home, code = _field(request, "home", 40), _field(request, "code", 40)
    session = await signin.signin_with_code(config(request).db, home, code, client_address(request))
    return _signed_in(request, session, _safe_next(_field(request, "next", 100) or "/"))


async def link_page(request: web.Request) -> web.StreamResponse:
    """The link from /web: a page with one button, so a link preview fetching it does not use it up."""
    token = request.match_info["token"]
    if not TOKEN_RE.fullmatch(token) or not signin.signed(config(request).db.keys, "signin", token):
        return message(request, words(request).forged, 400)
    return render(request, "confirm.html", token=token)


async def link_redeem(request: web.Request) -> web.StreamResponse:
    token = _field(request, "token", 100)
    session = await signin.redeem_signin(config(request).db, token)
    return _signed_in(request, session, "/")


def _signed_in(request: web.Request, session: signin.Session, target: str) -> web.StreamResponse:
    response = redirect(target)
    max_age = int((session.expires_at - datetime.now(UTC)).total_seconds())
    _cookie(response, request, SESSION_COOKIE, session.token, max_age)
    return response


async def sign_out(request: web.Request) -> web.StreamResponse:
    await signin.end_session(config(request).db, request.cookies.get(SESSION_COOKIE))
    response = redirect("/signin")
    response.del_cookie(SESSION_COOKIE, path="/")
    return response


async def prefs(request: web.Request) -> web.StreamResponse:
    """Language (shared with the chat for a signed-in member) and the large-text switch."""
    lang, big = _field(request, "lang", 10), _field(request, "big", 2)
    response = redirect(_safe_next(_field(request, "next", 100) or "/"))
    if lang in ("zh_CN", "en"):
        member = request.get(MEMBER)
        if member is not None and member.id is not None:
            await signin.set_member_locale(config(request).db, member.id, lang)
        _cookie(response, request, LANG_COOKIE, lang, 365 * 86400)
    if big in ("0", "1"):
        _cookie(response, request, BIG_COOKIE, big, 365 * 86400)
    return response


# --- my page --------------------------------------------------------------------------------------------


async def home(request: web.Request) -> web.StreamResponse:
    if request.get(MEMBER) is None:
        raise web.HTTPSeeOther("/signin")
    member = _member(request)
    assert member.id is not None
    found = await portal.overview(config(request).db, member.id)
    w = words(request)
    matters = [{"id": p.id, "title": p.title, "scope": w(scope_name(p.scope)), "state": w(state_name(p.state)),
                "progress": _progress(w, p.state, supports, p.support_threshold),
                "vote": vote.id if vote is not None else None}
               for p, supports, vote in found.matters]
    waiting = [{"id": v.id, "title": p.title, "deadline": _when(request, v.closes_at)} for v, p in found.waiting]
    places = [{"name": place.name, "council": place.council,
               "homes": [(home.label, w(ROLES.get(role, role))) for home, role in place.homes]}
              for place in found.places]
    return render(request, "home.html", places=places, matters=matters, waiting=waiting)


def _progress(w: Any, state: str, have: int, need: int) -> str:
    if state == "collecting":
        return str(w("progress_collecting", have=have, need=need))
    return str(w("progress_done", have=have))


# --- a matter --------------------------------------------------------------------------------------------


async def matter(request: web.Request) -> web.StreamResponse:
    member = _member(request)
    assert member.id is not None
    found = await portal.matter(config(request).db, member.id, _id(request))
    w, p = words(request), found.proposal
    history = [{"when": _when(request, at), "what": w(_event(event, payload))} for at, event, payload in found.history]
    return render(request, "matter.html", p=p, supports=found.supports, scope=w(scope_name(p.scope)),
                  category=w(words_of.CATEGORY_NAMES.get(p.category, p.category)), state=w(state_name(p.state)),
                  progress=_progress(w, p.state, found.supports, p.support_threshold), history=history,
                  vote=found.vote, supported=found.supported, can_support=p.state == "collecting")


def _event(event: str, payload: dict[str, Any]) -> Text:
    return EVENTS.get(event, Text(event))


async def support(request: web.Request) -> web.StreamResponse:
    member = _member(request)
    proposal_id = _id(request)
    assert member.id is not None
    await portal.matter(config(request).db, member.id, proposal_id)  # in scope, or refused
    await agenda.support(config(request).db, proposal_id, signin.actor_of(member))
    config(request).changed(CARD, proposal_id)  # the matter's cards in the rooms show the new count
    return redirect(f"/m/{proposal_id}")


# --- a ballot ------------------------------------------------------------------------------------------


async def ballot(request: web.Request) -> web.StreamResponse:
    member = _member(request)
    assert member.id is not None
    view = await portal.ballot(config(request).db, member.id, _id(request))
    w, vote, kind = words(request), view.vote, get_kind(view.vote.kind)
    rule = w(RULES[kind.name], n=vote.max_choices) if kind.name in RULES else w(words_of.kind_name(kind.name))
    mine = _choice_words(w, vote, view.mine) if view.voted and not vote.secret else None
    standing = _turnout(view.standing)
    open_now = vote.status == "open" and datetime.now(UTC) < vote.closes_at
    return render(request, "ballot.html", vote=vote, p=view.proposal, rule=rule, kind=w(words_of.kind_name(kind.name)),
                  ballot_type=str(kind.ballot.value), options=list(enumerate(vote.options or [])),
                  eligible=bool(view.keys), voted=view.voted, mine=mine, open_now=open_now,
                  deadline=_when(request, vote.closes_at), standing=standing,
                  scope=w(scope_name(vote.scope)), done=request.query.get("ok") == "1")


def _choice_words(w: Any, vote: Vote, choice: Any) -> str:
    if choice in voting.POSITIONS:
        return str(w(choice))
    options = vote.options or []
    if isinstance(choice, list):
        return " > ".join(options[i] for i in choice if 0 <= i < len(options)) if get_kind(vote.kind).ballot \
            is BallotType.RANKED else ", ".join(options[i] for i in choice if 0 <= i < len(options))
    return str(choice)


def _turnout(standing: dict[str, Any]) -> dict[str, Any]:
    eligible, took = standing["eligible"], standing["participated"]
    out = {"heads": took["heads"], "total": eligible["heads"],
           "share": words_of.share(took["heads"], eligible["heads"]), "area": None}
    if standing["measures_area"] and took["area_centi"] is not None:
        out["area"] = {"took": words_of.grouped_area(took["area_centi"]),
                       "total": words_of.grouped_area(eligible["area_centi"]),
                       "share": words_of.share(took["area_centi"], eligible["area_centi"])}
    return out


async def cast(request: web.Request) -> web.StreamResponse:
    member = _member(request)
    vote_id = _id(request)
    assert member.id is not None
    view = await portal.ballot(config(request).db, member.id, vote_id)  # in scope, or refused
    choice = _read_choice(request, view.vote)
    await voting.cast_ballot(config(request).db, vote_id, signin.actor_of(member), choice, source="web")
    config(request).changed(BALLOT, vote_id)  # the ballot messages in the rooms show the new turnout
    return redirect(f"/v/{vote_id}?ok=1")


def _read_choice(request: web.Request, vote: Vote) -> Any:
    kind = get_kind(vote.kind)
    form: MultiDictProxy[Any] = request[FORM]
    if kind.ballot is BallotType.YES_NO:
        choice = _field(request, "choice", 10)
        if choice not in voting.POSITIONS:
            raise InvalidInput("choose yes, no or abstain", field="choice")
        return choice
    n = len(vote.options or [])
    if kind.ballot is BallotType.RANKED:
        ranks: list[tuple[int, int]] = []
        for i in range(n):
            value = _field(request, f"rank{i}", 3)
            if value:
                if not value.isdigit() or not 1 <= int(value) <= n:
                    raise InvalidInput("option out of range or repeated", field="choice")
                ranks.append((int(value), i))
        if len({rank for rank, _i in ranks}) != len(ranks):
            raise InvalidInput("option out of range or repeated", field="choice")
        return [i for _rank, i in sorted(ranks)]
    picked = []
    for value in form.getall("option", []):
        if not isinstance(value, str) or not ID_RE.fullmatch(value):
            raise InvalidInput("option out of range or repeated", field="choice")
        picked.append(int(value))
    return picked


# --- results ----------------------------------------------------------------------------------------------


async def results(request: web.Request) -> web.StreamResponse:
    member = _member(request)
    assert member.id is not None
    view = await portal.ballot(config(request).db, member.id, _id(request))
    w, vote = words(request), view.vote
    result = vote.result if vote.status == "closed" else None
    criteria, charts = [], []
    if result is not None:
        criteria = [w(words_of.criterion_line(c)) if c.get("actual") != "-" else
                    f"{'✓' if c['met'] else '✗'} {w(words_of.CRITERION_NAMES.get(c['name'], c['name']))}"
                    for c in result["criteria"]]
        charts = _charts(w, vote, result)
    return render(request, "results.html", vote=vote, p=view.proposal, result=result, criteria=criteria,
                  charts=charts, kind=w(words_of.kind_name(vote.kind)), standing=_turnout(view.standing),
                  participation=w(words_of.participation_line(result)) if result else "",
                  secrecy=[w(line) for line in words_of.secrecy_lines(result)] if result else [])


BAR = 240  # the chart's bar width in SVG units


def _charts(w: Any, vote: Vote, result: dict[str, Any]) -> list[dict[str, Any]]:
    """Bars by heads and by area, exact integers/decimals beside each (widths only approximate them)."""
    if "yes" in result:
        rows = [(w(name), result[name]) for name in voting.POSITIONS]
    elif "scores" in result:
        rows = [(option, score) for option, score in zip(result["options"], result["scores"], strict=False)]
    else:
        return []
    charts = []
    heads_total = max(1, result["participated"]["heads"])
    charts.append({"title": w("by_heads"), "bars": [
        {"label": label, "value": str(m["heads"]), "width": BAR * int(m["heads"]) // heads_total, "y": 8 + 44 * i}
        for i, (label, m) in enumerate(rows)]})
    if words_of._counts_area(vote.kind) and "area_m2" in rows[0][1]:  # noqa: SLF001 - same rule as the chat
        total = max(Fraction(1, 100), Fraction(str(result["participated"]["area_m2"])))
        charts.append({"title": w("by_area"), "bars": [
            {"label": label, "value": str(m["area_m2"]),
             "width": int(BAR * Fraction(str(m["area_m2"])) / total), "y": 8 + 44 * i}
            for i, (label, m) in enumerate(rows)]})
    return charts


# --- propose -----------------------------------------------------------------------------------------


async def propose_page(request: web.Request) -> web.StreamResponse:
    member = _member(request)
    assert member.id is not None
    return await _propose_form(request, member, {})


async def _propose_form(request: web.Request, member: Member, values: dict[str, str],
                        similar: list[tuple[int, str]] | None = None) -> web.Response:
    assert member.id is not None
    w = words(request)
    async with config(request).db.uow(readonly=True) as uow:
        places = await portal.places(uow, member.id)
    scopes = [(f"{place.community_id}:{scope}", f"{place.name} · {w(scope_name(scope))}")
              for place in places for scope in place.scopes()]
    categories = [(str(c), w(words_of.CATEGORY_NAMES.get(str(c), str(c)))) for c in Category]
    return render(request, "propose.html", scopes=scopes, categories=categories, values=values,
                  similar=similar or [])


async def propose(request: web.Request) -> web.StreamResponse:
    member = _member(request)
    assert member.id is not None
    title, body = _field(request, "title", 2000), _field(request, "body", 35000)
    category, where = _field(request, "category", 40), _field(request, "scope", 60)
    force = _field(request, "force", 2) == "1"
    community, _sep, scope = where.partition(":")
    if not ID_RE.fullmatch(community) or not scope:
        raise InvalidInput("choose who it concerns", field="scope")
    submission = await agenda.propose(config(request).db, int(community), signin.actor_of(member), title, body,
                                      scope=scope, category=category, force=force)
    if submission.proposal is None:
        similar = [(p.id or 0, p.title) for p, _score in submission.similar]
        return await _propose_form(request, member, {"title": title, "body": body, "category": category,
                                                     "scope": where}, similar)
    return redirect(f"/m/{submission.proposal.id}")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/", home)
    app.router.add_get("/signin", signin_page)
    app.router.add_post("/signin", signin_code)
    app.router.add_get("/s/{token}", link_page)
    app.router.add_post("/s", link_redeem)
    app.router.add_post("/signout", sign_out)
    app.router.add_post("/prefs", prefs)
    app.router.add_get("/m/{id}", matter)
    app.router.add_post("/m/{id}/support", support)
    app.router.add_get("/v/{id}", ballot)
    app.router.add_post("/v/{id}", cast)
    app.router.add_get("/r/{id}", results)
    app.router.add_get("/propose", propose_page)
    app.router.add_post("/propose", propose)


__all__ = ["add_routes", "locale_of"]
