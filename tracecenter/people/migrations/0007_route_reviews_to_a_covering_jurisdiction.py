"""Identity reviews go where a reviewer covers both records (accounts.policy.review_route).

Reviews queued before were routed to the incoming record's jurisdiction, even when the other
record lay in another county or at the state: they move to the deepest jurisdiction covering
both. Backwards, each goes back to its incoming record's jurisdiction, as it was queued.
"""

from django.db import migrations


def _route(*paths: str) -> int:
    common: list[str] = []
    for level in zip(*(path.strip("/").split("/") for path in paths), strict=False):
        if len(set(level)) != 1:
            break
        common.append(level[0])
    return int(common[-1])


def forwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    MatchReview = apps.get_model("people", "MatchReview")
    rows = MatchReview.objects.values_list("pk", "jurisdiction_id", "incoming__jurisdiction__path", "candidate__jurisdiction__path")
    for pk, current, incoming_path, candidate_path in rows.iterator(chunk_size=2000):
        route = _route(incoming_path, candidate_path)
        if route != current:
            MatchReview.objects.filter(pk=pk).update(jurisdiction_id=route)


def backwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    MatchReview = apps.get_model("people", "MatchReview")
    Person = apps.get_model("people", "Person")
    from django.db.models import OuterRef, Subquery

    MatchReview.objects.update(jurisdiction_id=Subquery(Person.objects.filter(pk=OuterRef("incoming_id")).values("jurisdiction_id")[:1]))


class Migration(migrations.Migration):
    dependencies = [("people", "0006_match_key_index")]

    operations = [migrations.RunPython(forwards, backwards)]
