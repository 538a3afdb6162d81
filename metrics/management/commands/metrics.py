"""``manage.py metrics --start 2026-01-01 --end 2026-01-31 [--segment Gold] [--format table]``

Prints the metrics document of the JSON API for a period, as JSON or as a readable table.
"""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError, CommandParser

from metrics.document import metrics_document
from metrics.filters import MetricFilterForm

FILTER_OPTIONS = ("start", "end", "preset", "segment", "survey", "survey_type", "touchpoint", "audience")


class Command(BaseCommand):
    help = "Print the metrics of a period (the JSON API's document) as JSON or as a table."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--start", help="First day, YYYY-MM-DD (site time zone).")
        parser.add_argument("--end", help="Last day, YYYY-MM-DD, included.")
        parser.add_argument("--preset", help="last_30, last_90, quarter or year, instead of --start/--end.")
        parser.add_argument("--segment", help="A value segment's name.")
        parser.add_argument("--survey", help="A survey's slug.")
        parser.add_argument("--survey-type", dest="survey_type", help="relational or transactional.")
        parser.add_argument("--touchpoint", help="e.g. support, delivery, relationship.")
        parser.add_argument("--audience", help="b2b or b2c.")
        parser.add_argument("--format", choices=["json", "table"], default="json")

    def handle(self, *args, **options) -> None:
        data = {name: options[name] for name in FILTER_OPTIONS if options.get(name)}
        form = MetricFilterForm(data)
        if not form.is_valid():
            raise CommandError(
                "; ".join(
                    f"--{name.replace('_', '-')}: {' '.join(str(e) for e in errors)}"
                    if name != "__all__"
                    else " ".join(str(e) for e in errors)
                    for name, errors in form.errors.items()
                )
            )
        document = metrics_document(form.filters())
        if options["format"] == "json":
            self.stdout.write(json.dumps(document, indent=2))
        else:
            self.stdout.write("\n".join(table_lines(document)))


def _format(value) -> str:
    if value is None:
        return "no data"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return str(value)


def table_lines(document: dict, prefix: str = "") -> list[str]:
    """The document flattened to aligned "section.figure  value" lines."""
    rows: list[tuple[str, str]] = []

    def walk(node, path: str) -> None:
        if isinstance(node, dict):
            if not node:
                rows.append((path, "-"))
            for key, value in node.items():
                walk(value, f"{path}.{key}" if path else str(key))
        elif isinstance(node, list):
            if not node:
                rows.append((path, "-"))
            for item in node:
                if isinstance(item, dict) and {"from", "to", "count"} <= item.keys():
                    rows.append((f"{path}  {item['from']} → {item['to']}", _format(item["count"])))
                else:
                    walk(item, path)
        else:
            rows.append((path, _format(node)))

    walk(document, prefix)
    width = max(len(label) for label, _ in rows)
    return [f"{label.ljust(width)}  {value}" for label, value in rows]
