"""Writes of the comments app: the taxonomy (admin edits go through here) and the analyses."""

from __future__ import annotations

import json
import multiprocessing
from collections import deque
from collections.abc import Iterable, Sequence
from datetime import timedelta

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from complaints.models import Complaint
from core.outbox import record_changes
from core.sweep import sweep
from surveys.models import Response

from .analysis import LANGUAGES, AnalysisError, ScoreEvidence, ThemeMatcher, analyse, stems
from .models import (
    CommentAnalysis,
    CommentTheme,
    ComplaintAnalysis,
    ComplaintTheme,
    TaxonomyVersion,
    Theme,
    ThemeSuggestion,
    ThemeTerm,
)
from .selectors import (
    complaints_edited_since_analysis,
    complaints_pending_analysis,
    complaints_with_summary,
    responses_pending_analysis,
    responses_with_comment,
    theme_matcher,
)

# A complaint's edited summary is re-analysed by the sweep within this long; older edits by the nightly catch-up.
EDIT_LOOKBACK = timedelta(days=1)

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


_FIELDS = ("pk", "comment", "language", "nps", "csat", "ces", "submitted_at")
Row = tuple  # one response as _FIELDS
Analysed = tuple[int, str, str, bool, dict[int, tuple[str, ...]]]  # pk, language, sentiment, from score, themes


def _rows(response_ids: Sequence[int]) -> list[Row]:
    return list(Response.objects.filter(pk__in=list(response_ids)).values_list(*_FIELDS))


def _analyse_rows(rows: list[Row], matcher: ThemeMatcher) -> list[Analysed]:
    """The engine over the rows; no database (so it can run in a worker process)."""
    found = []
    for pk, comment, language, nps, csat, ces, _submitted_at in rows:
        if comment.strip():
            result = analyse(comment, language, evidence_of(nps, csat, ces), matcher=matcher)
            found.append((pk, result.language, result.sentiment, result.sentiment_source == "score", result.themes))
    return found


def _store(rows: list[Row], analysed: list[Analysed], *, version: int) -> int:
    """Replace the rows' analyses by these, in one transaction, and record their days as changed."""
    now = timezone.now()
    submitted = {row[0]: row[6] for row in rows}
    with transaction.atomic():
        # The old analyses by the unique response index, then plain DELETEs by key (the ORM's cascade
        # would read every link first); new comments, the usual case, have none.
        old = list(CommentAnalysis.objects.filter(response_id__in=list(submitted)).values_list("pk", flat=True))
        if old:
            CommentTheme.objects.filter(analysis_id__in=old).delete()
            stale = CommentAnalysis.objects.filter(pk__in=old)
            stale._raw_delete(stale.db)
        if connection.vendor == "postgresql":
            _insert_postgresql(submitted, analysed, now=now, version=version)
        else:
            _insert_orm(submitted, analysed, now=now, version=version)
        record_changes(responses=list(submitted.values()))
    return len(analysed)


# The analyses and their theme links in one statement: the links find their analysis's new id by its
# response. A chunk of comments is one round trip and no model instance per row, which is where the
# time of bulk_create went at a million comments.
_INSERT_SQL = """
WITH analysis AS (
    INSERT INTO {analyses} (response_id, submitted_at, language, sentiment, sentiment_from_score, analysed_at,
                            taxonomy_version)
    SELECT response_id, submitted_at, language, sentiment, from_score, %(now)s, %(version)s
    FROM unnest(%(responses)s::bigint[], %(submitted)s::timestamptz[], %(languages)s::text[],
                %(sentiments)s::text[], %(from_score)s::boolean[])
         AS a(response_id, submitted_at, language, sentiment, from_score)
    RETURNING id, response_id
)
INSERT INTO {links} (analysis_id, theme_id, matched)
SELECT analysis.id, link.theme_id, link.matched
FROM unnest(%(link_responses)s::bigint[], %(themes)s::bigint[], %(matched)s::jsonb[])
     AS link(response_id, theme_id, matched)
JOIN analysis USING (response_id)
"""


def _insert_postgresql(submitted: dict, analysed: list[Analysed], *, now, version: int) -> None:
    links = [
        (pk, theme_id, json.dumps(list(matched)))
        for pk, *_r, themes in analysed
        for theme_id, matched in themes.items()
    ]
    sql = _INSERT_SQL.format(
        analyses=connection.ops.quote_name(CommentAnalysis._meta.db_table),
        links=connection.ops.quote_name(CommentTheme._meta.db_table),
    )
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            {
                "now": now,
                "version": version,
                "responses": [a[0] for a in analysed],
                "submitted": [submitted[a[0]] for a in analysed],
                "languages": [a[1] for a in analysed],
                "sentiments": [a[2] for a in analysed],
                "from_score": [a[3] for a in analysed],
                "link_responses": [link[0] for link in links],
                "themes": [link[1] for link in links],
                "matched": [link[2] for link in links],
            },
        )


def _insert_orm(submitted: dict, analysed: list[Analysed], *, now, version: int) -> None:
    created = CommentAnalysis.objects.bulk_create(
        [
            CommentAnalysis(
                response_id=pk,
                submitted_at=submitted[pk],
                language=language,
                sentiment=sentiment,
                sentiment_from_score=from_score,
                analysed_at=now,
                taxonomy_version=version,
            )
            for pk, language, sentiment, from_score, _themes in analysed
        ],
        batch_size=1000,
    )
    ids = _ids_of(created)
    CommentTheme.objects.bulk_create(
        [
            CommentTheme(analysis_id=ids[pk], theme_id=theme_id, matched=list(matched))
            for pk, _l, _s, _f, themes in analysed
            for theme_id, matched in themes.items()
        ],
        batch_size=2000,
    )


