"""Cards and posts: what proposals, ballots and results look like, in neutral form."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import datetime, tzinfo
from fractions import Fraction
from functools import lru_cache
from typing import Any

from bot.chat.port import Action
from bot.deliberation.errors import InvalidInput
from bot.deliberation.numbers import format_hundredths
from bot.deliberation.tally import percent
from bot.deliberation.thresholds import progress_bar
from bot.deliberation.vote_kinds import KindConfigError, all_kinds, get_kind
from bot.handlers.callbacks import encode
from bot.handlers.errors import state_name
from bot.i18n import Text, _
from bot.plain import scope_name
from bot.storage.models import Proposal, Vote, utcnow

# Codes of elevator objections (their reason and status) in plain words, for /objection, histories, digests.
REASON_NAMES = {"light": _("light"), "noise": _("noise"), "access": _("access"), "cost": _("cost"), "other": _("other")}
STATUS_NAMES = {"open": _("open"), "mediating": _("mediating"), "resolved": _("resolved"), "escalated": _("escalated")}

CATEGORY_NAMES = {
    "elevator": _("elevator"),
    "environment": _("environment"),
    "parking": _("parking"),
    "safety": _("safety"),
    "property_management": _("property management"),
    "other": _("other"),
}
# Each kind's label lives with its rules in vote_kinds.toml (its msgid; babel.cfg extracts it).
KIND_NAMES = {kind.name: _(kind.label) for kind in all_kinds()}
CRITERION_NAMES = {
    "participation_area": _("taking part, by area"),
    "participation_heads": _("taking part, by heads"),
    "approval_area": _("approving, by area"),
    "approval_heads": _("approving, by heads"),
    "objection_area": _("objecting, by area"),
    "objection_heads": _("objecting, by heads"),
}
POSITION_NAMES = {"yes": _("Yes"), "no": _("No"), "abstain": _("Abstain")}
LANGUAGE_NAMES = {"zh_CN": _("Chinese"), "en": _("English")}
# The covenant clause's legal sources (bot/deliberation/tally.py), named as a resident would look them up.
COVENANT_SOURCE_NAMES = {
    "Zhejiang 2009 Art. 10": _("Zhejiang Property Management Regulations (2009), Art. 10"),
    "Liaocheng 2021 Art. 16": _("Liaocheng Property Management Regulations (2021), Art. 16"),
}


def kind_name(kind: str) -> Text | str:
    return KIND_NAMES.get(kind, kind)


def _counts_area(kind: str | None) -> bool:
    """Whether a kind weighs area (Civil Code Art. 278) or counts heads only; unknown kinds show both."""
    try:
        return kind is None or get_kind(kind).measures_area()
    except (InvalidInput, KindConfigError):
        return True


@lru_cache(maxsize=1024)  # every press on a vote shows its deadline: formatted once
def when(moment: datetime, tz: tzinfo) -> str:
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M")


def area(centi: int) -> str:
    return format_hundredths(centi)


def share(part: int, whole: int) -> str:
    return percent(Fraction(part, whole)) if whole else "0.00%"


def proposal_card(p: Proposal, supports: int, tz: tzinfo, now: datetime | None = None) -> Text:
    now = now or utcnow()
    lines: list[Text | str] = [
        _("#{id} {title}", id=p.id, title=p.title),
        _(
            "Scope: {scope} · {category} · {state}",
            scope=scope_name(p.scope),
            category=CATEGORY_NAMES.get(p.category, p.category),
            state=state_name(p.state),
        ),
    ]
    if p.state == "collecting":
        days = max(0, math.ceil((p.collecting_until - now).total_seconds() / 86400))
        lines.append(
            _(
                "{bar} {have}/{need} co-signatures, {days} days left",
                bar=progress_bar(supports, p.support_threshold),
                have=supports,
                need=p.support_threshold,
                days=days,
            )
        )
    else:
        lines.append(_("{have} co-signatures", have=supports))
    if p.reason:
        lines.append(_("Reason: {reason}", reason=p.reason))
    if p.merged_into_id:
        lines.append(_("Merged into #{id}", id=p.merged_into_id))
    if p.body:
        lines.append(p.body[:1500])
    return join(lines)


def support_actions(p: Proposal, t: Callable[[Text], str]) -> list[list[Action]]:
    if p.state != "collecting" or p.id is None:
        return []
    return [[Action(t(_("Support")), data=encode("s", p.id))]]


def join_inline(parts: Sequence[Text | str], separator: str) -> Text:
    """Parts on one line, each translated on its own."""
    placeholders = {f"p{i}": part for i, part in enumerate(parts)}
    return Text(separator.join("{" + key + "}" for key in placeholders), placeholders)


def join(parts: Sequence[Text | str]) -> Text:
    """Lines joined at render time, each translated on its own; plain strings (user text) as they are."""
    placeholders = {f"l{i}": part for i, part in enumerate(parts)}
    return Text("\n".join("{" + key + "}" for key in placeholders), placeholders)


def turnout_lines(vote: Vote, standing: dict[str, Any]) -> list[Text | str]:
    eligible, taking = standing["eligible"], standing["participated"]
    lines: list[Text | str] = [
        _(
            "Turnout: {heads}/{total} heads ({share})",
            heads=taking["heads"],
            total=eligible["heads"],
            share=share(taking["heads"], eligible["heads"]),
        )
    ]
    if standing["measures_area"]:
        lines.append(
            _(
                "Turnout by area: {area}/{total} m² ({share})",
                area=area(taking["area_centi"]),
                total=area(eligible["area_centi"]),
                share=share(taking["area_centi"], eligible["area_centi"]),
            )
        )
    return lines


def ballot_post(p: Proposal, vote: Vote, standing: dict[str, Any], tz: tzinfo) -> Text:
    lines: list[Text | str] = [
        _("Vote on #{id} {title}", id=p.id, title=p.title),
        KIND_NAMES.get(vote.kind, vote.kind),
        _("Scope: {scope} · closes {deadline}", scope=scope_name(vote.scope), deadline=when(vote.closes_at, tz)),
    ]
    if vote.options:
        lines.extend(f"{i + 1}. {option}" for i, option in enumerate(vote.options))
    lines.extend(turnout_lines(vote, standing))
    if vote.status == "open" and vote.secret:
        lines.append(_("Your choice is private and can be changed until the deadline."))
    elif vote.status == "open":
        # Open ballots: owners may inspect the decision's records (SPC interpretation on building
        # co-ownership Art. 13), so each choice is recorded with its home; saying "private" would be false.
        lines.append(_("Open vote: each choice is recorded with its home and the owners can see it. "
                       "You can change it until the deadline."))
    else:
        lines.append(_("This vote is closed."))
    return join(lines)


def winners_line(result: dict[str, Any]) -> Text:
    winners = [result["options"][i] for i in result.get("winners", [])]
    return _("Winner: {names}", names=", ".join(winners)) if winners else _("No single winner.")


def participation_line(result: dict[str, Any]) -> Text:
    if not _counts_area(result.get("kind")):  # heads only: no "0.00 m²" beside every count
        return _(
            "Eligible {heads} heads; took part {ph} heads",
            heads=result["eligible"]["heads"],
            ph=result["participated"]["heads"],
        )
    return _(
        "Eligible {heads} heads / {area} m²; took part {ph} heads / {pa} m²",
        heads=result["eligible"]["heads"],
        area=result["eligible"]["area_m2"],
        ph=result["participated"]["heads"],
        pa=result["participated"]["area_m2"],
    )


def secrecy_lines(result: dict[str, Any]) -> list[Text | str]:
    """What a secret result withheld and why (see voting.secret_result)."""
    published = result.get("secrecy", {}).get("published", "exact")
    if published == "exact":
        return []
    lines: list[Text | str] = []
    names = {**POSITION_NAMES, **{str(i): Text(o) for i, o in enumerate(result.get("options") or [])}}
    for name, share in result.get("shares", {}).items():
        lines.append(_("{option}: about {heads} of heads, {area} of area", option=names.get(name, name),
                       heads=f"{share['heads_pct']}%", area=f"{share['area_pct']}%"))
    if result["secrecy"].get("reason") == "too_large_to_check":
        lines.append(_("Secret vote: exact sums by option are never published for this many voters; the shares "
                       "are rounded to whole percent and the exact figures are sealed for the council's record."))
    elif published == "rounded":
        lines.append(_("Secret vote: the exact sums would show how some owners voted, so the shares are rounded "
                       "to whole percent; the exact figures are sealed for the council's record."))
    else:
        lines.append(_("Secret vote: even rounded shares would show how some owners voted, so only the decision "
                       "and whether each criterion was met are published; the exact figures are sealed for the "
                       "council's record."))
    return lines


def receipt_line(cast: Any) -> list[Text | str]:
    """A secret ballot's receipt code, to find later among the vote's commitments (export, ledger)."""
    return [_("Receipt: {code}", code=cast.receipt)] if getattr(cast, "receipt", None) else []


def head_line(head: str | None) -> list[Text | str]:
    """The ledger's head after a result: councils keep it to check the ledger later (ledger verify --head)."""
    return [_("Ledger head: {head}", head=head)] if head else []


