"""Business-time arithmetic: pure functions, no database.

A `Calendar` is a time zone, weekly open intervals (minutes of the local day, several a day,
none crossing midnight) and holidays. Instants in and out are aware datetimes; the
arithmetic runs on each local day's intervals converted to UTC, so that a day of 23 or 25
hours (daylight-saving changes) counts what the wall clock says it should.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from typing import Any

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
DAY_MINUTES = 24 * 60
# How far to look for the next open minute before deciding a calendar is never open.
MAX_CLOSED_DAYS = 3 * 366


class CalendarError(ValueError):
    pass


Interval = tuple[int, int]


@dataclass(frozen=True)
class Calendar:
    tz: zoneinfo.ZoneInfo
    weekly: tuple[tuple[Interval, ...], ...]
    holidays: frozenset[date] = field(default_factory=frozenset)
    always_open: bool = False

    @classmethod
    def twenty_four_seven(cls) -> Calendar:
        return cls(tz=zoneinfo.ZoneInfo("UTC"), weekly=((((0, DAY_MINUTES),),) * 7), always_open=True)

    @classmethod
    def build(cls, *, timezone: str, weekly: Iterable[Iterable[Interval]], holidays: Iterable[date] = ()) -> Calendar:
        """Validate and normalise a schedule. Raises CalendarError naming the problem."""
        try:
            tz = zoneinfo.ZoneInfo(timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            raise CalendarError(f"Unknown time zone {timezone!r}.") from exc
        days = [sorted(day) for day in weekly]
        if len(days) != 7:
            raise CalendarError("A week has seven days (Monday first).")
        for weekday, intervals in enumerate(days):
            for start, end in intervals:
                if not 0 <= start < DAY_MINUTES or not 0 < end <= DAY_MINUTES:
                    raise CalendarError(f"{WEEKDAYS[weekday]}: times must lie within the day.")
                if end <= start:
                    raise CalendarError(
                        f"{WEEKDAYS[weekday]}: an interval must end after it starts (no crossing midnight)."
                    )
            for (_, prev_end), (next_start, _) in pairwise(intervals):
                if next_start < prev_end:
                    raise CalendarError(f"{WEEKDAYS[weekday]}: intervals overlap.")
        if not any(days):
            raise CalendarError("The schedule has no business hours.")
        return cls(tz=tz, weekly=tuple(tuple(d) for d in days), holidays=frozenset(holidays))

    def to_dict(self) -> dict[str, object]:
        """A JSON-safe description (to hand a calendar to a background task)."""
        return {
            "timezone": self.tz.key,
            "weekly": [[list(interval) for interval in day] for day in self.weekly],
            "holidays": sorted(day.isoformat() for day in self.holidays),
            "always_open": self.always_open,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Calendar:
        if data.get("always_open"):
            return cls.twenty_four_seven()
        return cls.build(
            timezone=data["timezone"],
            weekly=[[(int(a), int(b)) for a, b in day] for day in data["weekly"]],
            holidays=[date.fromisoformat(day) for day in data["holidays"]],
        )

    def open_intervals_on(self, day: date) -> list[tuple[datetime, datetime]]:
        """The open intervals of one local day, as UTC instants."""
        if day in self.holidays:
            return []
        result = []
        for start, end in self.weekly[day.weekday()]:
            a = self._instant(day, start)
            b = self._instant(day, end)
            if b > a:
                result.append((a, b))
        return result

    def _instant(self, day: date, minute: int) -> datetime:
        if minute >= DAY_MINUTES:
            day, minute = day + timedelta(days=1), minute - DAY_MINUTES
        return local_to_utc(datetime.combine(day, time(minute // 60, minute % 60)), self.tz)


def local_to_utc(wall: datetime, tz: zoneinfo.ZoneInfo) -> datetime:
    """The UTC instant a naive wall-clock time names in `tz`.

    A time repeated when the clocks go back names its first occurrence. A time skipped when
    they go forward names the instant of the jump, so that an interval that would begin or
    end inside the gap is cut at the jump (an interval wholly inside it lasts nothing),
    instead of being shifted an hour later as a plain conversion would do.
    """
    first = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if first.astimezone(tz).replace(tzinfo=None) == wall:
        return first
    # In the gap, fold=0 reads the wall time with the offset from before the change (an
    # instant after the jump) and fold=1 with the offset after it (an instant before): the
    # jump lies between. Search it to the second.
    low = int(wall.replace(tzinfo=tz, fold=1).astimezone(UTC).timestamp())
    high = int(first.timestamp())
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, tz).replace(tzinfo=None) >= wall:
            high = middle
        else:
            low = middle
    return datetime.fromtimestamp(high, UTC)


def _require_aware(*instants: datetime) -> None:
    for instant in instants:
        if instant.tzinfo is None:
            raise ValueError("Instants must be timezone-aware.")


def _intervals_from(cal: Calendar, start: datetime) -> Iterator[tuple[datetime, datetime]]:
    """Open intervals (UTC) from `start` on, the first one clipped to begin at `start`."""
    day = start.astimezone(cal.tz).date()
    closed_days = 0
    while True:
        intervals = cal.open_intervals_on(day)
        if intervals:
            closed_days = 0
        else:
            closed_days += 1
            if closed_days > MAX_CLOSED_DAYS:
                raise CalendarError("The schedule is never open.")
        for a, b in intervals:
            if b <= start:
                continue
            yield max(a, start), b
        day += timedelta(days=1)


def add_business_seconds(cal: Calendar, start: datetime, seconds: float) -> datetime:
    """The instant at which `seconds` of business time have passed since `start`.

    With seconds == 0 this is the next business instant at or after `start`.
    """
    _require_aware(start)
    if seconds < 0:
        raise ValueError("seconds must not be negative")
    if cal.always_open:
        return start + timedelta(seconds=seconds)
    remaining = timedelta(seconds=seconds)
    for a, b in _intervals_from(cal, start):
        if remaining <= b - a:
            return a + remaining
        remaining -= b - a
    raise AssertionError("unreachable: _intervals_from never ends")  # pragma: no cover


def next_business_instant(cal: Calendar, instant: datetime) -> datetime:
    return add_business_seconds(cal, instant, 0)


def business_seconds_between(cal: Calendar, start: datetime, end: datetime) -> int:
    """Business seconds in [start, end); 0 when end is not after start."""
    _require_aware(start, end)
    if end <= start:
        return 0
    if cal.always_open:
        return int((end - start).total_seconds())
    total = timedelta()
    for a, b in _intervals_from(cal, start):
        if a >= end:
            break
        total += min(b, end) - a
    return int(total.total_seconds())


@dataclass(frozen=True)
class Pause:
    start: datetime
    end: datetime


@dataclass(frozen=True)
class DueExplanation:
    """When a target falls due, and the arithmetic behind it (for the preview)."""

    due_at: datetime
    target_seconds: int
    # The business intervals counted towards the target, in order (UTC).
    counted: tuple[tuple[datetime, datetime], ...]
    # Business time that fell inside pauses before the due instant, and was not counted.
    paused_seconds: int


def _merged_pauses(opened_at: datetime, pauses: Iterable[Pause]) -> list[tuple[datetime, datetime]]:
    windows: list[tuple[datetime, datetime]] = []
    for pause in sorted(pauses, key=lambda p: p.start):
        _require_aware(pause.start, pause.end)
        if pause.end < pause.start:
            raise ValueError("A pause must end after it starts.")
        start, end = max(pause.start, opened_at), pause.end
        if end <= start:
            continue
        if windows and start <= windows[-1][1]:
            windows[-1] = (windows[-1][0], max(windows[-1][1], end))
        else:
            windows.append((start, end))
    return windows


def _outside(a: datetime, b: datetime, windows: list[tuple[datetime, datetime]]) -> Iterator[tuple[datetime, datetime]]:
    """The parts of [a, b) that no window covers."""
    for x, y in windows:
        if y <= a:
            continue
        if x >= b:
            break
        if x > a:
            yield a, x
        a = max(a, y)
        if a >= b:
            return
    if a < b:
        yield a, b


def explain_due(
    cal: Calendar, *, opened_at: datetime, target_seconds: int, pauses: Iterable[Pause] = ()
) -> DueExplanation:
    """When a target falls due for a ticket opened at `opened_at` and paused as given, with
    the intervals counted. Overlapping pauses count once; a pause after the due instant has
    no effect."""
    _require_aware(opened_at)
    if target_seconds < 0:
        raise ValueError("target_seconds must not be negative")
    windows = _merged_pauses(opened_at, pauses)
    remaining = timedelta(seconds=target_seconds)
    counted: list[tuple[datetime, datetime]] = []
    due: datetime | None = None
    for a, b in _intervals_from(cal, opened_at):
        for x, y in _outside(a, b, windows):
            if remaining <= y - x:
                due = x + remaining
                if due > x:
                    counted.append((x, due))
                break
            counted.append((x, y))
            remaining -= y - x
        if due is not None:
            break
    assert due is not None  # nosec B101 (the loop above always sets due; the assert narrows the type for mypy)
    paused = sum(business_seconds_between(cal, x, min(y, due)) for x, y in windows if x < due)
    return DueExplanation(due_at=due, target_seconds=target_seconds, counted=tuple(counted), paused_seconds=paused)


def preview_due(cal: Calendar, *, opened_at: datetime, target_seconds: int, pauses: Iterable[Pause] = ()) -> datetime:
    """When a target falls due for a ticket opened at `opened_at` and paused as given."""
    return explain_due(cal, opened_at=opened_at, target_seconds=target_seconds, pauses=pauses).due_at
