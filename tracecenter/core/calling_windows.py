"""When a person may be called or texted: the jurisdiction's calling hours in the person's local time.

Below routing on purpose: routing offers outbound work only inside the window, and the channels
(texts, calls) check the same window before they send or dial. Plain Python (no Django), so both
can use it anywhere and tests can travel across days, time zones and daylight-saving changes.

A person's time zone comes from the state of their address (the main zone of that state: a
handful of states span two zones, and the address alone does not say which); without one, the
jurisdiction's.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# The main IANA zone of each US state, district and territory (USPS codes).
STATE_ZONES: dict[str, str] = {
    "AL": "America/Chicago",
    "AK": "America/Anchorage",
    "AZ": "America/Phoenix",
    "AR": "America/Chicago",
    "CA": "America/Los_Angeles",
    "CO": "America/Denver",
    "CT": "America/New_York",
    "DE": "America/New_York",
    "DC": "America/New_York",
    "FL": "America/New_York",
    "GA": "America/New_York",
    "HI": "Pacific/Honolulu",
    "ID": "America/Boise",
    "IL": "America/Chicago",
    "IN": "America/Indiana/Indianapolis",
    "IA": "America/Chicago",
    "KS": "America/Chicago",
    "KY": "America/New_York",
    "LA": "America/Chicago",
    "ME": "America/New_York",
    "MD": "America/New_York",
    "MA": "America/New_York",
    "MI": "America/Detroit",
    "MN": "America/Chicago",
    "MS": "America/Chicago",
    "MO": "America/Chicago",
    "MT": "America/Denver",
    "NE": "America/Chicago",
    "NV": "America/Los_Angeles",
    "NH": "America/New_York",
    "NJ": "America/New_York",
    "NM": "America/Denver",
    "NY": "America/New_York",
    "NC": "America/New_York",
    "ND": "America/Chicago",
    "OH": "America/New_York",
    "OK": "America/Chicago",
    "OR": "America/Los_Angeles",
    "PA": "America/New_York",
    "RI": "America/New_York",
    "SC": "America/New_York",
    "SD": "America/Chicago",
    "TN": "America/Chicago",
    "TX": "America/Chicago",
    "UT": "America/Denver",
    "VT": "America/New_York",
    "VA": "America/New_York",
    "WA": "America/Los_Angeles",
    "WV": "America/New_York",
    "WI": "America/Chicago",
    "WY": "America/Denver",
    "PR": "America/Puerto_Rico",
    "VI": "America/St_Thomas",
    "GU": "Pacific/Guam",
    "MP": "Pacific/Saipan",
    "AS": "Pacific/Pago_Pago",
}

DEFAULT_START = dt.time(9, 0)
DEFAULT_END = dt.time(21, 0)


def zone_named(name: str, fallback: str = "UTC") -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(fallback)


def person_zone(state: str, fallback: str) -> str:
    """The IANA zone to call a person in: their address's state's, else `fallback` (the jurisdiction's)."""
    return STATE_ZONES.get(state.strip().upper(), fallback)


@dataclasses.dataclass(frozen=True)
class CallingWindow:
    """Calls and texts between `start` and `end` local time (in `zone`), every day; `start` before `end`."""

    start: dt.time
    end: dt.time
    zone: ZoneInfo

    def __post_init__(self) -> None:
        if not self.start < self.end:
            raise ValueError("a calling window starts before it ends, on the same day")

    def contains(self, moment: dt.datetime) -> bool:
        local = moment.astimezone(self.zone).time()
        return self.start <= local < self.end

    def _at(self, day: dt.date, time: dt.time) -> dt.datetime:
        # A wall-clock time that a daylight-saving change skips is taken as the instant after the gap.
        return dt.datetime.combine(day, time, tzinfo=self.zone)

    def next_open(self, moment: dt.datetime) -> dt.datetime:
        """`moment` if the window is open then, else when it next opens."""
        if self.contains(moment):
            return moment
        local = moment.astimezone(self.zone)
        day = local.date()
        if local.time() >= self.end:
            day += dt.timedelta(days=1)
        return self._at(day, self.start).astimezone(moment.tzinfo or dt.UTC)

    def closes_after(self, moment: dt.datetime) -> dt.datetime:
        """When the window that is open at `moment` closes (a moment outside: the end of the next window)."""
        opened = self.next_open(moment).astimezone(self.zone)
        return self._at(opened.date(), self.end).astimezone(moment.tzinfo or dt.UTC)

    def at_or_after(self, moment: dt.datetime, local_time: dt.time) -> dt.datetime:
        """The first moment from `moment` on that is `local_time` or later on a local day and inside the window
        (a `local_time` at or after the window's end asks for nothing the window allows: then its next opening)."""
        if local_time >= self.end:
            return self.next_open(moment)
        local = moment.astimezone(self.zone)
        wanted = self._at(local.date(), max(local_time, self.start))
        if wanted < moment:
            wanted = moment
        if wanted.astimezone(self.zone).time() >= self.end:
            wanted = self._at(local.date() + dt.timedelta(days=1), max(local_time, self.start))
        return self.next_open(wanted).astimezone(moment.tzinfo or dt.UTC)