def comments_analyse(*, response_ids: Sequence[int]) -> int:
    """Analyse (or re-analyse) these responses' comments: their analyses are replaced in bulk, in one
    transaction, and the days they fall on are recorded as changed. Idempotent; responses without a
    comment lose any analysis they had. Returns how many were analysed."""
    matcher = theme_matcher()
    rows = _rows(response_ids)
    return _store(rows, _analyse_rows(rows, matcher), version=matcher.version)


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


_worker_matcher: ThemeMatcher | None = None


def _worker_start(matcher: ThemeMatcher) -> None:
    global _worker_matcher
    _worker_matcher = matcher


def _worker_analyse(rows: list[Row]) -> list[Analysed]:
    assert _worker_matcher is not None
    return _analyse_rows(rows, _worker_matcher)


def comments_catch_up(*, every: bool = False, chunk: int = 2000, processes: int = 1) -> int:
    """Analyse every comment without an analysis (a row the sweep's cursor slipped past), and with
    ``every`` re-analyse all of them (after a taxonomy change). Chunked by key, each chunk its own
    transaction; returns how many were analysed. With ``processes`` > 1 the engine runs in that many
    worker processes (it is CPU-bound) while this one reads and writes the database."""
    source = responses_with_comment() if every else responses_pending_analysis()
    matcher = theme_matcher()
    keys = list(source.order_by("pk").values_list("pk", flat=True))
    chunks = [keys[i : i + chunk] for i in range(0, len(keys), chunk)]
    if processes <= 1:
        return sum(_store(rows, _analyse_rows(rows, matcher), version=matcher.version) for rows in map(_rows, chunks))
    done = 0
    # Forked workers never touch the database; they end with os._exit, so the inherited connection
    # is left alone.
    with multiprocessing.get_context("fork").Pool(processes, _worker_start, (matcher,)) as pool:
        pending: deque = deque()
        for part in chunks:
            rows = _rows(part)
            pending.append((rows, pool.apply_async(_worker_analyse, (rows,))))
            while len(pending) > processes:
                rows, result = pending.popleft()
                done += _store(rows, result.get(), version=matcher.version)
        while pending:
            rows, result = pending.popleft()
            done += _store(rows, result.get(), version=matcher.version)
    return done


# --- complaints -------------------------------------------------------------------------------------


def complaints_analyse(*, complaint_ids: Sequence[int]) -> int:
    """Analyse (or re-analyse) these complaints' summaries: language, themes and the sentiment of the
    text (a complaint has no score). Their analyses are replaced in one transaction; a complaint without
    a summary loses any analysis it had. Idempotent; returns how many were analysed."""
    matcher = theme_matcher()
    # Stamped before the text is read: an edit saved while this runs is later than the analysis.
    now = timezone.now()
    rows = list(Complaint.objects.filter(pk__in=list(complaint_ids)).values_list("pk", "summary"))
    found = [(pk, analyse(summary, None, None, matcher=matcher)) for pk, summary in rows if summary.strip()]
    with transaction.atomic():
        ComplaintAnalysis.objects.filter(complaint_id__in=[pk for pk, _summary in rows]).delete()
        created = ComplaintAnalysis.objects.bulk_create(
            [
                ComplaintAnalysis(
                    complaint_id=pk,
                    language=result.language,
                    sentiment=result.sentiment,
                    analysed_at=now,
                    taxonomy_version=matcher.version,
                )
                for pk, result in found
            ],
            batch_size=1000,
        )
        ids = {a.complaint_id: a.pk for a in created}
        if not all(ids.values()):
            ids = dict(ComplaintAnalysis.objects.filter(complaint_id__in=list(ids)).values_list("complaint_id", "pk"))
        ComplaintTheme.objects.bulk_create(
            [
                ComplaintTheme(analysis_id=ids[pk], theme_id=theme_id, matched=list(matched))
                for pk, result in found
                for theme_id, matched in result.themes.items()
            ],
            batch_size=2000,
        )
    return len(found)


def complaints_analyse_pending(*, batch: int = 500) -> int:
    """One sweep over the new complaints (core.sweep), like the comments: up to ``batch`` of them; then
    up to ``batch`` complaints whose summary was edited in the last EDIT_LOOKBACK since their analysis
    (older edits, a worker that was down, wait for the nightly catch-up)."""
    with sweep("complaints", complaints_pending_analysis(), batch=batch) as keys:
        done = complaints_analyse(complaint_ids=keys) if keys else 0
    edited = complaints_edited_since_analysis(since=timezone.now() - EDIT_LOOKBACK)
    keys = list(edited.order_by("pk").values_list("pk", flat=True)[:batch])
    return done + (complaints_analyse(complaint_ids=keys) if keys else 0)


def complaints_catch_up(*, every: bool = False, chunk: int = 2000) -> int:
    """Analyse every complaint summary without an analysis or edited since it, and with ``every``
    re-analyse all of them (after a taxonomy change); chunked by key, each chunk its own transaction."""
    if every:
        keys = list(complaints_with_summary().order_by("pk").values_list("pk", flat=True))
    else:
        keys = sorted(
            {*complaints_pending_analysis().values_list("pk", flat=True)}
            | {*complaints_edited_since_analysis().values_list("pk", flat=True)}
        )
    return sum(complaints_analyse(complaint_ids=keys[i : i + chunk]) for i in range(0, len(keys), chunk))
