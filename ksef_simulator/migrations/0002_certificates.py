"""KSeF certificates API: enrollments, certificate metadata (subject, name, status dates), the auth
certificate's subject DN, and the enrollment processing delay."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("ksef_simulator", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="authoperation",
            name="certificate_subject",
            field=models.JSONField(blank=True, default=dict),
        ),
        migrations.AddField(
            model_name="simulatorconfig",
            name="certificate_enrollment_delay_ms",
            field=models.PositiveIntegerField(default=500),
        ),
        migrations.RenameField(model_name="issuedcertificate", old_name="nip", new_name="subject_value"),
        migrations.AlterField(
            model_name="issuedcertificate",
            name="subject_value",
            field=models.CharField(max_length=64),
        ),
        migrations.AddField(
            model_name="issuedcertificate",
            name="subject_type",
            field=models.CharField(default="Nip", max_length=16),
        ),
        migrations.AddField(
            model_name="issuedcertificate",
            name="name",
            field=models.CharField(blank=True, max_length=100),
        ),
        migrations.AddField(
            model_name="issuedcertificate",
            name="common_name",
            field=models.CharField(blank=True, max_length=256),
        ),
        migrations.AddField(
            model_name="issuedcertificate",
            name="public_key_sha256",
            field=models.CharField(blank=True, db_index=True, max_length=64),
        ),
        migrations.AddField(
            model_name="issuedcertificate",
            name="enrollment_reference",
            field=models.CharField(blank=True, max_length=36),
        ),
        migrations.AddField(
            model_name="issuedcertificate",
            name="requested_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="issuedcertificate",
            name="revocation_reason",
            field=models.CharField(blank=True, max_length=16),
        ),
        migrations.AddField(
            model_name="issuedcertificate",
            name="last_used_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddIndex(
            model_name="issuedcertificate",
            index=models.Index(
                fields=["subject_type", "subject_value", "-requested_at"], name="ksef_simula_subject_d58e3d_idx"
            ),
        ),
        migrations.CreateModel(
            name="CertificateEnrollment",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("reference_number", models.CharField(max_length=36, unique=True)),
                ("subject_type", models.CharField(max_length=16)),
                ("subject_value", models.CharField(max_length=64)),
                ("name", models.CharField(max_length=100)),
                ("kind", models.CharField(max_length=16)),
                ("csr_der", models.BinaryField()),
                ("valid_from", models.DateTimeField(blank=True, null=True)),
                ("requested_at", models.DateTimeField()),
                ("outcome_code", models.PositiveIntegerField(default=0)),
                ("outcome_details", models.JSONField(blank=True, default=list)),
                ("certificate_serial", models.CharField(blank=True, max_length=40)),
            ],
            options={
                "indexes": [
                    models.Index(
                        fields=["subject_type", "subject_value", "requested_at"],
                        name="ksef_simula_subject_a48333_idx",
                    )
                ],
            },
        ),
    ]
