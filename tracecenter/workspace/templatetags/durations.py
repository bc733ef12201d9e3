"""A length of time as a supervisor reads it at a glance: "40 s", "12 min", "3 h 05 min", "2 d 4 h"."""

from __future__ import annotations

import datetime as dt

from django import template
from django.utils.translation import gettext as _

register = template.Library()


@register.filter
def duration(value: dt.timedelta | None) -> str:
    if value is None:
        return ""
    seconds = max(int(value.total_seconds()), 0)
    minutes, hours, days = seconds // 60, seconds // 3600, seconds // 86400
    if seconds < 60:
        return _("%(s)d s") % {"s": seconds}
    if minutes < 60:
        return _("%(m)d min") % {"m": minutes}
    if hours < 24:
        return _("%(h)d h %(m)02d min") % {"h": hours, "m": minutes % 60}
    return _("%(d)d d %(h)d h") % {"d": days, "h": hours % 24}
