import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    """Fewer indexes on messages: a million-recipient broadcast writes a million entries into each."""

    dependencies = [
        ("campaigns", "0004_segment_error"),
        ("messaging", "0003_api_token"),
    ]

    operations = [
        migrations.AlterField(
            model_name="message",
            name="account",
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name="+",
                                    to="messaging.provideraccount"),
        ),
        migrations.AlterField(
            model_name="message",
            name="provider_message_id",
            field=models.CharField(blank=True, max_length=64),
        ),
        migrations.AddIndex(
            model_name="message",
            index=models.Index(condition=models.Q(("provider_message_id", ""), _negated=True),
                               fields=["provider_message_id"], name="message_provider_id"),
        ),
    ]
