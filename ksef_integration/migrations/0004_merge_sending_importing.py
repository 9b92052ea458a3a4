# Merges the parallel sending (0002) and importing (0003) branches; the lead may replace it.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("ksef_integration", "0002_sending"),
        ("ksef_integration", "0003_importing"),
    ]

    operations: list[migrations.operations.base.Operation] = []
