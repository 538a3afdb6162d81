"""Comments: themes and sentiment (shared/METRICS.md "Comments: themes and sentiment").

Theme share = 100 × analysed comments with the theme / analysed comments. Theme impact on NPS = NPS of
every NPS answer in the period − NPS of those whose comment does not mention the theme (the theme's
promoters, passives and detractors taken out). Net sentiment = % positive − % negative comments.
Emerging themes: a theme's share this period against the previous one, by a two-proportion z-test
(pooled standard error), significant at 95 % (|z| ≥ Z_95) and up.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import asdict, dataclass

from comments import selectors as comment_selectors
from core.definitions import CATEGORIES, Z_95

from .facts import COMMENTS, THEMES
from .filters import MetricFilters
from .read import kept, read, shared
from .stats import rate
from .survey import Nps, nps

SENTIMENT_VALUES = ("negative", "neutral", "positive")


def theme_names(language: str) -> dict[int, str]:
    """The themes' names, read once per snapshot and language."""
    return kept(f"theme_names:{language}", lambda: comment_selectors.theme_names(language))


@dataclass(frozen=True)
class ThemeFigure:
    theme_id: int
    name: str
    mentions: int  # analysed comments with the theme
    share: float | None
    negative: int
    neutral: int
    positive: int
    net_sentiment: float | None
    nps_answers: int  # the theme's n for impact: its comments with an NPS answer
    impact: float | None  # NPS points the theme adds (+) or takes (−)

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class SentimentCounts:
    negative: int
    neutral: int
    positive: int
    comments: int
    net_sentiment: float | None

    def as_dict(self) -> dict:
        return asdict(self)


def _sentiment_counts(rows: list[dict]) -> SentimentCounts:
    by = {s: sum(r["n"] for r in rows if r["sentiment"] == s) for s in SENTIMENT_VALUES}
    total = sum(by.values())
    net = None if not total else rate(by["positive"], total) - rate(by["negative"], total)
    return SentimentCounts(by["negative"], by["neutral"], by["positive"], total, net)


@shared
def comment_sentiment(*, filters: MetricFilters) -> SentimentCounts:
    return _sentiment_counts(read(COMMENTS, filters, by=("sentiment",)))


@shared
def _theme_rows(*, filters: MetricFilters) -> list[dict]:
    return read(THEMES, filters, by=("theme_id", "sentiment", "category"))


def impact_on_nps(overall: Nps, *, promoters: int, passives: int, detractors: int) -> float | None:
    """NPS of all answers − NPS of the answers without the theme's; None when either has no answers."""
    without = Nps.from_counts(
        promoters=overall.promoters - promoters,
        passives=overall.passives - passives,
        detractors=overall.detractors - detractors,
    )
    if overall.score is None or without.score is None:
        return None
    return overall.score - without.score


@shared
def theme_figures(*, filters: MetricFilters, language: str = "en") -> list[ThemeFigure]:
    """Every theme mentioned in the period, by share (highest first)."""
    total = comment_sentiment(filters=filters).comments
    overall = nps(filters=filters)
    names = theme_names(language)
    grouped: dict[int, dict[tuple[str, str], int]] = defaultdict(lambda: defaultdict(int))
    for row in _theme_rows(filters=filters):
        grouped[row["theme_id"]][(row["sentiment"], row["category"])] += row["n"]
    figures = []
    for theme_id, counts in grouped.items():
        if theme_id not in names:
            continue  # deleted since: its rows leave at the next re-analysis
        sentiment = {s: sum(n for (sv, _c), n in counts.items() if sv == s) for s in SENTIMENT_VALUES}
        category = {c: sum(n for (_s, cv), n in counts.items() if cv == c) for c in CATEGORIES}
        mentions = sum(sentiment.values())
        figures.append(
            ThemeFigure(
                theme_id=theme_id,
                name=names[theme_id],
                mentions=mentions,
                share=rate(mentions, total),
                negative=sentiment["negative"],
                neutral=sentiment["neutral"],
                positive=sentiment["positive"],
                net_sentiment=rate(sentiment["positive"] - sentiment["negative"], mentions),
                nps_answers=sum(category.values()),
                impact=impact_on_nps(
                    overall,
                    promoters=category["promoter"],
                    passives=category["passive"],
                    detractors=category["detractor"],
                ),
            )
        )
    return sorted(figures, key=lambda f: (-f.mentions, f.name))


