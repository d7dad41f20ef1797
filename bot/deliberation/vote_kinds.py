"""Vote kinds as data: who votes, on what ballot, and which thresholds decide.

The kinds live in ``vote_kinds.toml`` next to this module (in the spirit of
Loomio's poll_types.yml) so that each legal rule is one readable table with its
source. The file is validated at import: a typo there must stop the bot, not
silently change how a vote is counted.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction
from importlib import resources
from types import MappingProxyType
from typing import Any, Final, TypeVar

from bot.deliberation.errors import InvalidInput


class KindConfigError(ValueError):
    """``vote_kinds.toml`` is malformed (a programming error, not user input)."""


class Electorate(StrEnum):
    # Interpretation on building co-ownership Art. 9: one head per owner, however many units.
    OWNERS = "owners"
    # Organic Law of Urban Residents' Committees: one per household (exclusive unit).
    HOUSEHOLDS = "households"
    # Members of the owners' committee, heads only.
    COUNCIL = "council"


class BallotType(StrEnum):
    YES_NO = "yes_no"
    CHOICE = "choice"
    RANKED = "ranked"
    APPROVAL = "approval"


class Dimension(StrEnum):
    HEADS = "heads"
    AREA = "area"


class Quantity(StrEnum):
    ELIGIBLE = "eligible"
    PARTICIPATED = "participated"  # yes + no + abstain: abstaining is taking part
    YES = "yes"
    NO = "no"
    DECISIVE = "decisive"  # yes + no


NUMERATORS: Final = frozenset({Quantity.PARTICIPATED, Quantity.YES, Quantity.NO, Quantity.DECISIVE})
DENOMINATORS: Final = frozenset({Quantity.ELIGIBLE, Quantity.PARTICIPATED, Quantity.DECISIVE})


class Op(StrEnum):
    # Civil Code Art. 1259: "2/3" includes the bound (>=), "more than half" does not (>).
    GE = ">="
    GT = ">"
    LE = "<="

    def holds(self, left: int, right: int) -> bool:
        if self is Op.GE:
            return left >= right
        if self is Op.GT:
            return left > right
        return left <= right


@dataclass(frozen=True, slots=True)
class CriterionSpec:
    """``numerator op ratio * denominator``, counted in one measure (heads or area)."""

    name: str
    measure: Dimension
    numerator: Quantity
    denominator: Quantity
    op: Op
    ratio: Fraction

    @property
    def is_participation(self) -> bool:
        """A quorum test: it counts who took part, not how they voted."""
        return self.numerator is Quantity.PARTICIPATED


@dataclass(frozen=True, slots=True)
class VoteKind:
    name: str
    source: str
    electorate: Electorate
    ballot: BallotType
    measures: tuple[Dimension, ...]
    secret: bool
    criteria: tuple[CriterionSpec, ...]
    covenant: bool = False  # may "non-voters follow the majority" apply (Zhejiang 2009 Art. 10)
    label: str = ""  # what residents read, in English: the msgid of its translations
    words: tuple[str, ...] = ()  # plain names a moderator may type instead of ``name``

    def measures_area(self) -> bool:
        return Dimension.AREA in self.measures


_E = TypeVar("_E", bound=StrEnum)

_LABEL_LINE_RE = re.compile(r'^label\s*=\s*"')
_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_RATIO_RE = re.compile(r"^(?P<num>[0-9]+)(?:/(?P<den>[0-9]+))?$")
_KIND_KEYS = frozenset(
    {"name", "source", "label", "electorate", "ballot", "measures", "secret", "covenant", "criteria", "words"}
)
_CRITERION_KEYS = frozenset({"name", "measure", "numerator", "denominator", "op", "ratio"})


def _require(condition: bool, where: str, problem: str) -> None:
    if not condition:
        raise KindConfigError(f"{where}: {problem}")


def _name(value: Any, where: str) -> str:
    _require(isinstance(value, str) and _NAME_RE.match(value) is not None, where, f"bad name {value!r}")
    assert isinstance(value, str)
    return value


def _enum(cls: type[_E], value: Any, where: str) -> _E:
    try:
        return cls(value)
    except ValueError:
        raise KindConfigError(f"{where}: unknown {cls.__name__.lower()} {value!r}") from None


def _ratio(value: Any, where: str) -> Fraction:
    # Only "p/q" or an integer: a decimal such as 0.67 would silently change a legal bound.
    match = _RATIO_RE.match(value) if isinstance(value, str) else None
    _require(match is not None, where, f"ratio must be a string 'p/q', got {value!r}")
    assert match is not None
    den = int(match.group("den") or "1")
    _require(den > 0, where, "ratio denominator is zero")
    ratio = Fraction(int(match.group("num")), den)
    _require(0 <= ratio <= 1, where, f"ratio {value} outside [0, 1]")
    return ratio


def _keys(raw: Any, allowed: frozenset[str], required: frozenset[str], where: str) -> dict[str, Any]:
    _require(isinstance(raw, dict), where, "expected a table")
    assert isinstance(raw, dict)
    unknown = set(raw) - allowed
    _require(not unknown, where, f"unknown keys {sorted(unknown)}")
    missing = required - set(raw)
    _require(not missing, where, f"missing keys {sorted(missing)}")
    return raw


def _criterion(raw: Any, where: str) -> CriterionSpec:
    table = _keys(raw, _CRITERION_KEYS, _CRITERION_KEYS, where)
    name = _name(table["name"], where)
    where = f"{where} {name}"
    spec = CriterionSpec(
        name=name,
        measure=_enum(Dimension, table["measure"], where),
        numerator=_enum(Quantity, table["numerator"], where),
        denominator=_enum(Quantity, table["denominator"], where),
        op=_enum(Op, table["op"], where),
        ratio=_ratio(table["ratio"], where),
    )
    _require(spec.numerator in NUMERATORS, where, f"{spec.numerator} cannot be a numerator")
    _require(spec.denominator in DENOMINATORS, where, f"{spec.denominator} cannot be a denominator")
    return spec


def _kind(raw: Any, index: int) -> VoteKind:
    where = f"kinds[{index}]"
    table = _keys(raw, _KIND_KEYS, _KIND_KEYS - {"covenant", "criteria", "label", "words"}, where)
    name = _name(table["name"], where)
    where = f"kind {name}"
    source = table["source"]
    _require(isinstance(source, str) and source.strip() != "", where, "source must cite the rule")
    label = table.get("label", name)
    _require(isinstance(label, str) and label.strip() != "", where, "label must name the kind")
    raw_measures = table["measures"]
    _require(isinstance(raw_measures, list) and len(raw_measures) > 0, where, "measures must be a list")
    measures = tuple(_enum(Dimension, m, where) for m in raw_measures)
    _require(len(set(measures)) == len(measures), where, "repeated measure")
    secret, covenant = table["secret"], table.get("covenant", False)
    _require(isinstance(secret, bool) and isinstance(covenant, bool), where,
             "secret/covenant must be booleans")
    raw_words = table.get("words", [])
    _require(isinstance(raw_words, list) and all(isinstance(w, str) and w.strip() == w and w for w in raw_words),
             where, "words must be a list of names without surrounding spaces")
    raw_criteria = table.get("criteria", [])
    _require(isinstance(raw_criteria, list), where, "criteria must be an array of tables")
    kind = VoteKind(
        name=name,
        source=source,
        label=label,
        electorate=_enum(Electorate, table["electorate"], where),
        ballot=_enum(BallotType, table["ballot"], where),
        measures=measures,
        secret=secret,
        criteria=tuple(_criterion(c, f"{where} criteria[{i}]") for i, c in enumerate(raw_criteria)),
        covenant=covenant,
        words=tuple(raw_words),
    )
    names = [c.name for c in kind.criteria]
    _require(len(set(names)) == len(names), where, "repeated criterion name")
    for spec in kind.criteria:
        _require(spec.measure in measures, where, f"criterion {spec.name} uses unmeasured {spec.measure}")
    # Council members vote as persons; area means nothing there.
    _require(kind.electorate is not Electorate.COUNCIL or measures == (Dimension.HEADS,), where,
             "council votes count heads only")
    if kind.ballot is BallotType.YES_NO:
        _require(any(not c.is_participation for c in kind.criteria), where,
                 "a yes/no kind needs at least one approval criterion")
    else:
        # Options are compared by heads; an area-weighted plurality has no legal basis here.
        _require(measures == (Dimension.HEADS,), where, "option ballots count heads only")
        for spec in kind.criteria:
            _require(spec.is_participation and spec.denominator is Quantity.ELIGIBLE, where,
                     f"criterion {spec.name}: option ballots allow only participated/eligible")
    # The covenant is a clause of the owners' management rules, so only owners' meetings use it.
    _require(not covenant or (kind.electorate is Electorate.OWNERS and kind.ballot is BallotType.YES_NO),
             where, "covenant applies only to owners' yes/no votes")
    return kind


def load_kinds(text: str) -> tuple[Mapping[str, VoteKind], Mapping[str, str]]:
    """Parse and validate a vote-kinds TOML document: (kinds by name, alias -> kind name)."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise KindConfigError(f"vote kinds: {exc}") from exc
    _keys(document, frozenset({"kinds", "aliases"}), frozenset({"kinds"}), "vote kinds")
    raw_kinds = document["kinds"]
    _require(isinstance(raw_kinds, list) and len(raw_kinds) > 0, "vote kinds", "no [[kinds]]")
    kinds: dict[str, VoteKind] = {}
    for index, raw in enumerate(raw_kinds):
        kind = _kind(raw, index)
        _require(kind.name not in kinds, f"kind {kind.name}", "defined twice")
        kinds[kind.name] = kind
    seen: set[str] = set()
    for kind in kinds.values():
        for word in kind.words:
            _require(word.lower() not in seen and word.lower() not in kinds, f"kind {kind.name}",
                     f"word {word!r} names two kinds")
            seen.add(word.lower())
    raw_aliases = document.get("aliases", {})
    _require(isinstance(raw_aliases, dict), "aliases", "expected a table")
    aliases: dict[str, str] = {}
    for alias, target in raw_aliases.items():
        _name(alias, "aliases")
        _require(alias not in kinds, f"alias {alias}", "shadows a kind")
        _require(isinstance(target, str) and target in kinds, f"alias {alias}", f"unknown kind {target!r}")
        aliases[alias] = target
    return MappingProxyType(kinds), MappingProxyType(aliases)


