"""The list of every error of a submitted page, shown at its top, each linking to the field at fault.

A long form (the interview: facts, places, contacts) whose errors are shown only beside their fields
makes the tracer scroll to find them; the summary names each one and jumps to its field.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from django import forms
from django.utils.translation import gettext as _


@dataclasses.dataclass(frozen=True)
class SummaryItem:
    anchor: str  # the id of the element the link goes to: the field's control, else its row or section
    where: str  # "Contact 2, Last exposure"
    message: str


def form_errors(form: forms.BaseForm, *, where: str = "", anchor: str) -> list[SummaryItem]:
    """The errors of one form, in the order of its fields; errors of no field link to `anchor`."""
    items = [SummaryItem(anchor=anchor, where=where, message=str(m)) for m in form.non_field_errors()]
    for bound in form:
        label = str(bound.label)
        named = f"{where}, {label}" if where else label
        items += [SummaryItem(anchor=bound.auto_id or anchor, where=named, message=str(m)) for m in bound.errors]
    return items


def formset_errors(formset: forms.BaseFormSet, *, row_name: str, anchor: str) -> list[SummaryItem]:
    """The errors of a repeating section: of the section (`anchor`), then of each row, numbered from 1 as shown."""
    items = [SummaryItem(anchor=anchor, where="", message=str(m)) for m in formset.non_form_errors()]
    for index, form in enumerate(formset.forms):
        if form.is_bound and form.errors:
            items += form_errors(form, where=row_name % {"n": index + 1}, anchor=anchor)
    return items


def summary(*parts: Iterable[SummaryItem]) -> list[SummaryItem]:
    return [item for part in parts for item in part]


def interview_summary(facts: forms.BaseForm, visits: forms.BaseFormSet, contacts: forms.BaseFormSet) -> list[SummaryItem]:
    """Every error of a submitted interview, in the order the page shows the fields."""
    facts_items = form_errors(facts, anchor="interview-form")
    notes = [item for item in facts_items if item.anchor == facts["notes"].auto_id]
    return summary(
        [item for item in facts_items if item not in notes],
        formset_errors(visits, row_name=_("Place %(n)d"), anchor="visits-section"),
        formset_errors(contacts, row_name=_("Contact %(n)d"), anchor="contacts-section"),
        notes,  # the notes come last on the page
    )
