from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

from bot.services import agenda, voting
from bot.services.export import export_data, to_csv, to_json
from bot.storage import Database
from tests.services.conftest import MODERATOR, T0, census, resident

HOMES = census(*[("1-1", f"10{i}", 1, area, f"O{i}", "person")
                 for i, area in enumerate(["78.40", "61.25", "55.00"], start=1)])


async def _story(db: Database, make_community, link, secret: bool) -> tuple[int, int]:
    cid = await make_community(HOMES, support_fixed=2)
    a, b, c = [await link(cid, f"1-1-10{i}", i) for i in range(1, 4)]
    pid = (await agenda.propose(db, cid, a, "Repaint the stairwell", scope="1-1", now=T0)).proposal.id
    await agenda.support(db, pid, b, now=T0)
    await agenda.accept(db, pid, MODERATOR, now=T0)
    vote = await voting.open_vote(db, pid, MODERATOR, "art278", 7, secret=secret, now=T0)
    await voting.cast_ballot(db, vote.id, a, "yes", now=T0)
    await voting.cast_ballot(db, vote.id, b, "no", now=T0)
    await voting.cast_ballot(db, vote.id, c, "yes", now=T0)
    await voting.close_vote(db, vote.id, MODERATOR, now=T0 + timedelta(days=7))
    return pid, vote.id


async def test_json_export_has_every_field(db: Database, make_community, link) -> None:
    pid, vid = await _story(db, make_community, link, secret=False)
    data = json.loads(to_json(await export_data(db)))
    proposal = data["proposals"][0]
    assert (proposal["id"], proposal["supports"], proposal["threshold"], proposal["state"]) == (pid, 2, 2, "adopted")
    vote = proposal["votes"][0]
    assert (vote["kind"], vote["status"], vote["roll_size"]) == ("art278", "closed", 3)
    result = vote["result"]
    assert result["passed"] is True
    assert result["eligible"] == {"heads": 3, "area_m2": "194.65"}
    assert result["participated"] == {"heads": 3, "area_m2": "194.65"}
    assert result["yes"] == {"heads": 2, "area_m2": "133.40"}
    assert result["no"] == {"heads": 1, "area_m2": "61.25"}
    assert result["abstain"] == {"heads": 0, "area_m2": "0.00"}
    assert {c["name"] for c in result["criteria"]} == {"participation_area", "participation_heads",
                                                       "approval_area", "approval_heads"}
    assert all({"name", "required", "actual", "met"} <= set(c) for c in result["criteria"])
    assert sorted(b["choice"] for b in vote["ballots"]) == ["no", "yes", "yes"]


async def test_secret_vote_exports_no_choice(db: Database, make_community, link) -> None:
    await _story(db, make_community, link, secret=True)
    text = to_json(await export_data(db))
    vote = json.loads(text)["proposals"][0]["votes"][0]
    assert "ballots" not in vote and len(vote["commitments"]) == 3
    assert '"choice"' not in text
    assert all("elector" not in c for c in vote["commitments"])
    # Homes of different areas: exact sums (and whole-percent shares) would single voters out.
    assert vote["result"]["passed"] and "yes" not in vote["result"]
    assert (vote["result"]["secrecy"]["published"], vote["result"]["secrecy"]["reason"]) == (
        "decision", "identifying_sums")


async def test_csv_export_one_row_per_vote(db: Database, make_community, link) -> None:
    pid, vid = await _story(db, make_community, link, secret=False)
    rows = list(csv.DictReader(io.StringIO(to_csv(await export_data(db, pid)))))
    assert len(rows) == 1
    row = rows[0]
    assert (row["vote_id"], row["kind"], row["passed"], row["yes_heads"], row["yes_area_m2"]) == (
        str(vid), "art278", "True", "2", "133.40")
    assert "participation_area 100.00% >= 66.67% met" in row["criteria"]


async def test_export_names_homes_and_owners_objections_and_progress(db: Database, make_community, link) -> None:
    from bot.services import elevator
    from bot.services.implementation import record_progress

    pid, vid = await _story(db, make_community, link, secret=False)
    await record_progress(db, pid, MODERATOR, "Painter booked for 12-10", now=T0 + timedelta(days=8))
    await record_progress(db, pid, MODERATOR, "", done=True, now=T0 + timedelta(days=9))
    lift = (await agenda.propose(db, 1, resident(1), "Elevator for 1-1", scope="1-1", category="elevator",
                                 force=True, now=T0)).proposal.id
    await agenda.support(db, lift, resident(2), now=T0)
    await agenda.accept(db, lift, MODERATOR, now=T0)
    await voting.open_vote(db, lift, MODERATOR, "elevator", 10, now=T0)
    objection = await elevator.record_objection(db, lift, MODERATOR, "1-1-101", "light", "The shaft", now=T0)
    await elevator.update_objection(db, objection.id, MODERATOR, "mediating", "", now=T0)

    data = json.loads(to_json(await export_data(db)))
    first, second = data["proposals"]
    ballots = {b["elector"]: b for b in first["votes"][0]["ballots"]}
    assert {key: (b["homes"], b["owner"], b["choice"]) for key, b in ballots.items()} == {
        "owner:1": (["1-1-101"], "O1", "yes"), "owner:2": (["1-1-102"], "O2", "no"),
        "owner:3": (["1-1-103"], "O3", "yes")}
    assert [(c["household"], c["homes"], c["owner"]) for c in first["cosignatures"]] == [
        ("owner:1", ["1-1-101"], "O1"), ("owner:2", ["1-1-102"], "O2")]
    assert [(p["note"], p["done"], p["state"]) for p in first["progress"]] == [
        ("Painter booked for 12-10", False, "implementing"), ("", True, "done")]
    assert first["objections"] == []
    assert [(o["id"], o["homes"], o["owner"], o["floor"], o["reason"], o["status"], o["detail"])
            for o in second["objections"]] == [(objection.id, ["1-1-101"], "O1", 1, "light", "mediating", "The shaft")]
    # The existing fields stay as they were (a public interface).
    assert set(first) >= {"id", "title", "body", "category", "scope", "state", "supports", "threshold",
                          "households_in_scope", "reason", "merged_into", "created_at", "votes"}
    assert set(ballots["owner:1"]) == {"elector", "choice", "source", "authority", "revision", "cast_at",
                                       "homes", "owner"}
