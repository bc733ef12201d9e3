"""The comma-separated `languages` of users become UserLanguage rows, and back."""

from collections.abc import Iterator

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("accounts", "0002_languages_skills_password_change")]
AFTER = [("accounts", "0003_backfill_user_languages")]


@pytest.fixture(autouse=True)
def back_to_latest() -> Iterator[None]:
    """Leave the schema as the other tests expect it, whatever happens here."""
    yield
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


def _migrate(target):
    executor = MigrationExecutor(connection)
    executor.migrate(target)
    return executor.loader.project_state(target).apps


@pytest.mark.django_db(transaction=True)
def test_each_language_of_the_old_string_becomes_a_fluent_language_and_goes_back(county):
    apps = _migrate(BEFORE)
    User = apps.get_model("accounts", "User")
    written = {
        "two": "en,es",
        "spaced": " Spanish ; vi ",
        "noise": "xx-garbage,en,EN",
        "none": "",
    }
    ids = {
        name: User.objects.create(username=name, languages=value, jurisdiction_id=county.pk).pk for name, value in written.items()
    }

    apps = _migrate(AFTER)
    UserLanguage = apps.get_model("accounts", "UserLanguage")

    def spoken(name):
        return dict(UserLanguage.objects.filter(user_id=ids[name]).values_list("language", "proficiency"))

    assert spoken("two") == {"en": "fluent", "es": "fluent"}
    assert spoken("spaced") == {"es": "fluent", "vi": "fluent"}
    assert spoken("noise") == {"en": "fluent"}  # what names no language is dropped, duplicates once
    assert spoken("none") == {}
    UserLanguage.objects.filter(user_id=ids["two"], language="es").update(proficiency="native")

    apps = _migrate(BEFORE)
    User = apps.get_model("accounts", "User")
    back = dict(User.objects.filter(pk__in=ids.values()).values_list("username", "languages"))
    assert back == {"two": "es,en", "spaced": "es,vi", "noise": "en", "none": ""}  # best spoken first


@pytest.mark.django_db(transaction=True)
def test_the_whole_chain_unapplies_to_the_old_column_and_applies_again(county):
    apps = _migrate([("accounts", "0004_remove_user_languages")])
    User = apps.get_model("accounts", "User")
    UserLanguage = apps.get_model("accounts", "UserLanguage")
    user = User.objects.create(username="ana", jurisdiction_id=county.pk)
    UserLanguage.objects.create(user_id=user.pk, language="es", proficiency="native")

    apps = _migrate([("accounts", "0001_initial")])
    assert apps.get_model("accounts", "User").objects.get(pk=user.pk).languages == "es"

    apps = _migrate([("accounts", "0004_remove_user_languages")])
    assert list(apps.get_model("accounts", "UserLanguage").objects.values_list("language", flat=True)) == ["es"]
