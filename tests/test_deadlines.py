"""Business-time arithmetic (sla.deadlines), with the worked examples of SLA.md."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sla.deadlines import (
    Calendar,
    CalendarError,
    Pause,
    add_business_seconds,
    business_seconds_between,
    explain_due,
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


# ---------------------------------------------------------------- more of our own

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


def test_a_week_long_target_on_office_hours_counts_five_working_days() -> None:
    monday_nine = utc(2026, 3, 2, 9, 0)
    assert add_business_seconds(office(), monday_nine, 40 * HOUR) == utc(2026, 3, 6, 17, 0)
    assert add_business_seconds(office(), monday_nine, 40 * HOUR + 1) == utc(2026, 3, 9, 9, 0, 1)


def test_a_range_of_holidays_closes_every_day_in_it() -> None:
    # Christmas to New Year closed: a ticket opened on the 23rd afternoon waits until 2 January.
    closed = tuple(date(2026, 12, 24) + timedelta(days=d) for d in range(9))  # 24 Dec - 1 Jan
    cal = office(holidays=closed)
    assert add_business_seconds(cal, utc(2026, 12, 23, 16, 0), 2 * HOUR) == utc(2027, 1, 4, 10, 0)
    assert business_seconds_between(cal, utc(2026, 12, 23, 16, 0), utc(2027, 1, 4, 10, 0)) == 2 * HOUR


def test_a_holiday_is_a_local_date_in_the_schedules_time_zone() -> None:
    # 2026-05-01 is a holiday in Berlin: 23:30 UTC on 30 April is already the 1st there.
    cal = office("Europe/Berlin", holidays=(date(2026, 5, 1),))
    assert next_business_instant(cal, utc(2026, 4, 30, 23, 30)) == datetime(2026, 5, 4, 9, 0, tzinfo=BERLIN)


def test_a_pause_spanning_several_days_counts_only_the_business_time_outside_it() -> None:
    # Opened Monday 09:00 with 8 business hours; waiting on the customer Monday 13:00 to
    # Wednesday 11:00. Four hours counted Monday, the other four from Wednesday 11:00.
    explained = explain_due(
        office(),
        opened_at=utc(2026, 3, 2, 9, 0),
        target_seconds=8 * HOUR,
        pauses=[Pause(utc(2026, 3, 2, 13, 0), utc(2026, 3, 4, 11, 0))],
    )
    assert explained.due_at == utc(2026, 3, 4, 15, 0)
    assert explained.counted == (
        (utc(2026, 3, 2, 9, 0), utc(2026, 3, 2, 13, 0)),
        (utc(2026, 3, 4, 11, 0), utc(2026, 3, 4, 15, 0)),
    )
    assert explained.paused_seconds == (4 + 8 + 2) * HOUR


def test_overlapping_pauses_count_once() -> None:
    due = preview_due(
        Calendar.twenty_four_seven(),
        opened_at=utc(2026, 3, 3, 8, 0),
        target_seconds=2 * HOUR,
        pauses=[
            Pause(utc(2026, 3, 3, 9, 0), utc(2026, 3, 3, 10, 0)),
            Pause(utc(2026, 3, 3, 9, 30), utc(2026, 3, 3, 10, 30)),
        ],
    )
    assert due == utc(2026, 3, 3, 11, 30)


def test_a_pause_that_ends_before_it_starts_is_refused() -> None:
    with pytest.raises(ValueError, match="end after it starts"):
        preview_due(
            Calendar.twenty_four_seven(),
            opened_at=utc(2026, 3, 3, 8, 0),
            target_seconds=HOUR,
            pauses=[Pause(utc(2026, 3, 3, 10, 0), utc(2026, 3, 3, 9, 0))],
        )


def test_office_hours_in_new_york_follow_the_wall_clock_across_the_spring_change() -> None:
    # New York springs forward on Sunday 2026-03-08: Friday 16:00 EST + 2 h is Monday 10:00 EDT.
    cal = office("America/New_York")
    friday = datetime(2026, 3, 6, 16, 0, tzinfo=NEW_YORK)
    due = add_business_seconds(cal, friday, 2 * HOUR)
    assert due == datetime(2026, 3, 9, 10, 0, tzinfo=NEW_YORK)
    assert due.astimezone(UTC) == utc(2026, 3, 9, 14, 0)  # 21:00 UTC on Friday, 14:00 UTC on Monday


def test_office_hours_in_berlin_follow_the_wall_clock_across_the_autumn_change() -> None:
    # Berlin falls back on Sunday 2026-10-25: Friday 16:00 CEST + 2 h is Monday 10:00 CET.
    cal = office("Europe/Berlin")
    due = add_business_seconds(cal, datetime(2026, 10, 23, 16, 0, tzinfo=BERLIN), 2 * HOUR)
    assert due == datetime(2026, 10, 26, 10, 0, tzinfo=BERLIN)
    assert due.astimezone(UTC) == utc(2026, 10, 26, 9, 0)


def test_a_night_shift_across_the_spring_gap_is_an_hour_shorter() -> None:
    # Open Sunday 00:00-06:00 in Berlin; on 2026-03-29 the clocks jump from 02:00 to 03:00.
    sundays = [[]] * 6 + [[(0, 6 * 60)]]
    cal = Calendar.build(timezone="Europe/Berlin", weekly=sundays)
    day = datetime(2026, 3, 29, tzinfo=BERLIN)
    assert business_seconds_between(cal, day, day + timedelta(days=1)) == 5 * HOUR


def test_an_interval_inside_the_skipped_hour_lasts_nothing_and_one_starting_in_it_starts_at_the_jump() -> None:
    gap_only = [[]] * 6 + [[(2 * 60 + 15, 2 * 60 + 45)]]
    assert Calendar.build(timezone="Europe/Berlin", weekly=gap_only).open_intervals_on(date(2026, 3, 29)) == []
    from_gap = [[]] * 6 + [[(2 * 60 + 30, 4 * 60)]]
    intervals = Calendar.build(timezone="Europe/Berlin", weekly=from_gap).open_intervals_on(date(2026, 3, 29))
    # The clocks jump at 01:00 UTC (02:00 CET -> 03:00 CEST); 04:00 CEST is 02:00 UTC.
    assert intervals == [(utc(2026, 3, 29, 1, 0), utc(2026, 3, 29, 2, 0))]


def test_a_repeated_hour_in_autumn_counts_twice_on_a_night_shift_in_america() -> None:
    # New York falls back on 2026-11-01 at 02:00 EDT -> 01:00 EST: 00:00-04:00 lasts five hours.
    nights = [[(0, 4 * 60)]] * 7
    cal = Calendar.build(timezone="America/New_York", weekly=nights)
    day = datetime(2026, 11, 1, tzinfo=NEW_YORK)
    assert business_seconds_between(cal, day, day + timedelta(days=1)) == 5 * HOUR


def test_a_calendar_survives_the_trip_through_a_background_task() -> None:
    cal = office("Europe/Berlin", holidays=(date(2026, 12, 25),))
    assert Calendar.from_dict(cal.to_dict()) == cal
    assert Calendar.from_dict(Calendar.twenty_four_seven().to_dict()).always_open


@given(
    opened_minute=st.integers(0, 14 * 24 * 60),
    target_minutes=st.integers(0, 60 * 60),
    pauses=st.lists(st.tuples(st.integers(0, 20 * 24 * 60), st.integers(0, 3 * 24 * 60)), max_size=4),
    zone=st.sampled_from(["UTC", "Europe/Berlin", "America/New_York"]),
)
@settings(max_examples=150, deadline=None)
def test_the_explained_due_instant_counts_exactly_the_target_outside_the_pauses(
    opened_minute: int, target_minutes: int, pauses: list[tuple[int, int]], zone: str
) -> None:
    cal = office(zone)
    start = utc(2026, 3, 1) + timedelta(minutes=opened_minute)
    windows = [
        Pause(utc(2026, 3, 1) + timedelta(minutes=a), utc(2026, 3, 1) + timedelta(minutes=a + n)) for a, n in pauses
    ]
    explained = explain_due(cal, opened_at=start, target_seconds=target_minutes * 60, pauses=windows)
    assert sum(int((b - a).total_seconds()) for a, b in explained.counted) == target_minutes * 60
    assert explained.due_at >= start
    for a, b in explained.counted:
        assert business_seconds_between(cal, a, b) == int((b - a).total_seconds())  # all open time
        assert not any(p.start < b and a < p.end for p in windows)  # none of it paused
    if not pauses:
        assert explained.due_at == add_business_seconds(cal, start, target_minutes * 60)