_KINDS, _ALIASES = load_kinds(
    resources.files("bot.deliberation").joinpath("vote_kinds.toml").read_text(encoding="utf-8")
)


def get_kind(name: str) -> VoteKind:
    """The kind called ``name`` or an alias of it (``elevator`` -> ``art278_major``)."""
    kind = _KINDS.get(_ALIASES.get(name, name))
    if kind is None:
        raise InvalidInput(f"unknown vote kind {name!r}", field="kind", value=name)
    return kind


def kind_of_word(word: str) -> str | None:
    """The kind a code, an alias or a plain name stands for (``elevator`` or a Chinese name), or None."""
    lowered = word.strip().lower()
    if lowered in _KINDS:
        return lowered
    if lowered in _ALIASES:
        return _ALIASES[lowered]
    for kind in _KINDS.values():
        if lowered in (w.lower() for w in kind.words):
            return kind.name
    return None


def all_kinds() -> tuple[VoteKind, ...]:
    """Every kind, in the order of the TOML file."""
    return tuple(_KINDS.values())


def kind_names() -> tuple[str, ...]:
    """Every name ``get_kind`` accepts: kinds in file order, then aliases."""
    return (*_KINDS, *_ALIASES)


def aliases() -> Mapping[str, str]:
    return _ALIASES


def extract_labels(
    fileobj: Any, keywords: Any, comment_tags: Any, options: Any
) -> Iterator[tuple[int, None, str, list[str]]]:
    """A Babel extractor (babel.cfg): every kind's label is a msgid of the catalogs."""
    text = fileobj.read().decode("utf-8")
    for lineno, line in enumerate(text.splitlines(), start=1):
        match = _LABEL_LINE_RE.match(line)
        if match:
            yield lineno, None, tomllib.loads(line)["label"], []
