from django.db import migrations
from django.db.models import Max
from django.utils import timezone


def start_at_the_newest_answer(apps, schema_editor):
    """No rule exists before this app is installed, so the answers stored until now have nothing to fire:
    the alert sweep starts after them instead of working through the whole history (which would delay
    the first real alerts by hours on a large database). ``alerts_evaluate --since`` still reaches them."""
    Cursor = apps.get_model("core", "Cursor")
    Response = apps.get_model("surveys", "Response")
    newest = Response.objects.aggregate(newest=Max("pk"))["newest"] or 0
    Cursor.objects.get_or_create(
        name="alerts", defaults={"settled": newest, "mark": newest, "marked_at": timezone.now()}
    )


class Migration(migrations.Migration):
    dependencies = [("followup", "0003_case_due"), ("core", "0003_cursor"), ("surveys", "0003_question_attribute_es")]
    operations = [migrations.RunPython(start_at_the_newest_answer, migrations.RunPython.noop)]
