"""Measuring the engine on labelled comments (a CSV of id, language, rating, text; ratings on the CSAT
scale): language accuracy, and sentiment accuracy and macro-F1 per language, from the text alone and with
the rating as the respondent's CSAT. The rating is also the label (read as a CSAT: 1-2 negative, 3
neutral, 4-5 positive), so "with the score" is exact by construction: it shows what the score path gives a survey
comment; "text only" is what a public link or a complaint without a score gets."""

from __future__ import annotations

import csv
import time
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from sklearn.metrics import accuracy_score, f1_score

from core.definitions import SCALES, scale_text

from .analysis import (
    LANGUAGES,
    SENTIMENTS,
    AnalysisError,
    ScoreEvidence,
    ThemeMatcher,
    analyse,
    sentiment_of_csat,
)

# The team's reference data sits beside the checkout (../shared/data), not in the repository.
DEFAULT_DATA = Path(settings.BASE_DIR).parent / "shared" / "data" / "comments_dev.csv"


@dataclass(frozen=True)
class LanguageFigures:
    language: str
    n: int
    language_accuracy: float
    text_accuracy: float
    text_macro_f1: float
    score_accuracy: float
    score_macro_f1: float


def label_of(rating: int) -> str:
    low, high = SCALES["csat"]
    if not low <= rating <= high:
        raise AnalysisError(f"rating {rating} is outside {scale_text('csat')}")
    return sentiment_of_csat(rating)


def read_labelled(path: Path) -> list[dict]:
    if not path.exists():
        raise AnalysisError(f"{path} does not exist")
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    missing = {"language", "rating", "text"} - set(rows[0] if rows else {})
    if missing:
        raise AnalysisError(f"{path} lacks the column(s) {', '.join(sorted(missing))}")
    return rows


def evaluate(path: Path) -> tuple[list[LanguageFigures], float]:
    """Figures per language, and comments analysed per second (text only, one process)."""
    rows = read_labelled(path)
    matcher = ThemeMatcher([])
    figures, elapsed = [], 0.0
    analyse("warm up: load the models", None, None, matcher=matcher)  # not timed: loaded once per process
    for language in LANGUAGES:
        chosen = [r for r in rows if r["language"] == language]
        if not chosen:
            continue
        truth = [label_of(int(r["rating"])) for r in chosen]
        started = time.perf_counter()
        text = [analyse(r["text"], None, None, matcher=matcher) for r in chosen]
        elapsed += time.perf_counter() - started
        scored = [
            analyse(r["text"], None, ScoreEvidence("csat", int(r["rating"])), matcher=matcher).sentiment for r in chosen
        ]
        predicted = [result.sentiment for result in text]
        figures.append(
            LanguageFigures(
                language=language,
                n=len(chosen),
                language_accuracy=sum(r.language == language for r in text) / len(chosen),
                text_accuracy=accuracy_score(truth, predicted),
                text_macro_f1=f1_score(truth, predicted, average="macro", labels=list(SENTIMENTS)),
                score_accuracy=accuracy_score(truth, scored),
                score_macro_f1=f1_score(truth, scored, average="macro", labels=list(SENTIMENTS)),
            )
        )
    return figures, sum(f.n for f in figures) / elapsed if elapsed else 0.0
