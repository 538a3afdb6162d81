"""Writes of the comments app: the taxonomy (admin edits go through here) and the analyses."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from core.outbox import record_changes
from core.sweep import sweep
from surveys.models import Response

from .analysis import LANGUAGES, AnalysisError, ScoreEvidence, analyse, stems
from .models import CommentAnalysis, CommentTheme, TaxonomyVersion, Theme, ThemeSuggestion, ThemeTerm
from .selectors import responses_pending_analysis, responses_with_comment, theme_matcher

# --- taxonomy ---------------------------------------------------------------------------------------


def _taxonomy_changed() -> None:
    updated = TaxonomyVersion.objects.filter(pk=1).update(version=F("version") + 1)
    if not updated:
        TaxonomyVersion.objects.create(pk=1, version=2)


def theme_create(*, name: str, name_es: str = "", active: bool = True) -> Theme:
    name = name.strip()
    if not name:
        raise AnalysisError("a theme needs a name")
    with transaction.atomic():
        theme = Theme.objects.create(name=name, name_es=name_es.strip(), active=active)
        _taxonomy_changed()
    return theme


def theme_update(*, theme: Theme, name: str, name_es: str, active: bool) -> Theme:
    if not name.strip():
        raise AnalysisError("a theme needs a name")
    with transaction.atomic():
        theme.name, theme.name_es, theme.active = name.strip(), name_es.strip(), active
        theme.save(update_fields=["name", "name_es", "active"])
        _taxonomy_changed()
    return theme


def theme_delete(*, theme: Theme) -> None:
    with transaction.atomic():
        theme.delete()
        _taxonomy_changed()


def theme_term_add(*, theme: Theme, language: str, term: str) -> ThemeTerm:
    if language not in LANGUAGES:
        raise AnalysisError(f"a term's language must be one of {', '.join(LANGUAGES)}, not {language!r}")
    term = " ".join(term.split())
    if not stems(term, language):
        raise AnalysisError(f"the term {term!r} has no words")
    with transaction.atomic():
        row, _created = ThemeTerm.objects.get_or_create(theme=theme, language=language, term=term)
        _taxonomy_changed()
    return row


def theme_term_remove(*, term: ThemeTerm) -> None:
    with transaction.atomic():
        term.delete()
        _taxonomy_changed()


def theme_suggestion_accept(*, suggestion: ThemeSuggestion, name: str, name_es: str = "", terms: int = 5) -> Theme:
    """A suggestion becomes a theme with its top terms in its language; the comments are re-analysed by
    ``comments_analyse --all`` (or the nightly catch-up of older taxonomy versions)."""
    with transaction.atomic():
        theme = theme_create(name=name, name_es=name_es)
        for term in suggestion.top_terms[:terms]:
            theme_term_add(theme=theme, language=suggestion.language, term=term)
        ThemeSuggestion.objects.filter(pk=suggestion.pk).update(status=ThemeSuggestion.Status.ACCEPTED, theme=theme)
    return theme


def theme_suggestion_dismiss(*, suggestion: ThemeSuggestion) -> None:
    ThemeSuggestion.objects.filter(pk=suggestion.pk).update(status=ThemeSuggestion.Status.DISMISSED)


# --- analysis ---------------------------------------------------------------------------------------


def evidence_of(nps: int | None, csat: int | None, ces: int | None) -> ScoreEvidence | None:
    """The respondent's own score: NPS first, then CSAT, then CES."""
    for question, value in (("nps", nps), ("csat", csat), ("ces", ces)):
        if value is not None:
            return ScoreEvidence(question, value)
    return None


def comments_analyse(*, response_ids: Sequence[int]) -> int:
    """Analyse (or re-analyse) these responses' comments: their analyses are replaced in bulk, in one
    transaction, and the days they fall on are recorded as changed. Idempotent; responses without a
    comment lose any analysis they had. Returns how many were analysed."""
    matcher = theme_matcher()
    now = timezone.now()
    fields = ("pk", "comment", "language", "nps", "csat", "ces", "submitted_at")
    rows = list(Response.objects.filter(pk__in=list(response_ids)).values_list(*fields))
    analyses, links = [], []
    for pk, comment, language, nps, csat, ces, submitted_at in rows:
        if not comment.strip():
            continue
        result = analyse(comment, language, evidence_of(nps, csat, ces), matcher=matcher)
        analyses.append(
            CommentAnalysis(
                response_id=pk,
                submitted_at=submitted_at,
                language=result.language,
                sentiment=result.sentiment,
                sentiment_from_score=result.sentiment_source == "score",
                analysed_at=now,
                taxonomy_version=matcher.version,
            )
        )
        links.append(result.themes)
    with transaction.atomic():
        CommentAnalysis.objects.filter(response_id__in=[r[0] for r in rows]).delete()
        created = CommentAnalysis.objects.bulk_create(analyses, batch_size=1000)
        ids = _ids_of(created)
        CommentTheme.objects.bulk_create(
            [
                CommentTheme(analysis_id=ids[a.response_id], theme_id=theme_id, matched=list(matched))
                for a, themes in zip(created, links, strict=True)
                for theme_id, matched in themes.items()
            ],
            batch_size=2000,
        )
        record_changes(responses=[r[6] for r in rows])
    return len(analyses)


def _ids_of(created: Iterable[CommentAnalysis]) -> dict[int, int]:
    """Analysis ids by response (bulk_create sets them on PostgreSQL and SQLite; read back otherwise)."""
    created = list(created)
    if all(a.pk for a in created):
        return {a.response_id: a.pk for a in created}
    return dict(
        CommentAnalysis.objects.filter(response_id__in=[a.response_id for a in created]).values_list(
            "response_id", "pk"
        )
    )


def comments_analyse_pending(*, batch: int = 500) -> int:
    """One sweep over the new comments (core.sweep): handles up to ``batch`` of them."""
    with sweep("comments", responses_pending_analysis(), batch=batch) as keys:
        return comments_analyse(response_ids=keys) if keys else 0


def comments_catch_up(*, every: bool = False, chunk: int = 2000) -> int:
    """Analyse every comment without an analysis (a row the sweep's cursor slipped past), and with
    ``every`` re-analyse all of them (after a taxonomy change). Chunked by key, each chunk its own
    transaction; returns how many were analysed."""
    source = responses_with_comment() if every else responses_pending_analysis()
    done, last = 0, 0
    while True:
        keys = list(source.filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)[:chunk])
        if not keys:
            return done
        done += comments_analyse(response_ids=keys)
        last = keys[-1]
