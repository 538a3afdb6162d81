import json
from dataclasses import asdict
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from comments.analysis import AnalysisError
from comments.evaluation import DEFAULT_DATA, evaluate


class Command(BaseCommand):
    help = (
        "Language accuracy and sentiment accuracy / macro-F1 per language on labelled comments "
        "(rating 1-2 negative, 3 neutral, 4-5 positive), from the text alone and with the rating as the score."
    )

    def add_arguments(self, parser):
        parser.add_argument("--data", default=str(DEFAULT_DATA), help="CSV with language, rating and text columns")
        parser.add_argument("--json", dest="as_json", action="store_true", help="print the figures as JSON")

    def handle(self, *args, data, as_json, **options):
        try:
            figures, per_second = evaluate(Path(data))
        except (AnalysisError, ValueError, OSError) as error:
            raise CommandError(str(error)) from error
        if as_json:
            self.stdout.write(json.dumps({"languages": [asdict(f) for f in figures], "per_second": per_second}))
            return
        self.stdout.write(
            "| language | n | language accuracy | text: accuracy | text: macro-F1 | with score: accuracy | with score: macro-F1 |"
        )
        self.stdout.write("|---|---|---|---|---|---|---|")
        for f in figures:
            self.stdout.write(
                f"| {f.language} | {f.n} | {f.language_accuracy:.3f} | {f.text_accuracy:.3f} | {f.text_macro_f1:.3f} "
                f"| {f.score_accuracy:.3f} | {f.score_macro_f1:.3f} |"
            )
        self.stdout.write(f"{per_second:.0f} comments/s (text only, one process)")
