"""Tokens made before scopes and mandatory expiry: they keep what they could do, and all of them expire.

Before scopes a token could call every endpoint there was, and those read and wrote records (the
lab intake endpoints came with scopes): so an existing token keeps `read write`. Each one expires
at the latest 90 days after this migration (sooner if its own expiry was sooner), so that tokens
made without a lifetime, or with a long one, are replaced in time by tokens made under the new
rules, with the scopes their holders choose. The holders see the new expiry on their API tokens page.
"""

import datetime as dt

from django.db import migrations
from django.db.models import Q
from django.utils import timezone

GRACE = dt.timedelta(days=90)


def forwards(apps, schema_editor):
    ApiToken = apps.get_model("tc_api", "ApiToken")
    latest = timezone.now() + GRACE
    ApiToken.objects.filter(scopes="").update(scopes="read write")
    ApiToken.objects.filter(Q(expires_at__isnull=True) | Q(expires_at__gt=latest)).update(expires_at=latest)


class Migration(migrations.Migration):
    dependencies = [
        ("tc_api", "0002_token_scopes_expiry_use"),
    ]

    # Going back leaves the scopes and expiries as they are: harmless for the schema before, which has the columns
    # expires_at (nullable) and ignores the others.
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