def grouped_area(centi: int) -> str:
    """531245 -> "5,312.45": exact, with thousands separators a resident can read."""
    whole, cents = divmod(abs(centi), 100)
    return f"{'-' if centi < 0 else ''}{whole:,}.{cents:02d}"


def _percent(value: Fraction, digits: int) -> str:
    """``value`` as a percentage with ``digits`` decimals, rounded half up, exactly."""
    scaled = math.floor(value * 100 * 10**digits + Fraction(1, 2))
    text = str(scaled).rjust(digits + 1, "0")
    return f"{text[:-digits]}.{text[-digits:]}%"


def bound_figures(actual: Fraction, bound: Fraction) -> tuple[str, str]:
    """Both as percentages with two decimals, or with as many more as it takes for the rounding not to hide
    which side of the bound ``actual`` falls (74.9998% vs 75.0000%); equal only when they are equal."""
    for digits in range(2, 9):
        shown = _percent(actual, digits), _percent(bound, digits)
        if shown[0] != shown[1] or actual == bound:
            return shown
    return f"{actual.numerator}/{actual.denominator}", f"{bound.numerator}/{bound.denominator}"


def criterion_line(criterion: dict[str, Any]) -> Text:
    """One criterion with the exact parts beside the percentage, so a resident can check it by hand:
    "✗ approving, by area: 5,312.45 / 7,083.27 m² = 74.9998% (required ≥ 75.0000%)". The decision itself
    was taken on exact fractions (bot/deliberation/tally.py); this only shows it."""
    mark = "✓" if criterion["met"] else "✗"
    name = CRITERION_NAMES.get(criterion["name"], criterion["name"])
    op = criterion["op"].replace(">=", "≥").replace("<=", "≤")
    num, den = criterion.get("numerator"), criterion.get("denominator")
    if not isinstance(num, int) or not isinstance(den, int) or "ratio" not in criterion or den <= 0:
        # A secret result publishes no exact parts (rounded or none); older documents lack them.
        return _("{mark} {name}: {actual} {op} {required}", mark=mark, name=name, actual=criterion["actual"],
                 op=op, required=criterion["required"])
    if criterion.get("measure") == "area":
        parts = _("{num} / {den} m²", num=grouped_area(num), den=grouped_area(den))
    else:
        parts = _("{num} / {den} heads", num=f"{num:,}", den=f"{den:,}")
    actual, bound = Fraction(num, den), Fraction(criterion["ratio"])
    shown, required = bound_figures(actual, bound)
    if actual == bound:
        return _("{mark} {name}: {parts} = {actual}, exactly the bound (required {op} {required})", mark=mark,
                 name=name, parts=parts, actual=shown, op=op, required=required)
    return _("{mark} {name}: {parts} = {actual} (required {op} {required})", mark=mark, name=name, parts=parts,
             actual=shown, op=op, required=required)


