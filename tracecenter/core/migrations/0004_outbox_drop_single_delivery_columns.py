# The outbox's single delivery state, replaced by one delivery per subscriber (0002, 0003).

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("core", "0003_deliveries_for_pending_events"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='outboxevent',
            name='outbox_pending_idx',
        ),
        migrations.RemoveField(
            model_name='outboxevent',
            name='attempts',
        ),
        migrations.RemoveField(
            model_name='outboxevent',
            name='dispatched_at',
        ),
        migrations.RemoveField(
            model_name='outboxevent',
            name='last_error',
        ),
    ]
