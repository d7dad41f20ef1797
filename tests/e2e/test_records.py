"""/records on both runtimes: a council member gets the elevator vote's announcement as a PDF in private."""

from __future__ import annotations

import io

from pypdf import PdfReader

from bot.services import agenda, voting
from bot.services.directory import Actor, home_by_label
from bot.services.export import export_data
from bot.storage.models import MemberLink, utcnow
from tests.e2e.conftest import GROUP, MODERATOR, OWNERS, World

CHOICES = {"101": "no", "102": "yes", "201": "yes", "202": "yes", "301": "yes", "302": "yes", "401": "yes",
           "402": "abstain", "501": "yes", "601": "yes"}


async def _elevator_vote(w: World) -> tuple[int, int]:
    """The sample compound's 3-2 elevator vote: 12 owners linked, 10 ballots (8 yes, 1 no, 1 abstain)."""
    owners = {}
    for room, user in OWNERS.items():
        actor = Actor("telegram", str(user), f"Owner {room}")
        async with w.db.uow() as uow:
            member = await uow.member(actor.platform, actor.external_id, actor.display_name)
            home = await home_by_label(uow, w.community_id, f"3-2-{room}")
            uow.session.add(MemberLink(member_id=member.id, exclusive_unit_id=home.id, role="owner",
                                       status="verified", via="request", created_at=utcnow()))
        owners[room] = actor
    proposal = (await agenda.propose(w.db, w.community_id, owners["101"], "3号楼2单元加装电梯", scope="3-2",
                                     category="elevator", force=True)).proposal
    assert proposal is not None and proposal.id is not None
    for room in ("102", "201", "202", "301"):  # five co-signatures: the matter is ready for review
        await agenda.support(w.db, proposal.id, owners[room])
    await agenda.accept(w.db, proposal.id, w.moderator)
    vote = await voting.open_vote(w.db, proposal.id, w.moderator, "elevator", 10)
    for room, choice in CHOICES.items():
        await voting.cast_ballot(w.db, vote.id, owners[room], choice)
    return proposal.id, vote.id


async def test_records_sends_the_announcement_in_private(world: World) -> None:
    w = world
    pid, vid = await _elevator_vote(w)
    refused = await w.personal(OWNERS["101"], GROUP, f"/records {pid}")
    assert "Only moderators" in refused.text
    still_open = await w.say(MODERATOR, MODERATOR, f"/records {pid}")
    assert f"The vote on #{pid} is still open" in still_open.text
    assert "no proposal #99" in (await w.say(MODERATOR, MODERATOR, "/records 99")).text
    assert "Usage" in (await w.say(MODERATOR, MODERATOR, "/records")).text
    assert not [m for m in w.fake.messages(MODERATOR) if m.document] + [
        m for m in w.fake.messages(OWNERS["101"]) if m.document]

    await voting.close_vote(w.db, vid, w.moderator)
    mark = w.fake.last_message(MODERATOR).message_id
    w.fake.send_text(MODERATOR, GROUP, f"/records {pid}")
    sent = await w.fake.wait_for_message(MODERATOR, lambda m: m.from_bot and m.document is not None, after=mark)
    assert sent.document["file_name"] == f"announcement-{pid}-vote-{vid}.pdf"
    assert sent.document["mime_type"] == "application/pdf" and f"#{pid}" in (sent.caption or "")
    pointer = await w.fake.wait_for_message(MODERATOR, lambda m: m.from_bot and "private chat" in (m.text or ""),
                                            after=mark)
    assert f"#{pid}" in pointer.text
    assert not [m for m in w.fake.messages(GROUP) if m.document]  # never in the room
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(sent.document_content)).pages)
    flat = text.replace("\n", " ")
    result = (await export_data(w.db, pid))["proposals"][0]["votes"][0]["result"]
    # The moderator's client speaks English: the document is in English, the figures those of `yishi export`.
    assert "Announcement of a vote result" in flat and "幸福里" in flat
    for measure in ("eligible", "participated", "yes", "no", "abstain"):
        assert f"{result[measure]['heads']} {result[measure]['area_m2']}" in flat
    assert (result["yes"]["heads"], result["yes"]["area_m2"]) == (8, "479.82")