@shared
def theme_trend(*, filters: MetricFilters, granularity: str = "month", language: str = "en") -> list[dict]:
    """Per bucket and theme: mentions and share of that bucket's analysed comments."""
    totals = {r["bucket"]: r["n"] for r in read(COMMENTS, filters, bucket=granularity)}
    names = theme_names(language)
    rows = [
        {
            "period": r["bucket"],
            "theme_id": r["theme_id"],
            "theme": names[r["theme_id"]],
            "mentions": r["n"],
            "share": rate(r["n"], totals.get(r["bucket"])),
        }
        for r in read(THEMES, filters, by=("theme_id",), bucket=granularity)
        if r["theme_id"] in names
    ]
    return sorted(rows, key=lambda r: (r["period"], r["theme"]))


@shared
def theme_by_segment(*, filters: MetricFilters, language: str = "en") -> list[dict]:
    """Per segment (None: no segment) and theme: mentions and share of the segment's analysed comments."""
    totals = {r["segment_id"]: r["n"] for r in read(COMMENTS, filters, by=("segment_id",))}
    names = theme_names(language)
    rows = [
        {
            "segment_id": r["segment_id"],
            "theme_id": r["theme_id"],
            "theme": names[r["theme_id"]],
            "mentions": r["n"],
            "share": rate(r["n"], totals.get(r["segment_id"])),
        }
        for r in read(THEMES, filters, by=("segment_id", "theme_id"))
        if r["theme_id"] in names
    ]
    return sorted(rows, key=lambda r: (str(r["segment_id"]), r["theme"]))


@shared
def sentiment_trend(*, filters: MetricFilters, granularity: str = "month") -> list[dict]:
    by_bucket: dict = defaultdict(list)
    for row in read(COMMENTS, filters, by=("sentiment",), bucket=granularity):
        by_bucket[row["bucket"]].append(row)
    return [{"period": b, **_sentiment_counts(rows).as_dict()} for b, rows in sorted(by_bucket.items())]


def two_proportion_z(x1: int, n1: int, x2: int, n2: int) -> float | None:
    """z of p1 − p2 with the pooled standard error; None when it is undefined."""
    if not n1 or not n2:
        return None
    pooled = (x1 + x2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return None
    return (x1 / n1 - x2 / n2) / se


@shared
def emerging_themes(*, filters: MetricFilters, language: str = "en") -> list[dict]:
    """Themes whose share rose significantly against the previous period of the same length."""
    previous_filters = filters.previous_period()
    now_total = comment_sentiment(filters=filters).comments
    before_total = comment_sentiment(filters=previous_filters).comments
    before: dict[int, int] = defaultdict(int)
    for row in _theme_rows(filters=previous_filters):
        before[row["theme_id"]] += row["n"]
    found = []
    for figure in theme_figures(filters=filters, language=language):
        z = two_proportion_z(figure.mentions, now_total, before.get(figure.theme_id, 0), before_total)
        if z is not None and z >= Z_95:
            found.append(
                {
                    "theme_id": figure.theme_id,
                    "theme": figure.name,
                    "share": figure.share,
                    "previous_share": rate(before.get(figure.theme_id, 0), before_total),
                    "mentions": figure.mentions,
                    "z": z,
                    "p_value": math.erfc(z / math.sqrt(2)) / 2,  # one-sided: up
                }
            )
    return sorted(found, key=lambda f: -f["z"])
