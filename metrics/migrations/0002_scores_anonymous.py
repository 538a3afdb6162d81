from django.db import migrations, models


def drop_scores_rollup(apps, schema_editor):
    """The rows rolled up before say nothing of anonymous answers: drop them; the next refresh rolls
    the days up again, and until then the figures are read from the raw rows."""
    apps.get_model("metrics", "ScoreDaily").objects.all().delete()
    apps.get_model("metrics", "FillState").objects.filter(fact="scores").update(through=None)


class Migration(migrations.Migration):
    dependencies = [("metrics", "0001_initial")]

    operations = [
        migrations.AddField(model_name="scoredaily", name="anonymous", field=models.BooleanField(default=False)),
        migrations.RunPython(drop_scores_rollup, migrations.RunPython.noop),
    ]