def ranked_lines(result: dict[str, Any], *, detail: bool, secret: bool) -> list[Text | str]:
    """How a ranked (Schulze) winner was found, in one sentence; the pairwise table on request."""
    options, winners = result.get("options") or [], result.get("winners") or []
    lines: list[Text | str] = []
    if len(winners) == 1:
        lines.append(_("Schulze method: every option was compared with every other, pair by pair, over all "
                       "rankings; {winner} beats every other option (directly or through a chain of wins).",
                       winner=options[winners[0]]))
    elif winners:
        lines.append(_("Schulze method: no option beats all the others, so {names} are tied. The bot does not "
                       "break the tie: the council decides, e.g. with a new vote between them.",
                       names=", ".join(options[i] for i in winners)))
    pairwise = result.get("pairwise")
    if not detail:
        if pairwise is not None:
            lines.append(_("The pairwise table: /results {id} table", id=result.get("proposal_id", "<id>")))
        return lines
    if pairwise is None:
        lines.append(_("The pairwise table of a secret vote is not published; it is sealed for the council's record.")
                     if secret else _("No pairwise table for this vote."))
        return lines
    lines.append(_("How many rankings put each option above another:"))
    for i in range(len(options)):
        for j in range(i + 1, len(options)):
            lines.append(_("{a} over {b}: {ab}; {b} over {a}: {ba}", a=options[i], b=options[j],
                           ab=pairwise[i][j], ba=pairwise[j][i]))
    return lines


