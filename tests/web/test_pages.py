"""The web pages through aiohttp's test client: sign-in, my page, a ballot cast and changed, a matter,
results with exact figures, proposing with the similar-matter offer, language and large text."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from bot.services import agenda, voting
from bot.services.census import redeem_code
from bot.services.export import export_data
from bot.storage.models import Ballot, Member, Proposal, utcnow
from tests.services.conftest import link  # noqa: F401 - the site fixture links members with it
from tests.web.conftest import MODERATOR, NEIGHBOUR, OWNER, THIRD, Site


async def ballots(site: Site) -> list[Ballot]:
    async with site.db.uow(readonly=True) as uow:
        return list((await uow.session.execute(select(Ballot).where(Ballot.vote_id == site.vote.id))).scalars())


async def test_a_link_from_web_signs_the_chat_member_in_and_the_home_page_lists_what_waits(site: Site) -> None:
    browser = await site.browser()
    page = await browser.sign_in(OWNER)
    assert "幸福里 · 3-2-101 · 业主" in page
    assert "等您投票的表决" in page and f'href="/v/{site.vote.id}"' in page
    assert "#1 Paint the stairwell" in page and "表决中" in page
    async with site.db.uow(readonly=True) as uow:
        member = (await uow.session.execute(select(Member).where(Member.external_id == OWNER.external_id))).scalar_one()
        web_members = (await uow.session.execute(select(Member).where(Member.platform == "web"))).all()
    assert member.platform == "telegram" and web_members == []  # the same member, no second account


async def test_not_signed_in_pages_send_to_the_sign_in_page(site: Site) -> None:
    browser = await site.browser()
    page = await browser.get(f"/v/{site.vote.id}")
    assert "登录" in page and 'name="code"' in page and f'value="/v/{site.vote.id}"' in page


async def test_voting_yes_then_no_keeps_one_web_ballot_and_the_chat_replaces_it(site: Site) -> None:
    browser = await site.browser()
    await browser.sign_in(OWNER)
    page = await browser.get(f"/v/{site.vote.id}")
    assert "需三分之二以上业主参与" in page and "参与者中过半数" in page
    assert "您还没有投票。" in page and "已投票 0/" in page
    page = await browser.post(f"/v/{site.vote.id}", {"choice": "yes"})
    assert '<p class="mine" data-testid="my-ballot">赞成</p>' in page and "已记录" in page
    assert "截止前" in page or "您可以" in page
    page = await browser.post(f"/v/{site.vote.id}", {"choice": "no"})
    assert '<p class="mine" data-testid="my-ballot">反对</p>' in page and "已投票 1/" in page
    rows = await ballots(site)
    assert [(b.source, b.choice, b.revision) for b in rows] == [("web", "no", 2)]
    exported = (await export_data(site.db, site.proposal_id))["proposals"][0]["votes"][0]["ballots"]
    assert [(b["source"], b["choice"]) for b in exported] == [("web", "no")]
    # The same owner in the chat: still one ballot, the last one counts.
    await voting.cast_ballot(site.db, site.vote.id, OWNER, "yes")
    rows = await ballots(site)
    assert [(b.source, b.choice, b.revision) for b in rows] == [("self", "yes", 3)]
    page = await browser.get(f"/v/{site.vote.id}")
    assert '<p class="mine" data-testid="my-ballot">赞成</p>' in page


async def test_a_paper_ballot_never_replaces_a_web_ballot(site: Site) -> None:
    browser = await site.browser()
    await browser.sign_in(OWNER)
    await browser.post(f"/v/{site.vote.id}", {"choice": "yes"})
    try:
        await voting.paper_ballot(site.db, site.vote.id, MODERATOR, "3-2-101", "no", "paper ballot no. 1")
    except Exception as error:  # noqa: BLE001
        assert getattr(error, "params", {}).get("reason") == "owner_voted"
    else:
        raise AssertionError("the paper ballot replaced the owner's own")
    assert [(b.source, b.choice) for b in await ballots(site)] == [("web", "yes")]


async def test_the_matter_page_shows_history_and_co_signs(site: Site) -> None:
    proposal = (await agenda.propose(site.db, site.community_id, OWNER, "Fix the door lock", scope="3-2",
                                     force=True)).proposal
    assert proposal is not None
    browser = await site.browser()
    await browser.sign_in(THIRD)
    page = await browser.get(f"/m/{proposal.id}")
    assert "附议 1/2" in page and "提出议题" in page and 'data-testid="support"' in page
    page = await browser.post(f"/m/{proposal.id}/support", {})
    assert "您家已附议这个议题。" in page and "一户附议" in page and "附议已够：交议事会审核" in page
    async with site.db.uow(readonly=True) as uow:
        assert (await uow.get(Proposal, proposal.id or 0, what="proposal")).state == "review"


async def test_results_show_each_criterion_exactly_and_charts_by_heads_and_area(site: Site) -> None:
    for actor, choice in ((OWNER, "yes"), (NEIGHBOUR, "yes"), (THIRD, "no")):
        await voting.cast_ballot(site.db, site.vote.id, actor, choice)
    await voting.close_vote(site.db, site.vote.id, MODERATOR)
    browser = await site.browser()
    await browser.sign_in(NEIGHBOUR)
    page = await browser.get(f"/r/{site.vote.id}")
    assert "未通过" in page
    assert "3 / 12" in page  # taking part, by heads: 3 of the unit's 12 owners
    assert page.count("<rect ") == 6  # yes/no/abstain, by heads and by area
    assert "按人数（业主）" in page and "按专有面积（平方米）" in page
    page = await browser.get(f"/v/{site.vote.id}")
    assert "这次表决已结束" in page or "已结束" in page
    assert 'data-testid="vote-yes"' not in page


async def test_proposing_offers_similar_matters_first(site: Site) -> None:
    await agenda.propose(site.db, site.community_id, OWNER, "Fix the door lock of unit 3-2", scope="3-2", force=True)
    browser = await site.browser()
    await browser.sign_in(NEIGHBOUR)
    page = await browser.get("/propose")
    scope = re.search(r'<option value="(\d+:3-2)"', page)
    assert scope is not None
    form = {"title": "Fix the door lock", "body": "", "category": "other", "scope": scope.group(1)}
    page = await browser.post("/propose", form)
    assert "已有类似的议题" in page and 'href="/m/2"' in page and 'name="force" value="1"' in page
    page = await browser.post("/propose", {**form, "force": "1"})
    assert "#3 Fix the door lock" in page and "附议 1/2" in page


async def test_language_is_shared_with_the_chat_and_large_text_switches(site: Site) -> None:
    browser = await site.browser()
    await browser.sign_in(OWNER)
    page = await browser.post("/prefs", {"lang": "en", "big": "", "next": "/"})
    assert "Votes waiting for you" in page and 'lang="en"' in page
    async with site.db.uow(readonly=True) as uow:
        member = (await uow.session.execute(select(Member).where(Member.external_id == OWNER.external_id))).scalar_one()
    assert member.locale == "en"  # /me in the chat now answers in English too
    page = await browser.post("/prefs", {"lang": "", "big": "1", "next": "/"})
    assert '<body class="big">' in page


async def test_an_unused_invite_code_links_the_home_and_a_used_one_signs_its_member_in(site: Site) -> None:
    browser = await site.browser()
    page = await browser.post("/signin", {"home": "3-2-401", "code": site.codes["3-2-401"].lower(), "next": "/"})
    assert "3-2-401 · 业主" in page
    async with site.db.uow(readonly=True) as uow:
        web_member = (await uow.session.execute(select(Member).where(Member.platform == "web"))).scalar_one()
    assert web_member.reachable is False  # a web-only member has no chat to be written to
    chat = await redeem_code(site.db, "telegram", "3205", site.codes["3-2-501"])
    other = await site.browser()
    page = await other.post("/signin", {"home": "3-2-501", "code": site.codes["3-2-501"], "next": f"/v/{site.vote.id}"})
    assert 'data-testid="vote-yes"' in page  # the next page after signing in: the ballot
    await other.post(f"/v/{site.vote.id}", {"choice": "abstain"})
    rows = [b for b in await ballots(site) if b.cast_by_member_id == chat.member_id]
    assert [(b.source, b.choice) for b in rows] == [("web", "abstain")]


async def test_headers_and_cookies(site: Site) -> None:
    browser = await site.browser()
    response = await browser.client.get("/signin")
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp and "form-action 'self'" in csp
    assert response.headers["Referrer-Policy"] == "no-referrer"
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    await browser.sign_in(OWNER)
    session = browser.client.session.cookie_jar.filter_cookies(browser.client.make_url("/"))
    assert "yishi_s" in session
    text = (await (await browser.client.get("/static/web.css")).text())
    assert "font-size: 18px" in text and "min-height: 48px" in text and "http" not in text


async def test_sign_out_ends_the_session(site: Site) -> None:
    browser = await site.browser()
    await browser.sign_in(OWNER)
    page = await browser.post("/signout", {})
    assert 'name="code"' in page
    page = await browser.get("/")
    assert 'name="code"' in page  # the old cookie signs nobody in


async def test_a_session_expires(site: Site) -> None:
    import time_machine

    browser = await site.browser()
    await browser.sign_in(OWNER)
    with time_machine.travel(utcnow() + timedelta(days=31)):
        page = await browser.get("/")
    assert 'name="code"' in page


async def test_a_web_ballot_passes_the_ledger_cross_check_and_is_counted(site: Site) -> None:
    browser = await site.browser()
    await browser.sign_in(OWNER)
    await browser.post(f"/v/{site.vote.id}", {"choice": "yes"})
    await browser.post(f"/v/{site.vote.id}", {"choice": "no"})
    closed = await voting.close_vote(site.db, site.vote.id, MODERATOR)  # refuses if ballots differ from the ledger
    assert closed.result["no"]["heads"] == 1 and closed.result["yes"]["heads"] == 0
    assert closed.result["participated"]["heads"] == 1


async def test_choice_and_ranked_ballots_through_their_forms(site: Site) -> None:
    ids = []
    for title, kind in (("Colour of the door", "choice"), ("Order of the works", "ranked")):
        proposal = (await agenda.propose(site.db, site.community_id, OWNER, title, scope="3-2", force=True)).proposal
        assert proposal is not None and proposal.id is not None
        await agenda.support(site.db, proposal.id, NEIGHBOUR)
        await agenda.accept(site.db, proposal.id, MODERATOR)
        vote = await voting.open_vote(site.db, proposal.id, MODERATOR, kind, 7, options=["red", "green", "blue"],
                                      secret=False,
                                      max_choices=2)
        ids.append(vote.id)
    browser = await site.browser()
    await browser.sign_in(THIRD)
    page = await browser.get(f"/v/{ids[0]}")
    assert "最多可选 2 项" in page and 'type="checkbox" name="option" value="2"' in page
    page = await browser.post(f"/v/{ids[0]}", [("option", "2"), ("option", "0")])
    assert '<p class="mine" data-testid="my-ballot">red, blue</p>' in page
    page = await browser.post(f"/v/{ids[0]}", [("option", "0"), ("option", "1"), ("option", "2")], status=400)
    assert "red, blue" not in page  # three of two: refused, the ballot stays
    page = await browser.post(f"/v/{ids[1]}", {"rank0": "2", "rank1": "", "rank2": "1"})
    assert '<p class="mine" data-testid="my-ballot">blue &gt; red</p>' in page or "blue > red" in page
    page = await browser.post(f"/v/{ids[1]}", {"rank0": "1", "rank1": "1", "rank2": ""}, status=400)
    async with site.db.uow(readonly=True) as uow:
        rows = (await uow.session.execute(select(Ballot.vote_id, Ballot.choice, Ballot.source)
                                          .where(Ballot.vote_id.in_(ids)).order_by(Ballot.vote_id))).all()
    assert [tuple(r) for r in rows] == [(ids[0], [0, 2], "web"), (ids[1], [2, 0], "web")]


async def test_a_secret_vote_shows_no_choice_and_no_area_turnout(site: Site) -> None:
    proposal = (await agenda.propose(site.db, site.community_id, OWNER, "Secret matter", scope="3-2",
                                     force=True)).proposal
    assert proposal is not None and proposal.id is not None
    await agenda.support(site.db, proposal.id, NEIGHBOUR)
    await agenda.accept(site.db, proposal.id, MODERATOR)
    vote = await voting.open_vote(site.db, proposal.id, MODERATOR, "art278", 7, secret=True)
    browser = await site.browser()
    await browser.sign_in(OWNER)
    page = await browser.post(f"/v/{vote.id}", {"choice": "no"})
    assert 'data-testid="my-ballot">您的选票已记录。这是不记名表决' in page
    assert 'class="mine"' not in page and "面积 " not in page and "已投票 1/12 人" in page
    page = await browser.get(f"/r/{vote.id}")
    assert "表决还在进行中" in page and "<rect " not in page
