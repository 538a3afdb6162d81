"""Ranks of value segments a sync or an import created from names it met (Segment.ranks_confirmed)."""

from __future__ import annotations

from django.db import transaction
from django.db.models import Avg, Max, QuerySet

from customers.models import Segment


def segments_rank_by_value() -> list[Segment]:
    """Rank the unconfirmed segments by their customers' mean value, the most valuable highest, among
    the ranks they hold (a confirmed segment keeps its rank). A segment without customers ranks lowest;
    ties go by name. Returns the unconfirmed segments, highest rank first. A fixed number of queries."""
    with transaction.atomic():
        segments = list(Segment.objects.select_for_update().filter(ranks_confirmed=False))
        if not segments:
            return []
        means = dict(
            Segment.objects.filter(pk__in=[s.pk for s in segments])
            .annotate(mean=Avg("customers__value"))
            .values_list("pk", "mean")
        )
        ranks = sorted(s.rank for s in segments)
        ordered = sorted(segments, key=lambda s: (means.get(s.pk) is not None, means.get(s.pk) or 0, s.name))
        if [s.rank for s in ordered] != ranks:
            # Ranks are unique: move the segments above every rank first, then to their places.
            top = Segment.objects.aggregate(top=Max("rank"))["top"] or 0
            for i, segment in enumerate(ordered, start=1):
                segment.rank = top + i
            Segment.objects.bulk_update(ordered, ["rank"])
            for segment, rank in zip(ordered, ranks, strict=True):
                segment.rank = rank
            Segment.objects.bulk_update(ordered, ["rank"])
        for segment in ordered:
            segment.mean_value = means.get(segment.pk)
        return ordered[::-1]


def segments_ranks_confirm(*, segments: QuerySet[Segment] | None = None) -> int:
    """Confirm the ranks of these segments (default: every unconfirmed one): they keep their rank."""
    segments = Segment.objects.all() if segments is None else segments
    return segments.filter(ranks_confirmed=False).update(ranks_confirmed=True)
