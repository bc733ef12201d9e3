# Events still pending when the relay arrives get one delivery per subscriber of today's code.

from django.db import migrations


def forwards(apps, schema_editor):
    from tracecenter.core import events

    OutboxEvent = apps.get_model("core", "OutboxEvent")
    EventDelivery = apps.get_model("core", "EventDelivery")
    batch = []
    for row in OutboxEvent.objects.filter(dispatched_at__isnull=True).order_by("pk").iterator(chunk_size=2000):
        try:
            event = events.decode(row.name, row.payload)
        except (KeyError, TypeError, ValueError):
            continue  # an event no app defines any more: nobody to deliver it to
        batch.extend(EventDelivery(event_id=row.pk, subscriber=s.name) for s in events.subscribers_of(event))
        if len(batch) >= 2000:
            EventDelivery.objects.bulk_create(batch)
            batch = []
    EventDelivery.objects.bulk_create(batch)


def backwards(apps, schema_editor):
    OutboxEvent = apps.get_model("core", "OutboxEvent")
    EventDelivery = apps.get_model("core", "EventDelivery")
    unfinished = EventDelivery.objects.exclude(state="done").values("event_id")
    OutboxEvent.objects.exclude(pk__in=unfinished).filter(dispatched_at__isnull=True).update(
        dispatched_at=django_now()
    )


def django_now():
    from django.utils import timezone

    return timezone.now()


class Migration(migrations.Migration):

    dependencies = [
        ("core", "0002_event_deliveries_and_workers"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
