"""Reads of the comments app."""

from __future__ import annotations

from django.db.models import Exists, OuterRef, QuerySet

from complaints.models import Complaint
from complaints.privacy import ERASED_TEXT
from surveys.models import Response

from .analysis import Term, ThemeMatcher
from .models import CommentAnalysis, CommentTheme, ComplaintAnalysis, TaxonomyVersion, Theme, ThemeTerm

_matcher_cache: dict[str, ThemeMatcher] = {}


def taxonomy_version() -> int:
    row = TaxonomyVersion.objects.filter(pk=1).values_list("version", flat=True).first()
    return row or 1


def theme_matcher() -> ThemeMatcher:
    """The active taxonomy compiled, rebuilt when its version moved (one small query per call)."""
    version = taxonomy_version()
    cached = _matcher_cache.get("current")
    if cached is None or cached.version != version:
        terms = ThemeTerm.objects.filter(theme__active=True).values_list("theme_id", "language", "term")
        cached = ThemeMatcher([Term(*row) for row in terms], version=version)
        _matcher_cache["current"] = cached
    return cached


def responses_with_comment() -> QuerySet[Response]:
    return Response.objects.exclude(comment="")


def responses_pending_analysis() -> QuerySet[Response]:
    """Responses with a comment and no analysis yet (the sweep's anti-join)."""
    return responses_with_comment().filter(~Exists(CommentAnalysis.objects.filter(response=OuterRef("pk"))))


def complaints_with_summary() -> QuerySet[Complaint]:
    """Complaints and inquiries with a summary to analyse; an erased one keeps the analysis it had."""
    return Complaint.objects.exclude(summary="").exclude(summary=ERASED_TEXT)


def complaints_pending_analysis() -> QuerySet[Complaint]:
    """Complaints with a summary and no analysis yet (the sweep's anti-join)."""
    return complaints_with_summary().filter(~Exists(ComplaintAnalysis.objects.filter(complaint=OuterRef("pk"))))


def complaints_edited_since_analysis(*, since=None) -> QuerySet[Complaint]:
    """Complaints whose summary was edited after their analysis (edited at or after ``since``, when
    given: the sweep looks at recent edits through the index, the nightly catch-up at all of them)."""
    edited = complaints_with_summary().filter(summary_edited_at__isnull=False)
    if since is not None:
        edited = edited.filter(summary_edited_at__gte=since)
    stale = ComplaintAnalysis.objects.filter(complaint=OuterRef("pk"), analysed_at__lt=OuterRef("summary_edited_at"))
    return edited.filter(Exists(stale))


def theme_names(language: str = "en") -> dict[int, str]:
    """Every theme's name in a UI language, by id (inactive ones too: their past mentions stay named)."""
    return {t.pk: t.name_in(language) for t in Theme.objects.only("pk", "name", "name_es")}


def matched_words(*, response_ids: list[int], theme_id: int | None = None) -> dict[int, list[str]]:
    """The words of these responses' comments that matched (one theme, or any), by response."""
    links = CommentTheme.objects.filter(analysis__response_id__in=response_ids)
    if theme_id is not None:
        links = links.filter(theme_id=theme_id)
    found: dict[int, list[str]] = {}
    for response_id, matched in links.values_list("analysis__response_id", "matched"):
        found.setdefault(response_id, []).extend(matched)
    return found
