"""Length limits said out loud, never applied in silence.

A browser cuts text pasted into a box with a `maxlength` at that length, without a word: a tracer who
pasted long notes or a long name saved a cut copy and never knew. So the forms give browsers no
`maxlength`; the server checks the length and refuses, naming the field, its limit and the length
typed, and nothing is cut.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.validators import MaxLengthValidator
from django.utils.translation import gettext as _


class SaysItsLimits(forms.BaseForm):
    """A form whose text fields have no `maxlength` in the page and whose length errors name the field."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.widget.attrs.pop("maxlength", None)
            limit = getattr(field, "max_length", None)
            if limit is None:
                continue
            # A new validator (the field's list is shared with the form class's field): same limit, clear words.
            message = _(
                "%(field)s: at most %(limit)s characters (this has %(length)s). Nothing was cut: shorten it and save again."
            ) % {"field": field.label, "limit": "%(limit_value)d", "length": "%(show_value)d"}
            field.validators = [
                MaxLengthValidator(limit, message=message) if isinstance(v, MaxLengthValidator) else v for v in field.validators
            ]
