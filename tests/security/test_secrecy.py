"""Secret ballots stay secret: the 8-owner `/vote 1 art278 5d secret`, attacked with everything but the key.

The attacker gets every message the bot posted or edited, every toast, every export, and the database's
bytes; they try every possible choice against every stored hash (with every stored hex string as a salt)
and the published figures against the census areas. Nothing opens; the tally is still right.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from pathlib import Path

from sqlalchemy import MetaData, select

from bot.deliberation import secrecy
from bot.deliberation.ledger import canonical_json
from bot.deliberation.tally import Elector
from bot.deliberation.vote_kinds import get_kind
from bot.services import voting
from bot.services.export import export_data, to_csv, to_json
from bot.storage.models import Ballot, RollEntry, Vote
from tests.e2e.conftest import GROUP, MODERATOR, OWNERS, TENANT, World

ROOMS = ["101", "102", "201", "202", "301", "302", "401", "402"]
CHOICES = dict(zip(ROOMS, ["yes", "yes", "no", "yes", "abstain", "yes", "no", "yes"], strict=True))
HEX = re.compile(rb"[0-9a-f]{32,64}")


async def _database_bytes(w: World) -> bytes:
    """What an attacker holding the database has: the SQLite file (and WAL), or every row on PostgreSQL."""
    if w.db.url.startswith("sqlite"):
        path = Path(w.db.url.split("///", 1)[1])
        return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())
    out = []
    async with w.db.engine.connect() as conn:
        meta = MetaData()
        await conn.run_sync(meta.reflect)
        for table in meta.sorted_tables:
            out.extend(repr(tuple(row)).encode() for row in await conn.execute(select(table)))
    return b"\n".join(out)


def _cracks(blob: bytes) -> list[tuple[bytes, str]]:
    """Every stored 64-hex string that a choice opens, salted with any stored hex string (or nothing)."""
    hashes = {m.group() for m in HEX.finditer(blob) if len(m.group()) == 64}
    salts = {m.group().decode() for m in HEX.finditer(blob)} | {""}
    found = []
    for choice in ("yes", "no", "abstain"):
        body = canonical_json(choice)
        for salt in salts:
            for text in (f"{salt}\n{body}", f"{salt}{body}", f"{salt}{choice}", f"{salt}\n{choice}"):
                digest = hashlib.sha256(text.encode()).hexdigest().encode()
                if digest in hashes:
                    found.append((digest, choice))
    return found


async def test_a_secret_vote_of_eight_owners_reveals_no_choice(world: World) -> None:
    w = world
    for room in ROOMS:
        reply = await w.say(OWNERS[room], OWNERS[room], f"/register {w.codes['3-2-' + room]}")
        assert f"3-2-{room}" in reply.text
    await w.say(MODERATOR, GROUP, "/bind 3-2")
    await w.say(MODERATOR, GROUP, "/lang en")  # the room's language
    card = await w.say(OWNERS["101"], GROUP, "/propose Repaint the stairwell\nGrey walls.")
    for room in ROOMS[1:5]:
        await w.press(OWNERS[room], GROUP, card, w.button(card, "v1:s:"))
    assert "agenda" in (await w.say(MODERATOR, GROUP, "/accept 1")).text
    ballot = await w.say(MODERATOR, GROUP, "/vote 1 art278 5d secret")
    assert "m²" not in ballot.text  # turnout by heads only

    exports: list[str] = []
    receipts: dict[str, str] = {}
    toasts: list[str] = []
    for room in ROOMS:
        before = json.loads(to_json(await export_data(w.db)))["proposals"][0]["votes"][0]["result"]
        code = {"yes": "y", "no": "n", "abstain": "a"}[CHOICES[room]]
        toast = await w.press(OWNERS[room], GROUP, ballot, w.button(ballot, f"v1:b:1:{code}"))
        toasts.append(toast)
        receipts[room] = re.search(r"[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}", toast).group()  # type: ignore[union-attr]
        data = await export_data(w.db)
        exports += [to_json(data), to_csv(data)]
        after = json.loads(exports[-2])["proposals"][0]["votes"][0]["result"]
        # Nothing early: between two exports only the turnout by heads moved.
        assert {k: v for k, v in before.items() if k != "participated"} == \
            {k: v for k, v in after.items() if k != "participated"}
        assert after["participated"] == {"heads": ROOMS.index(room) + 1, "area_m2": None}
        assert set(after) == {"kind", "passed", "provisional", "eligible", "participated", "criteria"}
    standing = await w.personal(OWNERS["101"], GROUP, "/results 1")
    assert "m²" not in standing.text and "8/12" in standing.text
    await w.fake.wait_for_message(GROUP, lambda m: m.message_id == ballot.message_id and "8/12" in (m.text or ""))
    assert "m²" not in w.fake.message(GROUP, ballot.message_id).text

    closing = await w.say_all(MODERATOR, GROUP, "/close 1", count=1)
    published = [m.text or "" for chat in (GROUP, MODERATOR, *OWNERS.values()) for m in w.fake.messages(chat)]
    data = await export_data(w.db)
    exports += [to_json(data), to_csv(data)]
    exported_vote = data["proposals"][0]["votes"][0]
    # Every voter finds their receipt among the counted ballots; no commitment says whose it is.
    assert sorted(c["receipt"] for c in exported_vote["commitments"]) == sorted(receipts.values())
    assert all(set(c) == {"commitment", "receipt"} for c in exported_vote["commitments"])

    # The published result: 8 homes of distinct areas, so exact sums (or rounded shares) would single
    # owners out. Only the decision and each criterion's outcome are public, and the result says why.
    result = exported_vote["result"]
    assert result["secrecy"]["published"] == "decision" and result["secrecy"]["reason"] == "identifying_sums"
    assert not {"yes", "no", "abstain", "shares"} & set(result)
    text = next(m.text for m in closing if "PASSED" in (m.text or ""))
    assert "Secret vote" in text and "Ledger head:" in text

    # The attacker: the database's bytes, every message, toast and export.
    async with w.db.uow() as uow:
        rows = (await uow.session.execute(select(Ballot))).scalars().all()
        roll = [Elector(k, a) for k, a in await uow.session.execute(
            select(RollEntry.elector_key, RollEntry.area_centi).where(RollEntry.vote_id == 1))]
        vote = (await uow.session.execute(select(Vote))).scalar_one()
    assert len(rows) == 8 and all(r.choice is None and r.nonce == "" and r.sealed for r in rows)
    blob = await _database_bytes(w) + "\n".join(published + toasts + exports).encode()
    assert _cracks(blob) == []
    for choice in ("abstain",):  # the only choice spelled long enough to find as raw bytes
        assert f'"{choice}"'.encode() not in await _database_bytes(w)
    # Sealed ballots all have the same length, whatever the choice.
    assert len({len(r.sealed or "") for r in rows}) == 1
    # Published figures against the census: no option's subset of areas is published at all.
    assert all(c["actual"] == "-" for c in result["criteria"])

    # With the key, the council's tally is right.
    exact = secrecy.unseal(w.db.keys.ballots, 1, "result", 0, result["secrecy"]["sealed_exact"])
    opened = sorted(secrecy.unseal(w.db.keys.ballots, 1, r.elector_key, r.revision, r.sealed or "") for r in rows)
    assert opened == sorted(CHOICES.values())
    expected_heads = {c: sum(1 for v in CHOICES.values() if v == c) for c in ("yes", "no", "abstain")}
    assert {c: exact[c]["heads"] for c in expected_heads} == expected_heads == {"yes": 5, "no": 2, "abstain": 1}
    async with w.db.uow() as uow:
        roll2, ballots = await voting.roll_and_ballots(uow, 1)
    again = voting.result_document(voting.tally(get_kind("art278"), vote, roll2, ballots), len(roll2))
    assert again == exact and again["passed"] == result["passed"]
    assert sorted(roll, key=lambda e: e.key) == sorted(roll2, key=lambda e: e.key)


def test_subset_sums_decide_what_is_published() -> None:
    # Eight distinct areas: the 2 "no" voters are the only pair summing to 16654, so exact sums identify.
    areas = [6398, 5782, 8912, 9021, 7703, 10111, 6543, 8800]
    yes = [0, 1, 3, 5, 7]
    groups = [(len(yes), sum(areas[i] for i in yes)), (2, 8912 + 6543), (1, 7703)]
    assert secrecy.disclosure(areas, groups, 8, sum(areas)) == ("decision", "identifying_sums")
    # Equal areas: any 2 of 3 fit "2 yes", nobody is singled out, exact sums are safe.
    assert secrecy.disclosure([100, 100, 100], [(2, 200), (1, 100), (0, 0)], 3, 300) == ("exact", None)
    # Unanimity singles everyone out, however rounded.
    assert secrecy.disclosure([100] * 20, [(20, 2000), (0, 0)], 20, 2000)[0] == "decision"
    # A crowd too large to check: shares are rounded, exact sums never published.
    crowd = list(range(1000, 1100))
    assert secrecy.disclosure(crowd, [(60, 61_000), (40, 43_000)], 100, sum(crowd)) == ("rounded", "too_large_to_check")
    # 20 equal homes, 12 yes / 8 no: exact is fine.
    assert secrecy.disclosure([100] * 20, [(12, 1200), (8, 800)], 20, 2000) == ("exact", None)
    # Exact integer rounding bands: x/7 to a whole percent.
    assert [secrecy.whole_percent(x, 7) for x in range(8)] == [0, 14, 29, 43, 57, 71, 86, 100]
    # 300/700 = 42.86% -> 43%: every area in [297.5, 304.5) rounds the same, i.e. 298..304.
    assert secrecy.rounded(3, 300, 7, 700) == secrecy.Published(3, 3, 298, 304)


def test_a_subset_that_is_not_unique_is_not_singled_out() -> None:
    # {1, 4} and {2, 3} both make 5 with two heads: nobody is in every fitting subset.
    assert secrecy.singles_out([1, 2, 3, 4], secrecy.exact(2, 5)) is False
    assert secrecy.singles_out([1, 2, 3, 10], secrecy.exact(2, 11)) is True
    for combo in itertools.combinations(range(1, 6), 2):
        assert secrecy.singles_out(list(range(1, 6)), secrecy.exact(2, sum(combo))) in (True, False)


def test_sealed_ballots_are_bound_to_their_vote_elector_and_revision() -> None:
    key = b"k" * 32
    sealed = secrecy.seal(key, 1, "owner:3", 2, "no")
    assert secrecy.unseal(key, 1, "owner:3", 2, sealed) == "no"
    for args in ((2, "owner:3", 2), (1, "owner:4", 2), (1, "owner:3", 1)):
        try:
            secrecy.unseal(key, *args, sealed)  # type: ignore[arg-type]
        except secrecy.SealError:
            continue
        raise AssertionError(f"opened under {args}")
    assert len(secrecy.seal(key, 1, "e", 1, "no")) == len(secrecy.seal(key, 1, "e", 1, "abstain"))
    commitment = secrecy.keyed_commitment(key, 1, "owner:3", 2, "no")
    assert commitment != secrecy.keyed_commitment(b"x" * 32, 1, "owner:3", 2, "no")
    assert secrecy.receipt(commitment) == f"{commitment[:4]}-{commitment[4:8]}-{commitment[8:12]}"


async def test_the_earlier_voter_is_told_when_another_account_replaces_the_homes_ballot(world: World) -> None:
    w = world
    await w.say(OWNERS["101"], OWNERS["101"], f"/register {w.codes['3-2-101']}")
    for room in ("102", "201", "202", "301"):
        await w.say(OWNERS[room], OWNERS[room], f"/register {w.codes['3-2-' + room]}")
    # A second account asks to be owner of 3-2-101 too, and a council member approves it.
    question = await w.say(TENANT, TENANT, "/register 3-2-101")
    await w.press(TENANT, TENANT, question, w.button(question, "v1:rg:"))
    # The home has a verified owner already: the approval needs the council's explicit confirmation.
    pending = await w.say(MODERATOR, MODERATOR, "/pending")
    approve = w.button(pending, "v1:ap:").replace(":d", ":a")
    assert "Please confirm" in await w.press(MODERATOR, MODERATOR, pending, approve)
    confirm = await w.fake.wait_for_message(
        MODERATOR, lambda m: m.message_id == pending.message_id and "anyway" in (m.text or ""), 10)
    assert "approved" in await w.press(MODERATOR, MODERATOR, confirm, approve.removesuffix(":a") + ":c")
    await w.say(MODERATOR, GROUP, "/bind 3-2")
    card = await w.say(OWNERS["101"], GROUP, "/propose Repaint the stairwell\nGrey walls.")
    for room in ("102", "201", "202", "301"):
        await w.press(OWNERS[room], GROUP, card, w.button(card, "v1:s:"))
    await w.say(MODERATOR, GROUP, "/accept 1")
    ballot = await w.say(MODERATOR, GROUP, "/vote 1 art278 5d secret")
    assert "Recorded: Yes" in await w.press(OWNERS["101"], GROUP, ballot, w.button(ballot, "v1:b:1:y"))
    assert "Recorded: No" in await w.press(TENANT, GROUP, ballot, w.button(ballot, "v1:b:1:n"))
    notice = await w.fake.wait_for_message(OWNERS["101"], lambda m: m.from_bot and "replaced" in (m.text or ""))
    assert notice.text == ("Your ballot on vote #1 was replaced by another account linked to the same home. "
                           "If you did not agree to this, tell the council.")
    # The owner's own press again replaces the other account's: now the other account is told, once.
    assert "Recorded: Yes" in await w.press(OWNERS["101"], GROUP, ballot, w.button(ballot, "v1:b:1:y"))
    await w.fake.wait_for_message(TENANT, lambda m: m.from_bot and "replaced" in (m.text or ""))
    # Told once: the owner's own press replaced nobody's ballot of theirs.
    replaced = [m for m in w.fake.messages(OWNERS["101"]) if m.from_bot and "replaced" in (m.text or "")]
    assert len(replaced) == 1
