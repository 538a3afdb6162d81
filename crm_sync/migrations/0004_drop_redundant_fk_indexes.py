"""Drop the indexes Django made for four foreign keys whose column already leads another index
(customer_unique_external_id, event_unique_source_key, event_customer_type_occurred,
event_referrer_occurred): they served no lookup the other index does not, and cost a write per row a
sync stores. Only the indexes go; the foreign-key constraints stay as they are (AlterField would drop
and re-add them, re-validating every event under a lock)."""

import django.db.models.deletion
from django.db import migrations, models

# (table, column, the index name Django gave it: the same on PostgreSQL and SQLite)
INDEXES = [
    ("crm_sync_customer", "connection_id", "crm_sync_customer_connection_id_771c54a5"),
    ("crm_sync_event", "connection_id", "crm_sync_event_connection_id_77189dd8"),
    ("crm_sync_event", "customer_id", "crm_sync_event_customer_id_fcafa059"),
    ("crm_sync_event", "referrer_id", "crm_sync_event_referrer_id_a1b0a96a"),
]


class Migration(migrations.Migration):
    dependencies = [
        ("crm_sync", "0003_event_rollups_last_nps"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    sql=f'DROP INDEX IF EXISTS "{name}"',
                    reverse_sql=f'CREATE INDEX "{name}" ON "{table}" ("{column}")',
                )
                for table, column, name in INDEXES
            ],
            state_operations=[
                migrations.AlterField(
                    model_name="customer",
                    name="connection",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="customers",
                        to="crm_sync.connection",
                    ),
                ),
                migrations.AlterField(
                    model_name="event",
                    name="connection",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="events",
                        to="crm_sync.connection",
                    ),
                ),
                migrations.AlterField(
                    model_name="event",
                    name="customer",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="events",
                        to="crm_sync.customer",
                    ),
                ),
                migrations.AlterField(
                    model_name="event",
                    name="referrer",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="referral_events",
                        to="crm_sync.customer",
                    ),
                ),
            ],
        ),
    ]
