"""surveys_questionsversion and the triggers that keep it: every INSERT, UPDATE or DELETE of a question
gives its survey (both surveys, for a question moved between two) a new random version. Random rather
than a counter, so no two states of a survey share one, even when a rolled-back transaction gives a new
survey the primary key an earlier one had."""

from django.db import migrations, models

POSTGRES = """
CREATE OR REPLACE FUNCTION surveys_questions_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        INSERT INTO surveys_questionsversion (survey_id, version)
        VALUES (OLD.survey_id, (random() * 9.2e18)::bigint)
        ON CONFLICT (survey_id) DO UPDATE SET version = EXCLUDED.version;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        INSERT INTO surveys_questionsversion (survey_id, version)
        VALUES (NEW.survey_id, (random() * 9.2e18)::bigint)
        ON CONFLICT (survey_id) DO UPDATE SET version = EXCLUDED.version;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER surveys_questions_changed AFTER INSERT OR UPDATE OR DELETE ON surveys_question
    FOR EACH ROW EXECUTE FUNCTION surveys_questions_changed();
"""
POSTGRES_DROP = """
DROP TRIGGER IF EXISTS surveys_questions_changed ON surveys_question;
DROP FUNCTION IF EXISTS surveys_questions_changed();
"""

SQLITE = [
    """CREATE TRIGGER surveys_questions_inserted AFTER INSERT ON surveys_question BEGIN
        INSERT OR REPLACE INTO surveys_questionsversion (survey_id, version) VALUES (NEW.survey_id, random());
    END""",
    """CREATE TRIGGER surveys_questions_updated AFTER UPDATE ON surveys_question BEGIN
        INSERT OR REPLACE INTO surveys_questionsversion (survey_id, version) VALUES (OLD.survey_id, random());
        INSERT OR REPLACE INTO surveys_questionsversion (survey_id, version) VALUES (NEW.survey_id, random());
    END""",
    """CREATE TRIGGER surveys_questions_deleted AFTER DELETE ON surveys_question BEGIN
        INSERT OR REPLACE INTO surveys_questionsversion (survey_id, version) VALUES (OLD.survey_id, random());
    END""",
]
SQLITE_DROP = [f"DROP TRIGGER IF EXISTS surveys_questions_{what}" for what in ("inserted", "updated", "deleted")]


def _execute(schema_editor, *, postgresql: list[str], sqlite: list[str]) -> None:
    """The statements for this backend. Other backends get no triggers, and surveys.selectors keeps no
    questions there (TRIGGER_VENDORS)."""
    for sql in {"postgresql": postgresql, "sqlite": sqlite}.get(schema_editor.connection.vendor, []):
        schema_editor.execute(sql)


def create(apps, schema_editor):
    _execute(schema_editor, postgresql=[POSTGRES], sqlite=SQLITE)


def drop(apps, schema_editor):
    _execute(schema_editor, postgresql=[POSTGRES_DROP], sqlite=SQLITE_DROP)


class Migration(migrations.Migration):
    dependencies = [
        ("surveys", "0006_drop_invitation_token_like_index"),
    ]

    operations = [
        migrations.CreateModel(
            name="QuestionsVersion",
            fields=[
                ("survey_id", models.BigIntegerField(primary_key=True, serialize=False)),
                ("version", models.BigIntegerField()),
            ],
            options={"verbose_name": "questions version"},
        ),
        migrations.RunPython(create, drop),
    ]
