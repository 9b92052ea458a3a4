from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("ksef_integration", "0005_import_digest"),
    ]

    operations = [
        migrations.AddField(
            model_name="submission",
            name="stuck_notified_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="owners told it is stuck at"),
        ),
    ]
