from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from core.csvfiles import MappingError, csv_import_arguments, csv_import_options
from surveys import services
from surveys.models import SurveyType
from surveys.services.import_presets import PRESETS


class Command(BaseCommand):
    help = "Import survey responses exported from another tool (CSV; see docs in surveys/services/imports.py)."

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--survey", required=True, help="survey slug")
        parser.add_argument("--create-survey", action="store_true", help="create the survey when the slug is new")
        parser.add_argument(
            "--type", choices=SurveyType.values, default=SurveyType.RELATIONAL, help="type of a created survey"
        )
        parser.add_argument("--skip-invalid", action="store_true", help="import the good rows, list the bad ones")
        csv_import_arguments(parser)
        parser.add_argument(
            "--format",
            dest="file_format",
            choices=sorted(PRESETS),
            help="the layout of another tool's response export (its columns, header rows and dates)",
        )

    def handle(
        self,
        *args,
        file: Path,
        survey: str,
        create_survey=False,
        type=SurveyType.RELATIONAL,
        skip_invalid=False,
        file_format=None,
        **options,
    ):
        try:
            mapping, empty = csv_import_options(options)
        except MappingError as exc:
            raise CommandError(str(exc)) from exc
        try:
            data = file.read_bytes()
        except OSError as exc:
            raise CommandError(f"Cannot read {file}: {exc}") from exc
        try:
            report = services.responses_import(
                data=data,
                survey_slug=survey,
                create_survey=create_survey,
                survey_type=type,
                skip_invalid=skip_invalid,
                mapping=mapping,
                file_format=file_format,
                empty=empty,
                date_format=options.get("date_format"),
            )
        except services.ImportFileError as exc:
            raise CommandError(str(exc)) from exc
        for line in report.lines():
            (self.stderr if report.errors else self.stdout).write(line)
        if report.errors and not report.imported:
            raise CommandError(f"{len(report.errors)} bad rows; nothing imported.")
