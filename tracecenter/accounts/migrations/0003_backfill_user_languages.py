"""Users' comma-separated `languages` become UserLanguage rows, and back.

The old string said which languages a user speaks but not how well. Each language read from it
becomes "fluent": the user was offered work in it before, so routing keeps offering it; an
administrator can then mark the native ones. Values that name no language are dropped.
"""

import re

from django.db import migrations

from tracecenter.core.codes import normalize_language

OLD_MAX_LENGTH = 100
PROFICIENCY_RANK = {"native": 0, "fluent": 1, "conversational": 2}


def codes_of(value):
    codes = []
    for token in re.split(r"[,;/|]+", value or ""):
        code = normalize_language(token)
        if code is not None and code not in codes:
            codes.append(code)
    return codes


def forward(apps, schema_editor):
    User = apps.get_model("accounts", "User")
    UserLanguage = apps.get_model("accounts", "UserLanguage")
    rows = []
    for user_id, value in User.objects.exclude(languages="").values_list("pk", "languages").iterator(chunk_size=2000):
        rows += [UserLanguage(user_id=user_id, language=code, proficiency="fluent") for code in codes_of(value)]
    UserLanguage.objects.bulk_create(rows, batch_size=2000)


def backward(apps, schema_editor):
    User = apps.get_model("accounts", "User")
    UserLanguage = apps.get_model("accounts", "UserLanguage")
    spoken = {}
    for user_id, language, proficiency in UserLanguage.objects.values_list("user_id", "language", "proficiency"):
        spoken.setdefault(user_id, []).append((PROFICIENCY_RANK.get(proficiency, 9), language))
    for user in User.objects.only("pk", "languages").iterator(chunk_size=2000):
        value = ""
        for _rank, code in sorted(spoken.get(user.pk, [])):
            longer = f"{value},{code}" if value else code
            if len(longer) > OLD_MAX_LENGTH:
                break  # the best-spoken languages come first, so what is cut is the least used
            value = longer
        if user.languages != value:
            user.languages = value
            user.save(update_fields=["languages"])
    UserLanguage.objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("accounts", "0002_languages_skills_password_change")]

    operations = [migrations.RunPython(forward, backward)]
