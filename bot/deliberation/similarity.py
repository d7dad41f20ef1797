"""Possible duplicates among matters, by character n-grams.

Chinese has no spaces between words, so texts are compared as sets of character
bigrams (plus single characters when a text is very short) with the Dice
coefficient 2|A & B| / (|A| + |B|). Before that, texts are normalised: NFKC
(full-width digits and letters become ASCII), lower case, Chinese numerals become
digits, and whitespace and punctuation are dropped. The score is a similarity,
not a count, so floats are fine here.
"""

# Numerals: 三号楼 (building three) and 3号楼 must compare as the same text.

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from typing import Final

# A score at or above this flags a possible duplicate. "3号楼2单元加装电梯" vs
# "三号楼二单元申请装电梯" scores about 0.74; unrelated matters such as
# "小区东门停车位划线" score near 0.
DEFAULT_THRESHOLD: Final = 0.5

# Texts shorter than this (after normalising) also compare single characters:
# a two-character text has only one bigram.
SHORT: Final = 4

# 〇 零 一 二 三 四 五 六 七 八 九 -> 0..9 ; 十 (ten) handled in _numeral.
_DIGITS: Final = {
    "\u3007": 0, "\u96f6": 0, "\u4e00": 1, "\u4e8c": 2, "\u4e09": 3, "\u56db": 4,
    "\u4e94": 5, "\u516d": 6, "\u4e03": 7, "\u516b": 8, "\u4e5d": 9,
}
# 十 (ten)
_TEN: Final = "\u5341"
_NUMERAL_RE: Final = re.compile("[" + "".join(_DIGITS) + _TEN + "]+")


def _numeral(match: re.Match[str]) -> str:
    run = match.group(0)
    if _TEN not in run:
        # 二〇二四 -> 2024
        return "".join(str(_DIGITS[c]) for c in run)
    tens, _, units = run.partition(_TEN)
    if len(tens) <= 1 and len(units) <= 1 and _TEN not in units:
        # 十 -> 10, 十二 -> 12, 二十 -> 20, 二十三 -> 23
        return str((_DIGITS[tens] if tens else 1) * 10 + (_DIGITS[units] if units else 0))
    return "".join("10" if c == _TEN else str(_DIGITS[c]) for c in run)  # unusual: keep every figure


def normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).lower()
    text = _NUMERAL_RE.sub(_numeral, text)
    # Keep letters and digits only: drops whitespace, punctuation and symbols.
    return "".join(c for c in text if unicodedata.category(c)[0] in "LN")


def _grams(text: str, unigrams: bool) -> set[str]:
    grams = {text[i : i + 2] for i in range(len(text) - 1)}
    if unigrams:
        grams.update(text)
    return grams


def score(a: str, b: str) -> float:
    """Dice coefficient of the n-gram sets of two normalised texts, in [0, 1]."""
    unigrams = min(len(a), len(b)) < SHORT
    ga, gb = _grams(a, unigrams), _grams(b, unigrams)
    if not ga or not gb:
        return 0.0
    return 2 * len(ga & gb) / (len(ga) + len(gb))


def similar(
    text: str,
    candidates: Iterable[tuple[int, str]],
    *,
    threshold: float = DEFAULT_THRESHOLD,
    limit: int = 3,
) -> list[tuple[int, float]]:
    """Candidates (id, text) that may duplicate ``text``: (id, score), best first, at most ``limit``."""
    needle = normalise(text)
    found = [(cid, s) for cid, other in candidates if (s := score(needle, normalise(other))) >= threshold]
    found.sort(key=lambda item: (-item[1], item[0]))
    return found[: max(0, limit)]
