"""Ledger hashing: each entry's hash covers the previous hash and the entry itself.

A decision can be challenged for a year (Civil Code Art. 280) and owners may inspect
ballots and minutes (SPC interpretation on building co-ownership, Art. 13), so every
state change is appended to a chain in which editing any earlier entry breaks every later link.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

GENESIS_HASH = "0" * 64
# The chain's hash: HMAC-SHA256 under LEDGER_KEY (kept outside the database), so an edited ledger
# cannot be re-chained without the key. Ledgers from before the key were plain SHA-256 ("sha256");
# they are re-chained once under the key (see LedgerRepository.rekey).
KEYED, PLAIN = "hmac-sha256", "sha256"


def canonical_json(value: Any) -> str:
    """One spelling per value: sorted keys, no spaces, UTF-8 kept as is."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def entry_hash(prev_hash: str, seq: int, at: datetime, event: str, subject: str, payload_json: str,
               key: bytes | None = None) -> str:
    """HMAC-SHA256 under ``key``; plain SHA-256 without one (only to read a ledger from before the key)."""
    envelope = canonical_json(
        {"seq": seq, "at": at.isoformat(), "event": event, "subject": subject, "payload": payload_json}
    )
    message = f"{prev_hash}\n{envelope}".encode()
    if key is None:
        return hashlib.sha256(message).hexdigest()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


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
    reason: str  # "prev_hash" | "hash" | "sequence" | "truncated" | "unkeyed" | "anchor" | a row check


def find_first_break(links: Iterable[ChainLink], head: Mapping[str, Any] | None = None,
                     key: bytes | None = None) -> Break | None:
    """Walk the chain in order; return the first entry that does not follow from its predecessor."""
    if head is not None and head.get("scheme", KEYED) != KEYED and key is not None:
        return Break(1, "unkeyed")
    expected_prev, expected_seq = GENESIS_HASH, 1
    for link in links:
        if link.seq != expected_seq:
            return Break(expected_seq, "sequence")
        if link.prev_hash != expected_prev:
            return Break(link.seq, "prev_hash")
        recomputed = entry_hash(link.prev_hash, link.seq, link.at, link.event, link.subject, link.payload, key)
        if recomputed != link.hash:
            return Break(link.seq, "hash")
        expected_prev, expected_seq = link.hash, link.seq + 1
    # The head records the tip: deleting the newest entries is a break too.
    if head is not None and (head["seq"] != expected_seq - 1 or head["hash"] != expected_prev):
        return Break(expected_seq, "truncated")
    return None