def result_text(p: Proposal, vote: Vote, result: dict[str, Any], head: str | None = None, *,
                detail: bool = False) -> Text:
    verdict = _("PASSED") if result["passed"] else _("NOT PASSED")
    lines: list[Text | str] = [
        _("Result of #{id} {title}: {verdict}", id=p.id, title=p.title, verdict=verdict),
        KIND_NAMES.get(vote.kind, vote.kind),
    ]
    if result.get("provisional"):
        lines.append(_("(standing so far; the vote is still open)"))
    if "yes" in result and not _counts_area(vote.kind):
        lines.append(
            _(
                "Yes {yh} heads; No {nh}; Abstain {ah}",
                yh=result["yes"]["heads"],
                nh=result["no"]["heads"],
                ah=result["abstain"]["heads"],
            )
        )
    elif "yes" in result:
        lines.append(
            _(
                "Yes {yh} heads / {ya} m²; No {nh} / {na} m²; Abstain {ah} / {aa} m²",
                yh=result["yes"]["heads"],
                ya=result["yes"]["area_m2"],
                nh=result["no"]["heads"],
                na=result["no"]["area_m2"],
                ah=result["abstain"]["heads"],
                aa=result["abstain"]["area_m2"],
            )
        )
    elif "options" in result:
        for i, option in enumerate(result["options"]):
            if "scores" in result and (vote.kind == "ranked" or result.get("kind") == "ranked"):
                # A ranked ballot's score is its first preferences; the winner is decided pair by pair.
                lines.append(_("{option}: first choice of {heads}", option=option, heads=result["scores"][i]["heads"]))
            elif "scores" in result:
                lines.append(_("{option}: {heads}", option=option, heads=result["scores"][i]["heads"]))
            else:  # a secret result without counts still lists what was voted on
                lines.append(f"{i + 1}. {option}")
        lines.append(winners_line(result))
        if vote.kind == "ranked" or result.get("kind") == "ranked":
            lines.extend(ranked_lines({**result, "proposal_id": p.id}, detail=detail, secret=vote.secret))
    lines.extend(secrecy_lines(result))
    lines.append(participation_line(result))
    for criterion in result["criteria"]:
        if criterion["actual"] == "-":  # a secret result that publishes only the outcome
            lines.append(_("{mark} {name} (required {op} {required})", mark="✓" if criterion["met"] else "✗",
                           name=CRITERION_NAMES.get(criterion["name"], criterion["name"]),
                           op=criterion["op"].replace(">=", "≥").replace("<=", "≤"), required=criterion["required"]))
            continue
        lines.append(criterion_line(criterion))
    covenant = result.get("covenant")
    if covenant and covenant.get("side"):
        lines.append(
            _(
                "Covenant ({sources}): {heads} non-voting heads / {area} m² counted with {side}",
                sources=join_inline([COVENANT_SOURCE_NAMES.get(c, c) for c in covenant["sources"]], " / "),
                heads=covenant["followers"]["heads"],
                area=covenant["followers"]["area_m2"],
                side=POSITION_NAMES[covenant["side"]],
            )
        )
    return join(lines + head_line(head))
