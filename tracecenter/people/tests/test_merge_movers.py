"""A merge moves every record of a person, each app moving its own rows."""

from __future__ import annotations

from tracecenter.people.merge import movers
from tracecenter.people.models import MatchReview, Person, PersonMatchKey, PersonMerge, PersonNameChange

# The registry's own bookkeeping of identity: re-computed or kept as history, never moved.
IDENTITY = {Person, PersonMatchKey, MatchReview, PersonMerge, PersonNameChange}


def test_every_model_that_points_at_a_person_has_a_mover_registered_by_its_app():
    pointing = {
        f"{rel.related_model._meta.label_lower}.{rel.field.name}"
        for rel in Person._meta.related_objects
        if rel.one_to_many and rel.field.concrete and rel.related_model not in IDENTITY
    }
    assert pointing, "no relation found: the test would prove nothing"
    assert pointing - set(movers()) == set(), "an app keeps rows pointing at persons: register a mover in its AppConfig.ready"
    # Each app registers its own: the mover's label starts with the app that owns the model.
    assert {label.split(".")[0] for label in movers()} == {"people", "intake", "cases", "contacts"}
