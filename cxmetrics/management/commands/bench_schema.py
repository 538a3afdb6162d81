"""Benchmark helper: give a database seeded by an earlier version of the code this version's read model.

``bench --paired-with DIR`` measures the pages of the checkout in DIR and of this one against the same
data. DIR's code seeds the database (its own tables, rollups and migrations); this command then adds
the tables of this version's models that are missing (the raw tables are shared) and builds its rollups.
"""

import time

from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import connection

from metrics.refresh import rollups_rebuild


class Command(BaseCommand):
    help = "Add this version's missing tables to a benchmark database seeded by another version, and build its rollups."

    def handle(self, *args, **options):
        existing = set(connection.introspection.table_names())
        created = []
        with connection.schema_editor() as editor:
            for model in apps.get_models():
                if model._meta.managed and not model._meta.proxy and model._meta.db_table not in existing:
                    editor.create_model(model)
                    created.append(model._meta.db_table)
        started = time.perf_counter()
        rollups_rebuild()
        seconds = time.perf_counter() - started
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
        self.stdout.write(f"created {', '.join(created) or 'nothing'}; read model built in {seconds:.1f} s")
