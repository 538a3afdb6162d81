from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from complaints import services
from core.csvfiles import MappingError, csv_import_arguments, csv_import_options


class Command(BaseCommand):
    help = "Import complaints and inquiries of the past (CSV; the columns are in complaints/services/imports.py)."

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--skip-invalid", action="store_true", help="import the good rows, list the bad ones")
        csv_import_arguments(parser)

    def handle(self, *args, file: Path, skip_invalid=False, **options):
        try:
            mapping, empty = csv_import_options(options)
        except MappingError as exc:
            raise CommandError(str(exc)) from exc
        try:
            data = file.read_bytes()
        except OSError as exc:
            raise CommandError(f"Cannot read {file}: {exc}") from exc
        try:
            report = services.complaints_import(
                data=data,
                mapping=mapping,
                empty=empty,
                date_format=options.get("date_format"),
                skip_invalid=skip_invalid,
            )
        except services.ImportFileError as exc:
            raise CommandError(str(exc)) from exc
        for line in report.lines():
            (self.stderr if report.errors else self.stdout).write(line)
        if report.errors and not report.imported:
            raise CommandError(f"{len(report.errors)} bad rows; nothing imported.")
