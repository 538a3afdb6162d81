"""Drop the indexes Django made for six foreign keys whose column already leads another index
(response_survey_submitted, response_customer_scores, response_segment_submitted,
invitation_survey_status, invitation_customer_created, attributescore_unique): they served no lookup the
other index does not, and cost a write per response, per invitation and per invitation status change.
Only the indexes go; the foreign-key constraints stay as they are (AlterField would drop and re-add them,
re-validating millions of rows under a lock)."""

import django.db.models.deletion
from django.db import migrations, models

# (table, column, the index name Django gave it: the same on PostgreSQL and SQLite)
INDEXES = [
    ("surveys_attributescore", "response_id", "surveys_attributescore_response_id_0026a701"),
    ("surveys_invitation", "customer_id", "surveys_invitation_customer_id_070370bb"),
    ("surveys_invitation", "survey_id", "surveys_invitation_survey_id_d0534764"),
    ("surveys_response", "customer_id", "surveys_response_customer_id_f79ad5a1"),
    ("surveys_response", "segment_id", "surveys_response_segment_id_cc1d4b92"),
    ("surveys_response", "survey_id", "surveys_response_survey_id_907701cf"),
]


class Migration(migrations.Migration):
    dependencies = [
        ("crm_sync", "0004_drop_redundant_fk_indexes"),
        ("surveys", "0004_response_covering_indexes"),
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
                    model_name="attributescore",
                    name="response",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="attribute_scores",
                        to="surveys.response",
                    ),
                ),
                migrations.AlterField(
                    model_name="invitation",
                    name="customer",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="invitations",
                        to="crm_sync.customer",
                    ),
                ),
                migrations.AlterField(
                    model_name="invitation",
                    name="survey",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="invitations",
                        to="surveys.survey",
                    ),
                ),
                migrations.AlterField(
                    model_name="response",
                    name="customer",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="responses",
                        to="crm_sync.customer",
                    ),
                ),
                migrations.AlterField(
                    model_name="response",
                    name="segment",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="crm_sync.segment",
                    ),
                ),
                migrations.AlterField(
                    model_name="response",
                    name="survey",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="responses",
                        to="surveys.survey",
                    ),
                ),
            ],
        ),
    ]
