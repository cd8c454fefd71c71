"""Business-time arithmetic (sla.deadlines), with the worked examples of SLA.md."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from sla.deadlines import (
    Calendar,
    CalendarError,
    Pause,
    add_business_seconds,
    business_seconds_between,
    next_business_instant,
    preview_due,
)

HOUR = 3600
NINE_TO_FIVE = [[(9 * 60, 17 * 60)]] * 5 + [[], []]


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def office(timezone: str = "UTC", holidays: tuple[date, ...] = ()) -> Calendar:
    return Calendar.build(timezone=timezone, weekly=NINE_TO_FIVE, holidays=holidays)


def test_worked_example_pause_while_waiting_on_customer_moves_due_by_the_pause() -> None:
    # 24/7, created 08:00, resolution 2 h, waiting on customer 09:00-10:05: due 11:05.
    due = preview_due(
        Calendar.twenty_four_seven(),
        opened_at=utc(2026, 3, 3, 8, 0),
        target_seconds=2 * HOUR,
        pauses=[Pause(utc(2026, 3, 3, 9, 0), utc(2026, 3, 3, 10, 5))],
    )
    assert due == utc(2026, 3, 3, 11, 5)


def test_worked_example_sixteen_business_hours_from_tuesday_ten_is_thursday_ten() -> None:
    # Mon-Fri 09:00-17:00, created Tue 10:00, 16 business hours: due Thu 10:00.
    tuesday = utc(2026, 3, 3, 10, 0)
    assert tuesday.strftime("%A") == "Tuesday"
    assert add_business_seconds(office(), tuesday, 16 * HOUR) == utc(2026, 3, 5, 10, 0)


def test_a_target_spanning_the_weekend_skips_saturday_and_sunday() -> None:
    friday_four = utc(2026, 3, 6, 16, 0)
    assert add_business_seconds(office(), friday_four, 2 * HOUR) == utc(2026, 3, 9, 10, 0)


def test_a_ticket_opened_at_night_starts_counting_at_the_next_business_minute() -> None:
    saturday_night = utc(2026, 3, 7, 23, 30)
    assert next_business_instant(office(), saturday_night) == utc(2026, 3, 9, 9, 0)
    assert add_business_seconds(office(), saturday_night, HOUR) == utc(2026, 3, 9, 10, 0)


def test_holidays_are_closed_days() -> None:
    monday = date(2026, 3, 9)
    cal = office(holidays=(monday,))
    assert add_business_seconds(cal, utc(2026, 3, 6, 16, 0), 2 * HOUR) == utc(2026, 3, 10, 10, 0)


def test_several_intervals_a_day_leave_the_lunch_break_out() -> None:
    split = [[(9 * 60, 12 * 60), (13 * 60, 17 * 60)]] * 5 + [[], []]
    cal = Calendar.build(timezone="UTC", weekly=split)
    assert add_business_seconds(cal, utc(2026, 3, 3, 11, 0), 2 * HOUR) == utc(2026, 3, 3, 14, 0)
    assert business_seconds_between(cal, utc(2026, 3, 3, 11, 0), utc(2026, 3, 3, 14, 0)) == 2 * HOUR


def test_business_seconds_between_counts_only_open_time() -> None:
    # Friday 16:00 to Monday 10:00 holds two business hours.
    assert business_seconds_between(office(), utc(2026, 3, 6, 16, 0), utc(2026, 3, 9, 10, 0)) == 2 * HOUR
    assert business_seconds_between(office(), utc(2026, 3, 9, 10, 0), utc(2026, 3, 6, 16, 0)) == 0


def test_business_hours_follow_the_schedules_time_zone() -> None:
    # 09:00 in Berlin is 08:00 UTC in winter.
    cal = office("Europe/Berlin")
    assert next_business_instant(cal, utc(2026, 1, 13, 6, 0)) == utc(2026, 1, 13, 8, 0)


def test_the_spring_forward_day_keeps_business_hours_on_the_wall_clock_in_europe() -> None:
    # Berlin moves to summer time on Sunday 2026-03-29; Monday 09:00 is then 07:00 UTC.
    cal = office("Europe/Berlin")
    friday = datetime(2026, 3, 27, 16, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    due = add_business_seconds(cal, friday, 2 * HOUR)
    assert due == datetime(2026, 3, 30, 10, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    assert due.astimezone(UTC) == utc(2026, 3, 30, 8, 0)


def test_a_day_of_twenty_three_hours_counts_twenty_three_hours_on_a_247_schedule_in_new_york() -> None:
    # New York springs forward on 2026-03-08: that local day has 23 hours.
    cal = Calendar.build(timezone="America/New_York", weekly=[[(0, 24 * 60)]] * 7)
    ny = ZoneInfo("America/New_York")
    start = datetime(2026, 3, 8, 0, 0, tzinfo=ny)
    end = datetime(2026, 3, 9, 0, 0, tzinfo=ny)
    assert business_seconds_between(cal, start, end) == 23 * HOUR


def test_a_day_of_twenty_five_hours_in_autumn() -> None:
    cal = Calendar.build(timezone="America/New_York", weekly=[[(0, 24 * 60)]] * 7)
    ny = ZoneInfo("America/New_York")
    assert (
        business_seconds_between(cal, datetime(2026, 11, 1, tzinfo=ny), datetime(2026, 11, 2, tzinfo=ny)) == 25 * HOUR
    )


def test_twenty_four_seven_is_plain_elapsed_time() -> None:
    cal = Calendar.twenty_four_seven()
    assert add_business_seconds(cal, utc(2026, 3, 3, 8, 0), 90 * 60) == utc(2026, 3, 3, 9, 30)
    assert business_seconds_between(cal, utc(2026, 3, 3, 8, 0), utc(2026, 3, 4, 8, 0)) == 24 * HOUR


def test_a_pause_after_the_due_instant_changes_nothing() -> None:
    due = preview_due(
        Calendar.twenty_four_seven(),
        opened_at=utc(2026, 3, 3, 8, 0),
        target_seconds=HOUR,
        pauses=[Pause(utc(2026, 3, 3, 12, 0), utc(2026, 3, 3, 13, 0))],
    )
    assert due == utc(2026, 3, 3, 9, 0)


def test_a_pause_across_the_night_on_business_hours_moves_due_by_business_time_only() -> None:
    # Opened Tue 16:00 with 2 business hours; paused Tue 16:30 to Wed 10:00 (only 1.5 open hours of it).
    due = preview_due(
        office(),
        opened_at=utc(2026, 3, 3, 16, 0),
        target_seconds=2 * HOUR,
        pauses=[Pause(utc(2026, 3, 3, 16, 30), utc(2026, 3, 4, 10, 0))],
    )
    assert due == utc(2026, 3, 4, 11, 30)


@pytest.mark.parametrize(
    ("weekly", "message"),
    [
        ([[(9 * 60, 12 * 60), (11 * 60, 13 * 60)]] + [[]] * 6, "overlap"),
        ([[(22 * 60, 2 * 60)]] + [[]] * 6, "crossing midnight"),
        ([[]] * 7, "no business hours"),
        ([[(9 * 60, 17 * 60)]] * 6, "seven days"),
    ],
)
def test_a_bad_schedule_is_refused_with_a_reason(weekly: list[list[tuple[int, int]]], message: str) -> None:
    with pytest.raises(CalendarError, match=message):
        Calendar.build(timezone="UTC", weekly=weekly)


def test_an_unknown_time_zone_is_refused() -> None:
    with pytest.raises(CalendarError, match="Unknown time zone"):
        Calendar.build(timezone="Mars/Olympus_Mons", weekly=NINE_TO_FIVE)


def test_naive_instants_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        add_business_seconds(office(), datetime(2026, 3, 3, 10, 0), HOUR)


def test_a_schedule_open_only_on_holidays_is_reported_never_open() -> None:
    mondays_only = [[(9 * 60, 17 * 60)]] + [[]] * 6
    start = date(2026, 3, 2)
    every_monday = tuple(start + timedelta(weeks=w) for w in range(200))
    cal = Calendar.build(timezone="UTC", weekly=mondays_only, holidays=every_monday)
    with pytest.raises(CalendarError, match="never open"):
        add_business_seconds(cal, utc(2026, 3, 2, 8, 0), HOUR)
