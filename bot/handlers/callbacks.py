"""Compact, versioned action codes for buttons (Telegram allows 64 bytes of callback data).

Only integer ids and short tags: a Chinese character is 3 bytes and text never belongs here.
Every decoded value is re-checked against the database and the presser's rights.

Each kind of button is a small frozen dataclass: ``pack(Support(12))`` gives ``"v1:s:12"`` and
``unpack("v1:s:12")`` gives ``Support(proposal_id=12)``. The wire format (``v1:<tag>:<fields>``)
never changes for a kind already in use: messages sent long ago still carry their buttons.
"""

from __future__ import annotations

import re
from dataclasses import astuple, dataclass, fields
from functools import lru_cache
from typing import ClassVar

VERSION = "v1"
POSITION_CODES = {"y": "yes", "n": "no", "a": "abstain"}
CODE_OF_POSITION = {v: k for k, v in POSITION_CODES.items()}


@dataclass(frozen=True, slots=True)
class Button:
    """A button kind: its tag and the pattern of its fields on the wire."""

    TAG: ClassVar[str]
    PATTERN: ClassVar[re.Pattern[str]]


@dataclass(frozen=True, slots=True)
class Support(Button):
    """Co-sign a proposal (its card's button)."""

    TAG = "s"
    PATTERN = re.compile(r"^(\d{1,9})$")
    proposal_id: int


@dataclass(frozen=True, slots=True)
class BallotChoice(Button):
    """Yes / no / abstain on a vote (``position`` is y, n or a)."""

    TAG = "b"
    PATTERN = re.compile(r"^(\d{1,9}):([yna])$")
    vote_id: int
    position: str

    @property
    def choice(self) -> str:
        return POSITION_CODES[self.position]


@dataclass(frozen=True, slots=True)
class ToggleOption(Button):
    """Tick or untick one option of a choice ballot; the selection so far travels in ``mask``."""

    TAG = "o"
    PATTERN = re.compile(r"^(\d{1,9}):(\d{1,4}):(\d)$")
    vote_id: int
    mask: int
    option: int


@dataclass(frozen=True, slots=True)
class SubmitOptions(Button):
    TAG = "os"
    PATTERN = re.compile(r"^(\d{1,9}):(\d{1,4})$")
    vote_id: int
    mask: int


@dataclass(frozen=True, slots=True)
class RankOption(Button):
    """Add an option to a ranking; the ranking so far (option digits, best first) travels in ``ranking``."""

    TAG = "rk"
    PATTERN = re.compile(r"^(\d{1,9}):(\d{0,10}):(\d)$")
    vote_id: int
    ranking: str
    option: int


@dataclass(frozen=True, slots=True)
class SubmitRanking(Button):
    TAG = "rs"
    PATTERN = re.compile(r"^(\d{1,9}):(\d{1,10})$")
    vote_id: int
    ranking: str


@dataclass(frozen=True, slots=True)
class ResetRanking(Button):
    TAG = "rr"
    PATTERN = re.compile(r"^(\d{1,9})$")
    vote_id: int


@dataclass(frozen=True, slots=True)
class ChooseRole(Button):
    """Register a home as its owner (o) or a resident (r)."""

    TAG = "rg"
    PATTERN = re.compile(r"^(\d{1,9}):([or])$")
    home_id: int
    role: str


@dataclass(frozen=True, slots=True)
class Decide(Button):
    """Approve (a) or deny (d) a registration; c: approve over a verified owner."""

    TAG = "ap"
    PATTERN = re.compile(r"^(\d{1,9}):([adc])$")
    link_id: int
    decision: str


@dataclass(frozen=True, slots=True)
class Review(Button):
    """Review a matter from the council's threshold notice: accept (a) or decline (d)."""

    TAG = "rv"
    PATTERN = re.compile(r"^(\d{1,9}):([ad])$")
    proposal_id: int
    decision: str


@dataclass(frozen=True, slots=True)
class Page(Button):
    """A page of /proposals."""

    TAG = "pg"
    PATTERN = re.compile(r"^(\d{1,4})$")
    page: int


@dataclass(frozen=True, slots=True)
class SupportSimilar(Button):
    """Co-sign the similar proposal instead of submitting a new one."""

    TAG = "dup"
    PATTERN = re.compile(r"^(\d{1,9})$")
    proposal_id: int


@dataclass(frozen=True, slots=True)
class SubmitDraft(Button):
    """Submit anyway (a pending draft's key)."""

    TAG = "new"
    PATTERN = re.compile(r"^(\d{1,9})$")
    key: int


@dataclass(frozen=True, slots=True)
class RateRequest(Button):
    """Rate a resolved request: satisfied (s), basic (b), unsatisfied (u)."""

    TAG = "rq"
    PATTERN = re.compile(r"^(\d{1,9}):([sbu])$")
    request_id: int
    rating: str


@dataclass(frozen=True, slots=True)
class AdoptSuggestion(Button):
    """Turn a recurring-problem suggestion into a proposal."""

    TAG = "sg"
    PATTERN = re.compile(r"^(\d{1,9})$")
    suggestion_id: int


@dataclass(frozen=True, slots=True)
class Evaluate(Button):
    """Evaluate a completed matter: satisfied (s), basic (b), unsatisfied (u)."""

    TAG = "ev"
    PATTERN = re.compile(r"^(\d{1,9}):([sbu])$")
    proposal_id: int
    rating: str


KINDS: dict[str, type[Button]] = {
    kind.TAG: kind
    for kind in (Support, BallotChoice, ToggleOption, SubmitOptions, RankOption, SubmitRanking, ResetRanking,
                 ChooseRole, Decide, Review, Page, SupportSimilar, SubmitDraft, RateRequest, AdoptSuggestion,
                 Evaluate)
}


def pack(button: Button) -> str:
    data = ":".join([VERSION, button.TAG, *(str(value) for value in astuple(button))])
    if not button.PATTERN.match(data.split(":", 2)[2]):
        raise ValueError(f"bad action {data!r}")
    return data


@lru_cache(maxsize=4096)
def unpack(data: str) -> Button | None:
    """The button, or None for anything forged, stale from another version, or malformed.

    Cached: a busy vote's presses carry a handful of distinct codes, and the buttons are frozen."""
    parts = data.split(":", 2)
    if len(parts) != 3 or parts[0] != VERSION or parts[1] not in KINDS:
        return None
    kind = KINDS[parts[1]]
    match = kind.PATTERN.match(parts[2])
    if match is None:
        return None
    values = [int(raw) if field.type == "int" else raw for field, raw in zip(fields(kind), match.groups(), strict=True)]
    return kind(*values)


def encode(tag: str, *args: object) -> str:
    """``pack`` by tag, for callers written before the typed kinds: ``encode("s", 12)`` == ``pack(Support(12))``."""
    if tag not in KINDS:
        raise ValueError(f"bad action tag {tag!r}")
    return pack(KINDS[tag](*args))


decode = unpack
