from django.core.management.base import BaseCommand, CommandError

from comments.services import comments_catch_up, complaints_catch_up


class Command(BaseCommand):
    help = (
        "Analyse comments and complaint summaries: --missing (default) those without an analysis, --all every "
        "one (after a taxonomy change)."
    )

    def add_arguments(self, parser):
        group = parser.add_mutually_exclusive_group()
        group.add_argument("--all", action="store_true", help="re-analyse every comment")
        group.add_argument("--missing", action="store_true", help="analyse the comments without an analysis")
        parser.add_argument("--processes", type=int, default=1, help="worker processes for the analysis (CPU-bound)")

    def handle(self, *args, **options):
        if options["processes"] < 1:
            raise CommandError("--processes must be at least 1")
        try:
            done = comments_catch_up(every=options["all"], processes=options["processes"])
            complaints = complaints_catch_up(every=options["all"])
        except ValueError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(f"{done} comments analysed, {complaints} complaints analysed")
