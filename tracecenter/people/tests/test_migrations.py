from collections.abc import Iterator

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("people", "0002_person_created_by"), ("audit", "0002_append_only_trigger")]
AFTER = [("people", "0003_backfill_person_created_by"), ("audit", "0002_append_only_trigger")]


@pytest.fixture(autouse=True)
def back_to_latest() -> Iterator[None]:
    """Leave the schema as the other tests expect it, whatever happens here."""
    yield
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_persons_entered_before_the_column_get_their_creator_from_the_audit_trail(county, make_user):
    creator = make_user("contact_tracer", county)
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    apps = executor.loader.project_state(BEFORE).apps
    Person = apps.get_model("people", "Person")
    AuditEntry = apps.get_model("audit", "AuditEntry")
    entered = Person.objects.create(
        jurisdiction_id=county.pk, first_name="A", last_name="B", first_name_bidx="x", last_name_bidx="y"
    )
    orphan = Person.objects.create(
        jurisdiction_id=county.pk, first_name="C", last_name="D", first_name_bidx="x", last_name_bidx="z"
    )
    AuditEntry.objects.create(
        at="2026-01-01T00:00:00Z",
        actor_id=creator.pk,
        action="create",
        object_type="person",
        object_id=str(entered.pk),
        entry_hash="0" * 64,
    )

    executor = MigrationExecutor(connection)
    executor.migrate(AFTER)
    apps = executor.loader.project_state(AFTER).apps
    Person = apps.get_model("people", "Person")
    assert Person.objects.get(pk=entered.pk).created_by_id == creator.pk
    assert Person.objects.get(pk=orphan.pk).created_by_id is None


@pytest.mark.django_db(transaction=True)
def test_persons_entered_before_matching_get_their_blocking_keys(county):
    import datetime as dt

    from tracecenter.people.identity import key_hash, match_keys_of

    before = [("people", "0004_matching_and_merges")]
    after = [("people", "0005_backfill_match_keys")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    Person = executor.loader.project_state(before).apps.get_model("people", "Person")
    person = Person.objects.create(
        jurisdiction_id=county.pk,
        first_name="Ana",
        last_name="García",
        date_of_birth=dt.date(1985, 3, 14),
        first_name_bidx="x",
        last_name_bidx="y",
    )
    executor = MigrationExecutor(connection)
    executor.migrate(after)
    PersonMatchKey = executor.loader.project_state(after).apps.get_model("people", "PersonMatchKey")
    stored = set(PersonMatchKey.objects.filter(person_id=person.pk).values_list("key", flat=True))
    expected = {key_hash(k) for k in match_keys_of(first_name="Ana", last_name="García", date_of_birth=dt.date(1985, 3, 14))}
    assert stored == expected and stored


@pytest.mark.django_db(transaction=True)
def test_reviews_queued_before_are_routed_where_a_reviewer_covers_both_records_and_back(state, county, other_county, make_person):
    from tracecenter.people.identity import match_review_open

    north = make_person(county)
    south = make_person(other_county)
    neighbour = make_person(county, first_name="Anita")
    across = match_review_open(
        jurisdiction_id=county.pk, incoming_id=north.pk, candidate_id=south.pk, score=9.0, comparison=[], source="t"
    )
    within = match_review_open(
        jurisdiction_id=county.pk, incoming_id=neighbour.pk, candidate_id=north.pk, score=9.0, comparison=[], source="t"
    )
    before = [("people", "0006_match_key_index")]
    after = [("people", "0007_route_reviews_to_a_covering_jurisdiction")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    executor = MigrationExecutor(connection)
    executor.migrate(after)
    MatchReview = executor.loader.project_state(after).apps.get_model("people", "MatchReview")
    assert MatchReview.objects.get(pk=across.pk).jurisdiction_id == state.pk
    assert MatchReview.objects.get(pk=within.pk).jurisdiction_id == county.pk
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    MatchReview = executor.loader.project_state(before).apps.get_model("people", "MatchReview")
    assert set(MatchReview.objects.values_list("jurisdiction_id", flat=True)) == {county.pk}


@pytest.mark.django_db(transaction=True)
def test_persons_are_filed_again_under_version_3_keys_with_the_surname_search_key(county):
    import datetime as dt

    from tracecenter.people.identity import key_hash, match_keys_of, search_keys_of

    before = [("people", "0010_match_weights")]
    after = [("people", "0011_match_keys_version_3")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    apps = executor.loader.project_state(before).apps
    values = {
        "first_name": "Ana",
        "last_name": "Johnson",
        "date_of_birth": dt.date(1985, 3, 14),
        "postal_code": "02139",
        "city": "Cambridge",
    }
    person = apps.get_model("people", "Person").objects.create(
        jurisdiction_id=county.pk, first_name_bidx="x", last_name_bidx="y", **values
    )
    # A version 2 key, no longer made: removed.
    apps.get_model("people", "PersonMatchKey").objects.create(person_id=person.pk, key=key_hash("pc_ln:02139:JNSN"))
    executor = MigrationExecutor(connection)
    executor.migrate(after)
    PersonMatchKey = executor.loader.project_state(after).apps.get_model("people", "PersonMatchKey")
    stored = set(PersonMatchKey.objects.filter(person_id=person.pk).values_list("key", flat=True))
    assert stored == {key_hash(k) for k in match_keys_of(**values) | search_keys_of(**values)}
    # The surname's sound is filed: "Jonson" typed alone finds her.
    assert {key_hash(k) for k in search_keys_of(last_name="Jonson")} <= stored
