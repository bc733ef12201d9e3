# Residences get encrypted columns of their own and a blind index; public places stay in clear.
# Event names become an encrypted column with a blind index (schema only: contacts 0005 encrypts
# the names already there). No place before this migration is a residence (the kind is new), so
# the constraints hold for every existing row.

import tracecenter.core.fields
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0004_remove_user_languages'),
        ('contacts', '0003_backfill_resulting_case'),
    ]

    operations = [
        migrations.AddField(
            model_name='event',
            name='name_bidx',
            field=models.CharField(blank=True, default='', editable=False, max_length=32),
        ),
        migrations.AddField(
            model_name='place',
            name='home_bidx',
            field=models.CharField(blank=True, default='', editable=False, max_length=32),
        ),
        migrations.AddField(
            model_name='place',
            name='home_city',
            field=tracecenter.core.fields.EncryptedTextField(blank=True, default='', verbose_name='city'),
        ),
        migrations.AddField(
            model_name='place',
            name='home_name',
            field=tracecenter.core.fields.EncryptedTextField(blank=True, default='', verbose_name='name'),
        ),
        migrations.AddField(
            model_name='place',
            name='home_postal_code',
            field=tracecenter.core.fields.EncryptedTextField(blank=True, default='', verbose_name='postal code'),
        ),
        migrations.AddField(
            model_name='place',
            name='home_street',
            field=tracecenter.core.fields.EncryptedTextField(blank=True, default='', verbose_name='street address'),
        ),
        migrations.AlterField(
            model_name='event',
            name='name',
            field=tracecenter.core.fields.EncryptedTextField(verbose_name='name'),
        ),
        migrations.AlterField(
            model_name='place',
            name='kind',
            field=models.CharField(choices=[('residence', 'Home or residence'), ('restaurant', 'Restaurant or bar'), ('store', 'Store'), ('workplace', 'Workplace'), ('school', 'School or childcare'), ('worship', 'Place of worship'), ('gym', 'Gym or sports'), ('healthcare', 'Healthcare facility'), ('congregate', 'Congregate living'), ('transit', 'Transit'), ('venue', 'Event venue'), ('other', 'Other')], default='other', max_length=16, verbose_name='type'),
        ),
        migrations.AlterField(
            model_name='place',
            name='name',
            field=models.CharField(blank=True, max_length=200, verbose_name='name'),
        ),
        migrations.AddIndex(
            model_name='event',
            index=models.Index(fields=['place', 'starts_at'], name='event_lookup_idx'),
        ),
        migrations.AddIndex(
            model_name='place',
            index=models.Index(fields=['jurisdiction', 'home_bidx'], name='place_home_idx'),
        ),
        migrations.AddConstraint(
            model_name='place',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('kind', 'residence'), _negated=True), models.Q(('city', ''), ('name', ''), ('postal_code', ''), ('street', '')), _connector='OR'), name='place_home_never_in_clear'),
        ),
        migrations.AddConstraint(
            model_name='place',
            constraint=models.CheckConstraint(condition=models.Q(('kind', 'residence'), ('home_bidx', ''), _connector='OR'), name='place_public_in_clear'),
        ),
    ]
