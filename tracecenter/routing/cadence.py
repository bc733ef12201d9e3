"""When to try again after an attempt that did not reach the person: the retry cadence.

Plain Python (no Django). Attempts are spread across times of day, because people who do not answer
at noon often do in the evening (New York's tracers completed about 4 points more calls at 6-9 pm than
at noon-3 pm): each step waits at least its gap, and an evening step then waits for the evening
hours. Every time is moved into the person's calling window (core/calling_windows.py).

A cadence is written as gaps in hours, an `e` marking an evening step: "2,3e,16,3e" tries two hours
later, then in the evening at least three hours after that, then the next day, then its evening;
the last step repeats until the attempts run out.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from tracecenter.core.calling_windows import CallingWindow

MAX_STEPS = 20
MAX_GAP_HOURS = 24 * 7


@dataclasses.dataclass(frozen=True)
class Step:
    gap: dt.timedelta
    evening: bool = False


class CadenceError(ValueError):
    pass


def parse(text: str) -> tuple[Step, ...]:
    """Steps from their written form; a mistake is named with the step where it is."""
    parts = [part.strip() for part in text.split(",")]
    if not text.strip() or len(parts) > MAX_STEPS:
        raise CadenceError(f"a retry cadence has 1 to {MAX_STEPS} steps separated by commas")
    steps = []
    for number, part in enumerate(parts, start=1):
        evening = part.lower().endswith("e")
        hours = part[:-1] if evening else part
        try:
            value = float(hours)
        except ValueError:
            raise CadenceError(f"step {number} ({part!r}) is not a number of hours, with 'e' for an evening step") from None
        if not 0 < value <= MAX_GAP_HOURS:
            raise CadenceError(f"step {number} waits {value:g} hours: between 0 and {MAX_GAP_HOURS} are allowed")
        steps.append(Step(dt.timedelta(hours=value), evening))
    return tuple(steps)


def next_attempt(
    steps: tuple[Step, ...], *, failed: int, last: dt.datetime, window: CallingWindow, evening_from: dt.time
) -> dt.datetime:
    """When to try again after `failed` attempts in a row went unanswered, the last of them at `last`."""
    step = steps[min(max(failed, 1), len(steps)) - 1]
    earliest = last + step.gap
    if step.evening:
        return window.at_or_after(earliest, evening_from)
    return window.next_open(earliest)
