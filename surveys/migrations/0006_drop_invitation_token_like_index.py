"""Drop the LIKE index Django adds beside a unique CharField on PostgreSQL (``token varchar_pattern_ops``).

Tokens are only ever looked up by equality, which the unique index serves; the second index, as large
as the first (232 MB at 3 million invitations), only cost a second random insert per invitation created.
Django's state does not track it, so nothing recreates it; on SQLite it never existed.
"""

from django.db import migrations

INDEX = "surveys_invitation_token_7de787e2_like"


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f'DROP INDEX IF EXISTS "{INDEX}"')


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f'CREATE INDEX IF NOT EXISTS "{INDEX}" ON "surveys_invitation" ("token" varchar_pattern_ops)'
        )


class Migration(migrations.Migration):
    dependencies = [
        ("surveys", "0005_drop_redundant_fk_indexes"),
    ]

    operations = [migrations.RunPython(drop, create)]
