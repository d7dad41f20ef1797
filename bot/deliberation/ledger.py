"""Ledger hashing: each entry's hash covers the previous hash and the entry itself.

A decision can be challenged for a year and owners may inspect ballots and
minutes (DESIGN.md, Procedure), so every state change is appended to a chain in
which editing any earlier entry breaks every later link.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

GENESIS_HASH = "0" * 64


def canonical_json(value: Any) -> str:
    """One spelling per value: sorted keys, no spaces, UTF-8 kept as is."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def entry_hash(prev_hash: str, seq: int, at: datetime, event: str, subject: str, payload_json: str) -> str:
    envelope = canonical_json(
        {"seq": seq, "at": at.isoformat(), "event": event, "subject": subject, "payload": payload_json}
    )
    return hashlib.sha256(f"{prev_hash}\n{envelope}".encode()).hexdigest()


def commitment(salt: str, choice: Any) -> str:
    """A hash commitment to a secret ballot's choice: the ledger never holds it in clear."""
    return hashlib.sha256(f"{salt}\n{canonical_json(choice)}".encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class ChainLink:
    seq: int
    at: datetime
    event: str
    subject: str
    payload: str
    prev_hash: str
    hash: str


@dataclass(frozen=True, slots=True)
class Break:
    seq: int
    reason: str  # "prev_hash" | "hash" | "sequence"


def find_first_break(links: Iterable[ChainLink], head: Mapping[str, Any] | None = None) -> Break | None:
    """Walk the chain in order; return the first entry that does not follow from its predecessor."""
    expected_prev, expected_seq = GENESIS_HASH, 1
    for link in links:
        if link.seq != expected_seq:
            return Break(expected_seq, "sequence")
        if link.prev_hash != expected_prev:
            return Break(link.seq, "prev_hash")
        recomputed = entry_hash(link.prev_hash, link.seq, link.at, link.event, link.subject, link.payload)
        if recomputed != link.hash:
            return Break(link.seq, "hash")
        expected_prev, expected_seq = link.hash, link.seq + 1
    # The head records the tip: deleting the newest entries is a break too.
    if head is not None and (head["seq"] != expected_seq - 1 or head["hash"] != expected_prev):
        return Break(expected_seq, "truncated")
    return None
