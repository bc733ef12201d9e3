from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("tc_api", "0003_existing_tokens_scoped_and_expiring"),
    ]

    # Every token now has its scopes and expiry (0003): from here on the database refuses a token without either.
    operations = [
        migrations.AlterField(
            model_name="apitoken",
            name="expires_at",
            field=models.DateTimeField(verbose_name="expires"),
        ),
        migrations.AlterField(
            model_name="apitoken",
            name="scopes",
            field=models.CharField(max_length=64, verbose_name="scopes"),
        ),
        migrations.AddConstraint(
            model_name="apitoken",
            constraint=models.CheckConstraint(condition=~models.Q(scopes=""), name="api_token_has_a_scope"),
        ),
    ]
