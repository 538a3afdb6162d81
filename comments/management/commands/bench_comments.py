"""The comment analysis benchmark: every comment analysed from scratch (``comments_analyse --all``),
comments per second printed. With ``--generate N`` it first adds N generated responses with comments
(a database without the benchmark data set); never on a production database."""

import json
import random
import time

from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.utils import timezone

from comments.bench import PARTS, generated_comment
from comments.models import CommentAnalysis
from comments.services import comments_catch_up
from surveys.models import Response, Survey


class Command(BaseCommand):
    help = "Analyse every comment from scratch and print comments/s (--generate N first adds N generated ones)."

    def add_arguments(self, parser):
        parser.add_argument("--generate", type=int, default=0, help="responses with comments to add first")
        parser.add_argument("--processes", type=int, default=2)
        parser.add_argument("--json", dest="as_json", action="store_true", help="print the figures as JSON")

    def handle(self, *args, generate, processes, as_json, **options):
        if generate < 0 or processes < 1:
            raise CommandError("--generate must be ≥ 0 and --processes ≥ 1")
        if generate:
            self._generate(generate)
        CommentAnalysis.objects.all().delete()
        comments = Response.objects.exclude(comment="").count()
        started = time.perf_counter()
        done = comments_catch_up(every=True, processes=processes, chunk=5000)
        seconds = time.perf_counter() - started
        figures = {
            "comments": done,
            "seconds": round(seconds, 1),
            "comments_per_second": round(done / seconds, 1) if seconds else None,
            "processes": processes,
            "generated": generate,
            "with_comment": comments,
            "vendor": connection.vendor,
        }
        if as_json:
            self.stdout.write(json.dumps(figures))
        else:
            self.stdout.write(
                f"{done} comments analysed in {seconds:.1f} s: {figures['comments_per_second']} comments/s "
                f"({processes} processes); 1 000 000 would take {1_000_000 / (done / seconds) / 60:.1f} min"
                if done
                else "no comments to analyse"
            )

    def _generate(self, n: int) -> None:
        survey = Survey.objects.order_by("pk").first()
        if survey is None:
            raise CommandError("--generate needs a survey (run seed_demo or create one)")
        rng = random.Random(20)
        now = timezone.now()
        languages = list(PARTS)
        batch = []
        for i in range(n):
            nps = rng.randint(0, 10)
            language = rng.choice(languages)
            batch.append(
                Response(
                    survey=survey,
                    survey_type=survey.survey_type,
                    touchpoint=survey.touchpoint,
                    audience=survey.audience,
                    channel="email",
                    language=language,
                    submitted_at=now - timezone.timedelta(minutes=i % 500_000),
                    nps=nps,
                    comment=generated_comment(rng, language, nps),
                )
            )
            if len(batch) == 5000:
                Response.objects.bulk_create(batch)
                batch = []
        Response.objects.bulk_create(batch)
