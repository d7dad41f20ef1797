"""Compact, versioned action codes for buttons (Telegram allows 64 bytes of callback data).

Only integer ids and short tags: a Chinese character is 3 bytes and text never belongs here.
Every decoded value is re-checked against the database and the presser's rights.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

VERSION = "v1"
POSITION_CODES = {"y": "yes", "n": "no", "a": "abstain"}
CODE_OF_POSITION = {v: k for k, v in POSITION_CODES.items()}

# tag -> pattern of the arguments
_PATTERNS: dict[str, re.Pattern[str]] = {
    "s": re.compile(r"^(\d{1,9})$"),  # support proposal
    "b": re.compile(r"^(\d{1,9}):([yna])$"),  # yes/no/abstain ballot
    "o": re.compile(r"^(\d{1,9}):(\d{1,4}):(\d)$"),  # toggle option (vote, selection mask, option)
    "os": re.compile(r"^(\d{1,9}):(\d{1,4})$"),  # submit option selection
    "rk": re.compile(r"^(\d{1,9}):(\d{0,10}):(\d)$"),  # add option to ranking
    "rs": re.compile(r"^(\d{1,9}):(\d{1,10})$"),  # submit ranking
    "rr": re.compile(r"^(\d{1,9})$"),  # reset ranking
    "rg": re.compile(r"^(\d{1,9}):([or])$"),  # register home as owner / resident
    "ap": re.compile(r"^(\d{1,9}):([adc])$"),  # approve / deny a registration; c: approve over a verified owner
    "rv": re.compile(r"^(\d{1,9}):([ad])$"),  # review a matter from the council's notice: accept / decline
    "pg": re.compile(r"^(\d{1,4})$"),  # page of /proposals
    "dup": re.compile(r"^(\d{1,9})$"),  # support the similar proposal instead
    "new": re.compile(r"^(\d{1,9})$"),  # submit anyway (a pending draft id)
    "rq": re.compile(r"^(\d{1,9}):([sbu])$"),  # rate a resolved request: satisfied / basic / unsatisfied
    "sg": re.compile(r"^(\d{1,9})$"),  # turn a recurring-problem suggestion into a proposal
    "ev": re.compile(r"^(\d{1,9}):([sbu])$"),  # evaluate a completed matter
}


@dataclass(frozen=True, slots=True)
class Decoded:
    tag: str
    args: tuple[str, ...]

    def int(self, index: int) -> int:
        return int(self.args[index])


def encode(tag: str, *args: object) -> str:
    data = ":".join([VERSION, tag, *(str(a) for a in args)])
    if tag not in _PATTERNS or not _PATTERNS[tag].match(data.split(":", 2)[2]):
        raise ValueError(f"bad action {data!r}")
    return data


def decode(data: str) -> Decoded | None:
    """The action, or None for anything forged, stale from another version, or malformed."""
    parts = data.split(":", 2)
    if len(parts) != 3 or parts[0] != VERSION or parts[1] not in _PATTERNS:
        return None
    match = _PATTERNS[parts[1]].match(parts[2])
    if match is None:
        return None
    return Decoded(parts[1], match.groups())
