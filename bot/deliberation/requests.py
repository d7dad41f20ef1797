"""Residents' requests handled on the clock (接诉即办): pure rules.

States, deadlines, what the clock asks for next (reminders, escalations, the rating window), the three
rates as exact fractions, and recurring-problem detection. No database, no chat: the service feeds rows
in as plain values.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from enum import StrEnum
from fractions import Fraction

from bot.deliberation.errors import IllegalTransition, InvalidInput
from bot.deliberation.scope import Scope
from bot.deliberation.similarity import DEFAULT_THRESHOLD, normalise, score

# --- categories and urgency ----------------------------------------------------------------------------

# The default categories (codes; their names live in the message catalogs). A community may add its own
# (stored by name) or drop these with `yishi complaints config`.
DEFAULT_CATEGORIES: tuple[str, ...] = ("sanitation", "repair", "safety", "noise", "parking", "property", "other")
# The urgency a resident may type, in English (the Chinese words are in bot/handlers/aliases.toml).
URGENCIES = {"urgent": True, "!": True, "normal": False}
TEXT_MAX = 1000
# Photos a request may carry at each stage (the report's, the resolution's): nine, as a WeChat post holds.
MAX_PHOTOS = 9
PHOTO_STAGES: tuple[str, ...] = ("report", "resolve")
LOCATION_MAX = 40
_HOME_RE = re.compile(r"^(\d{1,4})-(\d{1,3})-(\w{1,16})$")
_SCOPE_RE = re.compile(r"^\d{1,4}(?:-\d{1,3})?$")
_NUMBER_RE = re.compile(r"^#?[Rr]?(\d{1,9})$")


def parse_number(text: str) -> int:
    """A work-order number as shown (R12) or typed (12, #12, r12)."""
    match = _NUMBER_RE.match(text.strip())
    if match is None:
        raise InvalidInput("work-order number like R12", field="work_order", value=text[:20])
    return int(match.group(1))


def format_number(request_id: int) -> str:
    return f"R{request_id}"


@dataclass(frozen=True, slots=True)
class Location:
    """Where the problem is: a home (3-2-501), a building unit (3-2), a building (3) or a common area."""

    label: str
    scope: Scope  # the part of the community it concerns (a home's unit; the whole community for a common area)
    home: tuple[str, str, str] | None = None

    @property
    def is_home(self) -> bool:
        return self.home is not None


def parse_location(text: str) -> Location:
    text = text.strip()
    if not text or len(text) > LOCATION_MAX:
        raise InvalidInput("location", field="location")
    home = _HOME_RE.match(text)
    if home is not None:
        building, unit, room = home.groups()
        return Location(text, Scope.parse(f"{building}-{unit}"), (building, unit, room))
    if _SCOPE_RE.match(text):
        return Location(text, Scope.parse(text))
    return Location(text, Scope.community())


# --- states --------------------------------------------------------------------------------------------


class RequestState(StrEnum):
    SUBMITTED = "submitted"  # waiting for its first response
    IN_PROGRESS = "in_progress"  # taken or answered by a handler
    RESOLVED = "resolved"  # a handler says it is solved; the author may rate it
    CLOSED = "closed"  # rated, or not rated within the rating window


class RequestAction(StrEnum):
    TAKE = "take"
    REPLY = "reply"
    RESOLVE = "resolve"
    TRANSFER = "transfer"
    WHISTLE = "whistle"
    RATE = "rate"
    REOPEN = "reopen"
    EXPIRE_RATING = "expire_rating"


_TRANSITIONS: dict[tuple[RequestState, RequestAction], RequestState] = {
    (RequestState.SUBMITTED, RequestAction.TAKE): RequestState.IN_PROGRESS,
    (RequestState.SUBMITTED, RequestAction.REPLY): RequestState.IN_PROGRESS,
    (RequestState.SUBMITTED, RequestAction.RESOLVE): RequestState.RESOLVED,
    (RequestState.SUBMITTED, RequestAction.TRANSFER): RequestState.SUBMITTED,
    (RequestState.SUBMITTED, RequestAction.WHISTLE): RequestState.SUBMITTED,
    (RequestState.IN_PROGRESS, RequestAction.TAKE): RequestState.IN_PROGRESS,
    (RequestState.IN_PROGRESS, RequestAction.REPLY): RequestState.IN_PROGRESS,
    (RequestState.IN_PROGRESS, RequestAction.RESOLVE): RequestState.RESOLVED,
    (RequestState.IN_PROGRESS, RequestAction.TRANSFER): RequestState.SUBMITTED,
    (RequestState.IN_PROGRESS, RequestAction.WHISTLE): RequestState.SUBMITTED,
    (RequestState.RESOLVED, RequestAction.RATE): RequestState.CLOSED,
    (RequestState.RESOLVED, RequestAction.REOPEN): RequestState.IN_PROGRESS,
    (RequestState.RESOLVED, RequestAction.EXPIRE_RATING): RequestState.CLOSED,
}


def transition(state: RequestState, action: RequestAction) -> RequestState:
    try:
        return _TRANSITIONS[(state, action)]
    except KeyError:
        raise IllegalTransition(str(state), str(action)) from None


class Rating(StrEnum):
    SATISFIED = "satisfied"  # 满意
    BASIC = "basic"  # 基本满意
    UNSATISFIED = "unsatisfied"  # 不满意
    NOT_RATED = "not_rated"  # no rating within the window: never counted as satisfied


RATING_CODES = {"s": Rating.SATISFIED, "b": Rating.BASIC, "u": Rating.UNSATISFIED}
MAX_REOPENS = 1  # 不满意 reopens a request once; a second 不满意 stands as the final rating


# --- deadlines and the clock ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Policy:
    """A community's clock (defaults: answer within 24 h, urgent within 2 h, solve within 7 days)."""

    response_hours: int = 24
    urgent_response_hours: int = 2
    resolution_days: int = 7
    rating_days: int = 3

    def response_window(self, urgent: bool) -> timedelta:
        return timedelta(hours=self.urgent_response_hours if urgent else self.response_hours)

    @property
    def resolution_window(self) -> timedelta:
        return timedelta(days=self.resolution_days)

    def validate(self) -> None:
        if not 1 <= self.response_hours <= 24 * 14:
            raise InvalidInput("response hours 1-336", field="response_hours")
        if not 1 <= self.urgent_response_hours <= self.response_hours:
            raise InvalidInput("urgent response hours 1..response hours", field="urgent_response_hours")
        if not 1 <= self.resolution_days <= 90:
            raise InvalidInput("resolution days 1-90", field="resolution_days")
        if not 1 <= self.rating_days <= 30:
            raise InvalidInput("rating days 1-30", field="rating_days")


def response_due(reported_at: datetime, urgent: bool, policy: Policy) -> datetime:
    return reported_at + policy.response_window(urgent)


def resolution_due(started_at: datetime, policy: Policy) -> datetime:
    return started_at + policy.resolution_window


def reminder_lead(window: timedelta) -> timedelta:
    """How long before a deadline the handlers are reminded: a quarter of the window, at most a day.

    24 h to respond: 6 h before; 2 h (urgent): 30 min before; 7 days to solve: 1 day before.
    """
    return min(window / 4, timedelta(days=1))


class Step(StrEnum):
    REMIND = "remind"  # the party's handlers: the deadline is near
    ESCALATE_SUPERVISOR = "escalate_supervisor"  # the deadline passed: the party's supervisors
    ESCALATE_STREET = "escalate_street"  # a further window passed: the street level


@dataclass(frozen=True, slots=True)
class Clock:
    """One request's clock as stored: deadlines, and how far each has gone (0 nothing, 1 reminded,
    2 escalated to the supervisor, 3 escalated to the street level)."""

    state: RequestState
    urgent: bool
    response_due: datetime
    responded: bool
    response_stage: int
    resolution_due: datetime
    resolution_stage: int
    resolved_at: datetime | None
    response_window: timedelta
    resolution_window: timedelta
    rating_window: timedelta


@dataclass(frozen=True, slots=True)
class Due:
    at: datetime
    kind: str  # "response" | "resolution" | "rating"
    stage: int  # the stage reached by doing it (1 remind, 2 supervisor, 3 street); 0 for the rating window
    step: Step | None


def _ladder(due: datetime, window: timedelta, done: int, kind: str) -> Due | None:
    steps = (
        (due - reminder_lead(window), 1, Step.REMIND),
        (due, 2, Step.ESCALATE_SUPERVISOR),
        # The street level hears of it when a second window as long as the first has passed too.
        (due + min(window, timedelta(days=2)), 3, Step.ESCALATE_STREET),
    )
    for at, stage, step in steps:
        if stage > done:
            return Due(at, kind, stage, step)
    return None


def next_due(clock: Clock) -> Due | None:
    """The next thing the clock must do for this request, or None (closed, or every step done)."""
    if clock.state is RequestState.CLOSED:
        return None
    if clock.state is RequestState.RESOLVED:
        if clock.resolved_at is None:
            return None
        return Due(clock.resolved_at + clock.rating_window, "rating", 0, None)
    candidates = []
    if not clock.responded:
        found = _ladder(clock.response_due, clock.response_window, clock.response_stage, "response")
        if found is not None:
            candidates.append(found)
    found = _ladder(clock.resolution_due, clock.resolution_window, clock.resolution_stage, "resolution")
    if found is not None:
        candidates.append(found)
    return min(candidates, key=lambda d: (d.at, d.kind)) if candidates else None


def due_now(clock: Clock, now: datetime) -> list[Due]:
    """Every step due at ``now`` (a late run catches up: only the highest stage per deadline is acted on)."""
    out: list[Due] = []
    if clock.state is RequestState.CLOSED:
        return out
    if clock.state is RequestState.RESOLVED:
        step = next_due(clock)
        return [step] if step is not None and step.at <= now else []
    ladders = []
    if not clock.responded:
        ladders.append((clock.response_due, clock.response_window, clock.response_stage, "response"))
    ladders.append((clock.resolution_due, clock.resolution_window, clock.resolution_stage, "resolution"))
    for due, window, done, kind in ladders:
        reached: Due | None = None
        stage = done
        while True:
            found = _ladder(due, window, stage, kind)
            if found is None or found.at > now:
                break
            reached, stage = found, found.stage
        if reached is not None:
            out.append(reached)
    return out


def next_awake(moment: datetime, quiet_start: time, quiet_end: time, tz: tzinfo) -> datetime:
    """``moment`` if it is outside the quiet hours (community time), else the end of those hours."""
    if quiet_start == quiet_end:
        return moment
    local = moment.astimezone(tz)
    clock = local.time().replace(tzinfo=None)
    if quiet_start < quiet_end:
        quiet = quiet_start <= clock < quiet_end
        end_day = local.date()
    else:
        quiet = clock >= quiet_start or clock < quiet_end
        end_day = local.date() + timedelta(days=1) if clock >= quiet_start else local.date()
    if not quiet:
        return moment
    return datetime.combine(end_day, quiet_end, tzinfo=tz).astimezone(moment.tzinfo)


# --- rates ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Record:
    """What the rates need of one request."""

    category: str
    party: str
    reported_at: datetime
    response_due: datetime
    first_response_at: datetime | None
    state: RequestState
    resolution_due: datetime
    resolved_at: datetime | None
    rating: Rating | None


@dataclass(frozen=True, slots=True)
class Rates:
    """The three rates of a set of requests, exact.

    - received: requests reported in the period.
    - response rate (响应率) = requests whose first response (take, reply or resolve) came no later than
      their response deadline / received.
    - resolution rate (解决率) = requests resolved (now resolved or closed after a resolution) no later than
      their resolution deadline / received.
    - satisfaction rate (满意率) = ratings 满意 or 基本满意 / rated requests (满意 + 基本满意 + 不满意, the
      final rating of each request); requests not rated within the window are counted apart (not_rated),
      never as satisfied.
    A rate with an empty denominator is None.
    """

    received: int
    responded_on_time: int
    resolved_on_time: int
    satisfied: int
    basic: int
    unsatisfied: int
    not_rated: int

    @property
    def rated(self) -> int:
        return self.satisfied + self.basic + self.unsatisfied

    @property
    def response_rate(self) -> Fraction | None:
        return Fraction(self.responded_on_time, self.received) if self.received else None

    @property
    def resolution_rate(self) -> Fraction | None:
        return Fraction(self.resolved_on_time, self.received) if self.received else None

    @property
    def satisfaction_rate(self) -> Fraction | None:
        return Fraction(self.satisfied + self.basic, self.rated) if self.rated else None


def rates(records: Iterable[Record]) -> Rates:
    received = responded = resolved = satisfied = basic = unsatisfied = not_rated = 0
    for r in records:
        received += 1
        if r.first_response_at is not None and r.first_response_at <= r.response_due:
            responded += 1
        if (r.state in (RequestState.RESOLVED, RequestState.CLOSED) and r.resolved_at is not None
                and r.resolved_at <= r.resolution_due):
            resolved += 1
        if r.rating is Rating.SATISFIED:
            satisfied += 1
        elif r.rating is Rating.BASIC:
            basic += 1
        elif r.rating is Rating.UNSATISFIED:
            unsatisfied += 1
        elif r.rating is Rating.NOT_RATED:
            not_rated += 1
    return Rates(received, responded, resolved, satisfied, basic, unsatisfied, not_rated)


def month_bounds(month: str, tz: tzinfo) -> tuple[datetime, datetime]:
    """The first instant of ``YYYY-MM`` and of the next month, community time."""
    match = re.fullmatch(r"(\d{4})-(\d{2})", month.strip())
    if match is None or not 1 <= int(match.group(2)) <= 12:
        raise InvalidInput("month like 2026-12", field="month", value=month)
    year, mon = int(match.group(1)), int(match.group(2))
    start = datetime.combine(date(year, mon, 1), time(0), tzinfo=tz)
    end = datetime.combine(date(year + mon // 12, mon % 12 + 1, 1), time(0), tzinfo=tz)
    return start, end


def percent(rate: Fraction | None) -> str:
    """A rate for people: two decimals of a percent, rounded half up (``-`` when there is nothing to rate)."""
    if rate is None:
        return "-"
    hundredths = (rate * 10000 * 2 + 1) // 2
    return f"{hundredths // 100}.{hundredths % 100:02d}%"


# --- recurring problems (有一办一、举一反三) ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Report:
    """A request as recurring-problem detection sees it."""

    id: int
    category: str
    scope: Scope
    text: str
    household: str
    reported_at: datetime


def recurring(
    new: Report, earlier: Sequence[Report], *, households: int = 3, days: int = 30,
    threshold: float = DEFAULT_THRESHOLD,
) -> list[Report]:
    """The reports (``new`` first) showing ``new`` is a recurring problem, or [] if it is not one yet.

    Recurring: at least ``households`` different households reported, within ``days`` before ``new``,
    the same category in an overlapping scope with similar text (the agenda's similarity of matters).
    """
    since = new.reported_at - timedelta(days=days)
    needle = normalise(new.text)
    evidence = [new]
    seen = {new.household}
    for other in sorted(earlier, key=lambda r: (r.reported_at, r.id)):
        if other.id == new.id or other.category != new.category or not since <= other.reported_at <= new.reported_at:
            continue
        if not other.scope.overlaps(new.scope) or score(needle, normalise(other.text)) < threshold:
            continue
        evidence.append(other)
        seen.add(other.household)
    return evidence if len(seen) >= households else []


def widest(scopes: Iterable[Scope]) -> Scope:
    """The smallest scope holding all of these (a unit, its building, or the whole community)."""
    items = list(scopes)
    if not items:
        return Scope.community()
    first = items[0]
    if all(str(s) == str(first) for s in items):
        return first
    buildings = {s.building for s in items}
    if len(buildings) == 1 and first.building is not None:
        return Scope.parse(first.building)
    return Scope.community()
