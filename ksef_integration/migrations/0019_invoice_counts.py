"""InvoiceCounts and the triggers that keep it (models/office.py): one row per company, changed in the same
transaction as any invoice that enters or leaves a count, on PostgreSQL and on SQLite alike; then every
company's counts as its invoices stand now. And an index for a company's last successful import."""

import django.db.models.deletion
from django.db import migrations, models


# A count's rule over one invoice row (NEW or OLD): 1 when the row is counted, else 0. The same three rules
# as ksef_integration.office.selectors WAITING, REJECTED and NEW_PURCHASES (a test holds them equal).
RULES = {
    "waiting": (
        "{r}.direction = 'sales' AND {r}.ksef_number IS NULL AND {r}.ksef_offline_mode = '' "
        "AND {r}.ksef_status IN ('not_sent', 'queued', 'sent')"
    ),
    "rejected": "{r}.direction = 'sales' AND {r}.ksef_status IN ('rejected', 'failed_local')",
    "new_purchases": "{r}.direction = 'purchase' AND {r}.is_new",
}
COUNTED_COLUMNS = "company_id, direction, ksef_number, ksef_offline_mode, ksef_status, is_new"
TABLE = "ksef_integration_invoicecounts"


def _flags(row: str) -> list[str]:
    return [f"CASE WHEN {rule.format(r=row)} THEN 1 ELSE 0 END" for rule in RULES.values()]


def _add(row: str, sign: str) -> str:
    """Add (sign "+") the row's flags to its company's counts, creating the counts row if need be."""
    names = ", ".join(RULES)
    values = ", ".join(f"{sign}({flag})" for flag in _flags(row))
    sets = ", ".join(f"{name} = {TABLE}.{name} + excluded.{name}" for name in RULES)
    return (
        f"INSERT INTO {TABLE} (company_id, {names}) VALUES ({row}.company_id, {values}) "
        f"ON CONFLICT (company_id) DO UPDATE SET {sets}"
    )


def _subtract(row: str) -> str:
    """Take the row's flags off its company's counts (a company being deleted may have lost its row)."""
    sets = ", ".join(f"{name} = {name} - ({flag})" for name, flag in zip(RULES, _flags(row), strict=True))
    return f"UPDATE {TABLE} SET {sets} WHERE company_id = {row}.company_id"


def _any(row: str) -> str:
    return " OR ".join(f"({rule.format(r=row)})" for rule in RULES.values())


def _same(a: str, b: str) -> str:
    return " AND ".join(f"({x}) = ({y})" for x, y in zip(_flags(a), _flags(b), strict=True))


POSTGRESQL = [
    f"""
CREATE FUNCTION ksef_invoice_counts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' THEN
    IF OLD.company_id = NEW.company_id AND {_same("OLD", "NEW")} THEN
      RETURN NULL;
    END IF;
  END IF;
  IF TG_OP <> 'INSERT' THEN
    IF {_any("OLD")} THEN
      {_subtract("OLD")};
    END IF;
  END IF;
  IF TG_OP <> 'DELETE' THEN
    IF {_any("NEW")} THEN
      {_add("NEW", "+")};
    END IF;
  END IF;
  RETURN NULL;
END
$$""",
    "CREATE TRIGGER ksef_invoice_counts AFTER INSERT OR DELETE OR UPDATE OF "
    f"{COUNTED_COLUMNS} ON invoices_invoice FOR EACH ROW EXECUTE FUNCTION ksef_invoice_counts()",
    # TRUNCATE fires no row trigger: no invoices, no counts.
    f"""
CREATE FUNCTION ksef_invoice_counts_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM {TABLE};
  RETURN NULL;
END
$$""",
    "CREATE TRIGGER ksef_invoice_counts_truncate AFTER TRUNCATE ON invoices_invoice "
    "FOR EACH STATEMENT EXECUTE FUNCTION ksef_invoice_counts_truncate()",
]
POSTGRESQL_REVERSE = [
    "DROP TRIGGER IF EXISTS ksef_invoice_counts_truncate ON invoices_invoice",
    "DROP FUNCTION IF EXISTS ksef_invoice_counts_truncate()",
    "DROP TRIGGER IF EXISTS ksef_invoice_counts ON invoices_invoice",
    "DROP FUNCTION IF EXISTS ksef_invoice_counts()",
]

SQLITE = [
    f"CREATE TRIGGER ksef_invoice_counts_insert AFTER INSERT ON invoices_invoice "
    f"WHEN {_any('NEW')} BEGIN {_add('NEW', '+')}; END",
    f"CREATE TRIGGER ksef_invoice_counts_delete AFTER DELETE ON invoices_invoice "
    f"WHEN {_any('OLD')} BEGIN {_subtract('OLD')}; END",
    f"CREATE TRIGGER ksef_invoice_counts_update AFTER UPDATE OF {COUNTED_COLUMNS} ON invoices_invoice "
    f"WHEN NOT (OLD.company_id = NEW.company_id AND {_same('OLD', 'NEW')}) "
    f"BEGIN {_subtract('OLD')}; {_add('NEW', '+')}; END",
]
SQLITE_REVERSE = [
    f"DROP TRIGGER IF EXISTS ksef_invoice_counts_{event}" for event in ("insert", "delete", "update")
]


def _count_all() -> str:
    sums = ", ".join(f"SUM({flag})" for flag in _flags("i"))
    return (
        f"INSERT INTO {TABLE} (company_id, {', '.join(RULES)}) "
        f"SELECT i.company_id, {sums} FROM invoices_invoice i WHERE {_any('i')} GROUP BY i.company_id"
    )


def create(apps, schema_editor):  # noqa: ANN001, ANN201 - a migration's RunPython signature
    vendor = schema_editor.connection.vendor
    if vendor not in ("postgresql", "sqlite"):
        raise NotImplementedError("invoice counts have triggers for PostgreSQL and SQLite only")
    statements = POSTGRESQL if vendor == "postgresql" else SQLITE
    for statement in statements:
        schema_editor.execute(statement)
    schema_editor.execute(_count_all())


def drop(apps, schema_editor):  # noqa: ANN001, ANN201
    statements = POSTGRESQL_REVERSE if schema_editor.connection.vendor == "postgresql" else SQLITE_REVERSE
    for statement in statements:
        schema_editor.execute(statement)


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0002_line_codes_procedure_partial_payments'),
        ('invoices', '0016_page_indexes'),
        ('ksef_integration', '0018_delivery'),
    ]

    operations = [
        migrations.CreateModel(
            name='InvoiceCounts',
            fields=[
                ('company', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name='invoice_counts', serialize=False, to='accounts.company')),
                ('waiting', models.IntegerField(default=0, verbose_name='waiting for KSeF')),
                ('rejected', models.IntegerField(default=0, verbose_name='rejected')),
                ('new_purchases', models.IntegerField(default=0, verbose_name='new purchase invoices')),
            ],
            options={
                'verbose_name': 'invoice counts',
                'verbose_name_plural': 'invoice counts',
            },
        ),
        migrations.AddIndex(
            model_name='synccursor',
            index=models.Index(models.F('company'), models.OrderBy(models.F('last_success_at'), descending=True), condition=models.Q(('last_success_at__isnull', False)), name='ksef_sync_cursor_last_success'),
        ),
        migrations.RunPython(create, drop),
    ]
