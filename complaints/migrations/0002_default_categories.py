"""The default list of complaint categories; admins edit it afterwards."""

from django.db import migrations

DEFAULTS = (
    ("delivery", "entrega"),
    ("billing", "facturación"),
    ("product quality", "calidad del producto"),
    ("service", "atención"),
    ("other", "otros"),
)


def seed(apps, schema_editor):
    Category = apps.get_model("complaints", "ComplaintCategory")
    for position, (name, name_es) in enumerate(DEFAULTS, start=1):
        Category.objects.get_or_create(name=name, defaults={"name_es": name_es, "ordering": position * 10})


def unseed(apps, schema_editor):
    Category = apps.get_model("complaints", "ComplaintCategory")
    Category.objects.filter(name__in=[name for name, _es in DEFAULTS], complaints__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("complaints", "0001_initial")]

    operations = [migrations.RunPython(seed, unseed)]
