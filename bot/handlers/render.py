"""Cards and posts: what proposals, ballots and results look like, in neutral form."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import datetime, tzinfo
from fractions import Fraction
from typing import Any

from bot.chat.port import Action
from bot.deliberation.numbers import format_hundredths
from bot.deliberation.tally import percent
from bot.deliberation.thresholds import progress_bar
from bot.deliberation.vote_kinds import all_kinds
from bot.handlers.callbacks import encode
from bot.handlers.errors import state_name
from bot.i18n import Text, _
from bot.storage.models import Proposal, Vote, utcnow

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
            scope=p.scope,
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
        _("Scope: {scope} · closes {deadline}", scope=vote.scope, deadline=when(vote.closes_at, tz)),
    ]
    if vote.options:
        lines.extend(f"{i + 1}. {option}" for i, option in enumerate(vote.options))
    lines.extend(turnout_lines(vote, standing))
    if vote.status == "open":
        lines.append(_("Your choice is private and can be changed until the deadline."))
    else:
        lines.append(_("This vote is closed."))
    return join(lines)


def winners_line(result: dict[str, Any]) -> Text:
    winners = [result["options"][i] for i in result.get("winners", [])]
    return _("Winner: {names}", names=", ".join(winners)) if winners else _("No single winner.")


def participation_line(result: dict[str, Any]) -> Text:
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


def result_text(p: Proposal, vote: Vote, result: dict[str, Any], head: str | None = None) -> Text:
    verdict = _("PASSED") if result["passed"] else _("NOT PASSED")
    lines: list[Text | str] = [
        _("Result of #{id} {title}: {verdict}", id=p.id, title=p.title, verdict=verdict),
        KIND_NAMES.get(vote.kind, vote.kind),
    ]
    if result.get("provisional"):
        lines.append(_("(standing so far; the vote is still open)"))
    if "yes" in result:
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
            if "scores" in result:
                lines.append(_("{option}: {heads}", option=option, heads=result["scores"][i]["heads"]))
            else:  # a secret result without counts still lists what was voted on
                lines.append(f"{i + 1}. {option}")
        lines.append(winners_line(result))
    lines.extend(secrecy_lines(result))
    lines.append(participation_line(result))
    for criterion in result["criteria"]:
        if criterion["actual"] == "-":  # a secret result that publishes only the outcome
            lines.append(_("{mark} {name} (required {op} {required})", mark="✓" if criterion["met"] else "✗",
                           name=CRITERION_NAMES.get(criterion["name"], criterion["name"]),
                           op=criterion["op"].replace(">=", "≥").replace("<=", "≤"), required=criterion["required"]))
            continue
        lines.append(
            _(
                "{mark} {name}: {actual} {op} {required}",
                mark="✓" if criterion["met"] else "✗",
                name=CRITERION_NAMES.get(criterion["name"], criterion["name"]),
                actual=criterion["actual"],
                op=criterion["op"].replace(">=", "≥").replace("<=", "≤"),
                required=criterion["required"],
            )
        )
    covenant = result.get("covenant")
    if covenant and covenant.get("side"):
        lines.append(
            _(
                "Covenant ({sources}): {heads} non-voting heads / {area} m² counted with {side}",
                sources="; ".join(covenant["sources"]),
                heads=covenant["followers"]["heads"],
                area=covenant["followers"]["area_m2"],
                side=POSITION_NAMES[covenant["side"]],
            )
        )
    return join(lines + head_line(head))
