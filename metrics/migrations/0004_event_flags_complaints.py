"""The flags of a lost event now say whether a complaint or an operational incident came before the loss:
the stored event rollup was made without them, so it is dropped and the next refresh rolls it up again
(until then the figures are read from the raw rows, exact)."""

from django.db import migrations


def drop_event_rollup(apps, schema_editor):
    apps.get_model("metrics", "EventDaily").objects.all().delete()
    apps.get_model("metrics", "FillState").objects.filter(fact="events").update(through=None)


class Migration(migrations.Migration):
    dependencies = [("metrics", "0003_commentdaily_themedaily"), ("complaints", "0001_initial")]

    operations = [migrations.RunPython(drop_event_rollup, migrations.RunPython.noop)]
