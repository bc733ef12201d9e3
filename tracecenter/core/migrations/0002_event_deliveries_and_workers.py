# Event deliveries, periodic jobs, workers, side effects (schema; the old outbox columns go in 0004).

import django.db.models.deletion
import django.utils.timezone
import tracecenter.core.fields
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('core', '0001_initial'),
    ]

    operations = [
        migrations.CreateModel(
            name='EventDelivery',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('subscriber', models.CharField(max_length=200)),
                ('state', models.CharField(choices=[('pending', 'pending'), ('done', 'done'), ('dead', 'dead (gave up)')], default='pending', max_length=8)),
                ('attempts', models.PositiveIntegerField(default=0)),
                ('next_attempt_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('claim', models.CharField(blank=True, default='', max_length=32)),
                ('last_error', models.CharField(blank=True, default='', max_length=300)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('finished_at', models.DateTimeField(blank=True, null=True)),
            ],
        ),
        migrations.CreateModel(
            name='PeriodicJob',
            fields=[
                ('name', models.CharField(max_length=100, primary_key=True, serialize=False)),
                ('next_run_at', models.DateTimeField()),
                ('last_started_at', models.DateTimeField(blank=True, null=True)),
                ('last_finished_at', models.DateTimeField(blank=True, null=True)),
                ('last_duration_ms', models.PositiveIntegerField(blank=True, null=True)),
                ('last_error', models.CharField(blank=True, default='', max_length=300)),
                ('last_error_at', models.DateTimeField(blank=True, null=True)),
                ('runs', models.PositiveIntegerField(default=0)),
                ('failures', models.PositiveIntegerField(default=0)),
            ],
            options={
                'ordering': ['name'],
            },
        ),
        migrations.CreateModel(
            name='RecordedMessage',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('key', models.CharField(max_length=255, unique=True)),
                ('channel', models.CharField(max_length=16)),
                ('to', tracecenter.core.fields.EncryptedTextField()),
                ('body', tracecenter.core.fields.EncryptedTextField()),
                ('sent_at', models.DateTimeField(auto_now_add=True)),
            ],
            options={
                'ordering': ['-sent_at', '-pk'],
            },
        ),
        migrations.CreateModel(
            name='SideEffect',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('key', models.CharField(max_length=255, unique=True)),
                ('state', models.CharField(choices=[('started', 'started (outcome unknown until it finishes)'), ('done', 'done')], default='started', max_length=8)),
                ('attempts', models.PositiveIntegerField(default=0)),
                ('receipt', models.JSONField(blank=True, default=dict)),
                ('started_at', models.DateTimeField(auto_now_add=True)),
                ('finished_at', models.DateTimeField(blank=True, null=True)),
            ],
        ),
        migrations.CreateModel(
            name='WorkerProcess',
            fields=[
                ('id', models.CharField(max_length=32, primary_key=True, serialize=False)),
                ('hostname', models.CharField(blank=True, default='', max_length=200)),
                ('pid', models.PositiveIntegerField(default=0)),
                ('started_at', models.DateTimeField()),
                ('heartbeat_at', models.DateTimeField(db_index=True)),
                ('stopped_at', models.DateTimeField(blank=True, null=True)),
                ('deliveries', models.PositiveBigIntegerField(default=0)),
                ('tasks', models.PositiveBigIntegerField(default=0)),
            ],
            options={
                'ordering': ['-heartbeat_at'],
            },
        ),
        migrations.AddField(
            model_name='outboxevent',
            name='origin',
            field=models.JSONField(blank=True, default=dict),
        ),
        migrations.AlterField(
            model_name='outboxevent',
            name='created_at',
            field=models.DateTimeField(auto_now_add=True, db_index=True),
        ),
        migrations.AddField(
            model_name='eventdelivery',
            name='event',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='deliveries', to='core.outboxevent'),
        ),
        migrations.AddIndex(
            model_name='eventdelivery',
            index=models.Index(condition=models.Q(('state', 'pending')), fields=['next_attempt_at', 'id'], name='delivery_due_idx'),
        ),
        migrations.AddIndex(
            model_name='eventdelivery',
            index=models.Index(fields=['state', 'finished_at'], name='delivery_state_idx'),
        ),
        migrations.AddConstraint(
            model_name='eventdelivery',
            constraint=models.UniqueConstraint(fields=('event', 'subscriber'), name='delivery_once_per_subscriber'),
        ),
    ]
