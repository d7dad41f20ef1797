"""The pure rules of residents' requests: states, the clock, quiet hours, rates, recurring problems."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from fractions import Fraction
from zoneinfo import ZoneInfo

import pytest

from bot.deliberation.errors import IllegalTransition, InvalidInput
from bot.deliberation.requests import (
    Clock,
    Policy,
    Report,
    RequestAction,
    RequestState,
    Step,
    due_now,
    month_bounds,
    next_awake,
    next_due,
    parse_location,
    parse_number,
    percent,
    recurring,
    reminder_lead,
    transition,
    widest,
)
from bot.deliberation.scope import Scope

SH = ZoneInfo("Asia/Shanghai")
T = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai


def test_states() -> None:
    assert transition(RequestState.SUBMITTED, RequestAction.TAKE) is RequestState.IN_PROGRESS
    assert transition(RequestState.IN_PROGRESS, RequestAction.WHISTLE) is RequestState.SUBMITTED
    assert transition(RequestState.RESOLVED, RequestAction.REOPEN) is RequestState.IN_PROGRESS
    assert transition(RequestState.RESOLVED, RequestAction.EXPIRE_RATING) is RequestState.CLOSED
    for state, action in ((RequestState.SUBMITTED, RequestAction.RATE), (RequestState.CLOSED, RequestAction.REOPEN),
                          (RequestState.RESOLVED, RequestAction.TAKE)):
        with pytest.raises(IllegalTransition):
            transition(state, action)


def test_numbers_and_locations() -> None:
    assert [parse_number(t) for t in ("R12", "r12", "#12", "12")] == [12, 12, 12, 12]
    for bad in ("R", "12a", "R-1", ""):
        with pytest.raises(InvalidInput):
            parse_number(bad)
    home = parse_location("3-2-501")
    assert home.home == ("3", "2", "501") and str(home.scope) == "3-2"
    assert str(parse_location("3-2").scope) == "3-2" and str(parse_location("3").scope) == "3"
    assert str(parse_location("east-gate").scope) == "all"
    with pytest.raises(InvalidInput):
        parse_location("x" * 41)


def test_reminder_leads() -> None:
    assert reminder_lead(timedelta(hours=24)) == timedelta(hours=6)
    assert reminder_lead(timedelta(hours=2)) == timedelta(minutes=30)
    assert reminder_lead(timedelta(days=7)) == timedelta(days=1)


def _clock(**changes: object) -> Clock:
    policy = Policy()
    values: dict[str, object] = dict(
        state=RequestState.SUBMITTED, urgent=False, response_due=T + timedelta(hours=24), responded=False,
        response_stage=0, resolution_due=T + timedelta(days=7), resolution_stage=0, resolved_at=None,
        response_window=policy.response_window(False), resolution_window=policy.resolution_window,
        rating_window=timedelta(days=3))
    values.update(changes)
    return Clock(**values)  # type: ignore[arg-type]


def test_the_ladder_of_a_deadline() -> None:
    due = next_due(_clock())
    assert due is not None and (due.at, due.step) == (T + timedelta(hours=18), Step.REMIND)
    due = next_due(_clock(response_stage=1))
    assert due is not None and (due.at, due.step) == (T + timedelta(hours=24), Step.ESCALATE_SUPERVISOR)
    due = next_due(_clock(response_stage=2))
    assert due is not None and (due.at, due.step) == (T + timedelta(hours=48), Step.ESCALATE_STREET)
    # Answered: only the resolution deadline is left.
    due = next_due(_clock(responded=True))
    assert due is not None and (due.kind, due.at) == ("resolution", T + timedelta(days=6))
    # A late run acts once per deadline, at the highest step reached.
    late = due_now(_clock(), T + timedelta(days=3))
    assert [(d.kind, d.stage) for d in late] == [("response", 3)]
    resolved = _clock(state=RequestState.RESOLVED, resolved_at=T)
    assert next_due(resolved) is not None and due_now(resolved, T + timedelta(days=3))[0].kind == "rating"
    assert next_due(_clock(state=RequestState.CLOSED)) is None


def test_quiet_hours_defer_to_their_end() -> None:
    night = (time(22, 0), time(8, 0))
    at_four = datetime(2026, 12, 2, 4, 0, tzinfo=SH)
    assert next_awake(at_four, *night, SH) == datetime(2026, 12, 2, 8, 0, tzinfo=SH)
    at_eleven_pm = datetime(2026, 12, 2, 23, 0, tzinfo=SH)
    assert next_awake(at_eleven_pm, *night, SH) == datetime(2026, 12, 3, 8, 0, tzinfo=SH)
    noon = datetime(2026, 12, 2, 12, 0, tzinfo=SH)
    assert next_awake(noon, *night, SH) == noon
    assert next_awake(noon, time(12, 0), time(13, 30), SH) == datetime(2026, 12, 2, 13, 30, tzinfo=SH)
    assert next_awake(at_four, time(0, 0), time(0, 0), SH) == at_four


def test_percent_and_months() -> None:
    assert percent(Fraction(8, 11)) == "72.73%" and percent(Fraction(1, 8)) == "12.50%"
    assert percent(Fraction(2, 3)) == "66.67%" and percent(Fraction(1)) == "100.00%" and percent(None) == "-"
    start, end = month_bounds("2026-12", SH)
    assert (start, end) == (datetime(2026, 12, 1, tzinfo=SH), datetime(2027, 1, 1, tzinfo=SH))
    for bad in ("2026-13", "12-2026", "2026-1"):
        with pytest.raises(InvalidInput):
            month_bounds(bad, SH)


def _report(i: int, household: str, text: str, *, scope: str = "3-2", days: int = 0, category: str = "repair"
            ) -> Report:
    return Report(i, category, Scope.parse(scope), text, household, T + timedelta(days=days))


def test_recurring_problems() -> None:
    lamp = "The stairwell lamp on floor 2 is broken"
    earlier = [_report(1, "unit:1", lamp), _report(2, "unit:2", "Stairwell lamp broken on floor 2", days=1)]
    new = _report(3, "unit:3", "Lamp in the stairwell broken again", scope="3", days=2)
    assert [r.id for r in recurring(new, earlier, threshold=0.4)] == [3, 1, 2]
    # Two households only (the same one twice), another category, too long ago, another building: not yet.
    assert recurring(new, [earlier[0], _report(2, "unit:1", lamp, days=1)], threshold=0.4) == []
    assert recurring(new, [earlier[0], _report(2, "unit:2", lamp, category="noise")], threshold=0.4) == []
    assert recurring(_report(3, "unit:3", lamp, days=40), earlier, threshold=0.4) == []
    assert recurring(_report(3, "unit:3", lamp, scope="4-1", days=2), earlier, threshold=0.4) == []
    assert recurring(_report(3, "unit:3", "Cars park on the lawn", days=2), earlier, threshold=0.4) == []
    assert str(widest([Scope.parse("3-2"), Scope.parse("3")])) == "3"
    assert str(widest([Scope.parse("3-2"), Scope.parse("4-1")])) == "all"
