"""Secret ballots: sealed choices, keyed commitments, receipts, and what a published result may show.

A secret ballot's choice is sealed (AES-GCM) under a key derived per vote from ``BALLOT_SECRET_KEY``,
which is never in the database; the commitment the ledger shows is an HMAC under another per-vote key,
so nobody without the key can test the three possible choices against it. Both bind the vote, the
elector and the revision, so a sealed choice cannot be moved to another ballot.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from bot.deliberation.ledger import canonical_json

SEAL_VERSION = "s1"
# Plaintexts are padded to a multiple of this, so the ciphertext's length does not tell "no" from "abstain".
PAD = 256
# The subset-sum check gives up beyond this many (count, sum) states and then assumes the worst.
MAX_STATES = 50_000
MAX_VOTERS = 60
# With this many voters or more, whole-percent shares are published even when the check cannot finish:
# a one-percent band of a crowd this size is met by many subsets.
CROWD = 50


class SealError(Exception):
    """A sealed ballot does not open under this key (wrong key, or the row was edited)."""


def vote_key(secret: bytes, purpose: str, vote_id: int) -> bytes:
    """A per-vote key: HMAC-SHA256 of the purpose and vote id under the secret (an HKDF-Expand step)."""
    return hmac.new(secret, f"yishi/{purpose}/vote/{vote_id}".encode(), hashlib.sha256).digest()


def _bound(vote_id: int, elector: str, revision: int) -> bytes:
    return f"{vote_id}\n{elector}\n{revision}".encode()


def seal(secret: bytes, vote_id: int, elector: str, revision: int, choice: Any, pad: int = PAD) -> str:
    body = canonical_json(choice).encode()
    padded = body.ljust((len(body) // pad + 1) * pad)
    nonce = os.urandom(12)
    sealed = AESGCM(vote_key(secret, "seal", vote_id)).encrypt(nonce, padded, _bound(vote_id, elector, revision))
    return f"{SEAL_VERSION}:" + base64.b64encode(nonce + sealed).decode()


def unseal(secret: bytes, vote_id: int, elector: str, revision: int, sealed: str) -> Any:
    version, _, data = sealed.partition(":")
    if version != SEAL_VERSION:
        raise SealError("unknown seal version")
    raw = base64.b64decode(data)
    try:
        body = AESGCM(vote_key(secret, "seal", vote_id)).decrypt(raw[:12], raw[12:], _bound(vote_id, elector, revision))
    except InvalidTag:
        raise SealError("the sealed ballot does not open") from None
    return json.loads(body.decode().rstrip(" "))


def keyed_commitment(secret: bytes, vote_id: int, elector: str, revision: int, choice: Any) -> str:
    """What the ledger shows of a secret ballot: an HMAC, not testable without the key."""
    message = _bound(vote_id, elector, revision) + b"\n" + canonical_json(choice).encode()
    return hmac.new(vote_key(secret, "commit", vote_id), message, hashlib.sha256).hexdigest()


def receipt(commitment: str) -> str:
    """The short code a voter is given: the first 12 hex digits of their ballot's commitment."""
    return "-".join(commitment[i:i + 4] for i in range(0, 12, 4))


# --- what a published result may show -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Published:
    """A group of voters' published figures: how many heads, and the exact area or a range of it."""

    heads_low: int
    heads_high: int
    area_low: int
    area_high: int


def exact(heads: int, area: int) -> Published:
    return Published(heads, heads, area, area)


def rounded(heads: int, area: int, heads_whole: int, area_whole: int) -> Published:
    """The figures a reader can infer from whole-percent shares of the two wholes."""
    return Published(*_range(heads, heads_whole), *_range(area, area_whole))


def whole_percent(part: int, whole: int) -> int:
    """Half-up rounding of part/whole to a whole percent, in integers."""
    if whole <= 0:
        return 0
    return (200 * part + whole) // (2 * whole)


def _range(part: int, whole: int) -> tuple[int, int]:
    """All integers x in [0, whole] with the same whole percent as ``part``."""
    if whole <= 0:
        return 0, 0
    pct = whole_percent(part, whole)
    # whole_percent(x) == pct  iff  (2 pct - 1) whole <= 200 x < (2 pct + 1) whole
    low = -(-(2 * pct - 1) * whole // 200)
    high = -(-(2 * pct + 1) * whole // 200) - 1
    return max(0, low), min(whole, high)


def singles_out(areas: Sequence[int], published: Published) -> bool | None:
    """Whether these figures fix any one voter's membership in the group (their choice), or None if unknown.

    ``areas`` are the voters who took part (one head each, with all their area). A voter is singled out
    when every subset of voters matching the figures contains them (a group nobody could be left out of).
    Exact integer counting: the number of subsets reaching each (heads, area) state, then for each voter
    the number of fitting subsets without them (their item removed from the counts). Beyond
    ``MAX_VOTERS`` voters or ``MAX_STATES`` states the answer is None.
    """
    items = list(areas)
    if len(items) > MAX_VOTERS:
        return None
    counts = _counts(items, published.heads_high, published.area_high)
    if counts is None:
        return None
    targets = [(h, a) for (h, a) in counts if published.heads_low <= h <= published.heads_high
               and published.area_low <= a <= published.area_high]
    if not sum(counts[t] for t in targets):
        return True  # nothing fits: figures that cannot be (treated as revealing)
    for area in items:
        # Subsets without this voter: f'(h, a) = f(h, a) - f'(h - 1, a - area), unrolled.
        without = 0
        for h, a in targets:
            sign, k = 1, 0
            while h - k >= 0 and a - k * area >= 0:
                without += sign * counts.get((h - k, a - k * area), 0)
                sign, k = -sign, k + 1
        if not without:
            return True  # every subset that fits holds this voter: their choice is known
    return False


def _counts(items: Sequence[int], heads_high: int, area_high: int) -> dict[tuple[int, int], int] | None:
    """How many subsets of ``items`` reach each (heads, area), up to the bounds; None past MAX_STATES."""
    if heads_high < 0 or area_high < 0:
        return {}
    counts: dict[tuple[int, int], int] = {(0, 0): 1}
    for area in items:
        grown = dict(counts)
        for (h, a), c in counts.items():
            if h + 1 <= heads_high and a + area <= area_high:
                grown[(h + 1, a + area)] = grown.get((h + 1, a + area), 0) + c
        counts = grown
        if len(counts) > MAX_STATES:
            return None
    return counts


def disclosure(areas: Sequence[int], groups: Sequence[tuple[int, int]], heads_whole: int,
               area_whole: int) -> tuple[str, str | None]:
    """How much of a secret result to publish: ``exact``, ``rounded`` or ``decision``, and why.

    ``groups`` are each option's (heads, area) among the voters in ``areas``. Exact figures are
    published only if no group's figures single out a voter; else whole-percent shares if those don't;
    else only the decision. When the check cannot finish (a large roll), the figures are rounded or
    withheld as if they did.
    """
    checks = [singles_out(areas, exact(h, a)) for h, a in groups]
    if all(check is False for check in checks):
        return "exact", None
    reason = "too_large_to_check" if any(check is None for check in checks) else "identifying_sums"
    if len(areas) >= CROWD:
        return "rounded", reason
    for h, a in groups:
        if singles_out(areas, rounded(h, a, heads_whole, area_whole)) is not False:
            return "decision", reason
    return "rounded", reason
