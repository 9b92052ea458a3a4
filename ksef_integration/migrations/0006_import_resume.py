"""The export in flight of a sync cursor (reference, encrypted AES key and IV, window), so it can resume."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("ksef_integration", "0005_import_digest")]

    operations = [
        migrations.AddField(
            model_name="synccursor",
            name="export_reference",
            field=models.CharField(blank=True, max_length=64),
        ),
        migrations.AddField(
            model_name="synccursor",
            name="export_key",
            field=models.TextField(blank=True, editable=False),
        ),
        migrations.AddField(
            model_name="synccursor",
            name="export_from",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="synccursor",
            name="export_to",
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
