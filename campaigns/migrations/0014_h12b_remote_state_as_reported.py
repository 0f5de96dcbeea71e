"""MessageWhiz's `state` is kept as reported (any int or string), not as an integer we gave a meaning."""

from django.db import migrations, models


def nulls_to_blank(apps, schema_editor):
    for name in ("Broadcast", "Segment"):
        apps.get_model("campaigns", name).objects.filter(remote_state__isnull=True).update(remote_state="")


class Migration(migrations.Migration):

    dependencies = [
        ("campaigns", "0013_h13_merge"),
    ]

    operations = [
        *(migrations.AlterField(model_name=name, name="remote_state", field=models.CharField(max_length=40, null=True))
          for name in ("broadcast", "segment")),
        migrations.RunPython(nulls_to_blank, migrations.RunPython.noop),
        *(migrations.AlterField(model_name=name, name="remote_state",
                                field=models.CharField(blank=True, default="", max_length=40))
          for name in ("broadcast", "segment")),
    ]
