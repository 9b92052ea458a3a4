"""The token sunset campaign (issue 18): the record of each reminder sent, and the admin list of companies
still connected by a KSeF token (a proxy of the connection)."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0001_initial'),
        ('ksef_integration', '0012_imported_document_xml_sha256'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='TokenConnection',
            fields=[
            ],
            options={
                'verbose_name': 'company on a KSeF token',
                'verbose_name_plural': 'companies on a KSeF token',
                'proxy': True,
                'indexes': [],
                'constraints': [],
            },
            bases=('ksef_integration.ksefconnection',),
        ),
        migrations.CreateModel(
            name='SunsetReminder',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('sunset', models.DateField(verbose_name='token sunset')),
                ('days_before', models.PositiveSmallIntegerField(blank=True, null=True, verbose_name='days before the sunset')),
                ('sent_at', models.DateTimeField(default=django.utils.timezone.now, verbose_name='sent at')),
                ('company', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='ksef_sunset_reminders', to='accounts.company')),
                ('sent_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'verbose_name': 'token sunset reminder',
                'verbose_name_plural': 'token sunset reminders',
                'constraints': [models.UniqueConstraint(condition=models.Q(('days_before__isnull', False)), fields=('company', 'sunset', 'days_before'), name='ksef_sunset_reminder_once')],
            },
        ),
    ]
