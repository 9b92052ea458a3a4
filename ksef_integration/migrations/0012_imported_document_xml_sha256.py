"""The SHA-256 of an imported invoice's XML, kept beside it (KOD I), filled in for the documents already
imported."""

import base64
import hashlib

from django.db import migrations, models


def fill(apps, schema_editor):  # type: ignore[no-untyped-def]
    ImportedDocument = apps.get_model("ksef_integration", "ImportedDocument")
    for document in ImportedDocument.objects.filter(xml_sha256_b64="").only("pk", "xml").iterator(chunk_size=200):
        digest = base64.b64encode(hashlib.sha256(bytes(document.xml)).digest()).decode("ascii")
        ImportedDocument.objects.filter(pk=document.pk).update(xml_sha256_b64=digest)


class Migration(migrations.Migration):
    dependencies = [
        ("ksef_integration", "0011_import_failure"),
    ]

    operations = [
        migrations.AddField(
            model_name="importeddocument",
            name="xml_sha256_b64",
            field=models.CharField(blank=True, editable=False, max_length=44),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop, elidable=True),
    ]
