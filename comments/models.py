"""The theme taxonomy (editable in the admin through the services) and each comment's analysis."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from complaints.models import Complaint
from surveys.models import Response

from .analysis import LANGUAGES, OTHER, SENTIMENTS


class TermLanguage(models.TextChoices):
    EN = "en", _("English")
    ES = "es", _("Spanish")
    PT = "pt", _("Portuguese")
    FR = "fr", _("French")


class CommentLanguage(models.TextChoices):
    EN = "en", _("English")
    ES = "es", _("Spanish")
    PT = "pt", _("Portuguese")
    FR = "fr", _("French")
    OTHER = OTHER, _("Other")


class Sentiment(models.TextChoices):
    NEGATIVE = "negative", _("negative")
    NEUTRAL = "neutral", _("neutral")
    POSITIVE = "positive", _("positive")


assert tuple(TermLanguage.values) == LANGUAGES and tuple(Sentiment.values) == SENTIMENTS


class Theme(models.Model):
    name = models.CharField(_("name"), max_length=80, unique=True)
    name_es = models.CharField(_("name in Spanish"), max_length=80, blank=True)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("theme")
        verbose_name_plural = _("themes")

    def __str__(self) -> str:
        return self.name

    def name_in(self, language: str) -> str:
        return (self.name_es if language == "es" else "") or self.name


class ThemeTerm(models.Model):
    """A keyword, lemma or phrase marking the theme in one language; inflections and accents need no
    entry of their own (comments.analysis)."""

    theme = models.ForeignKey(Theme, on_delete=models.CASCADE, related_name="terms")
    language = models.CharField(_("language"), max_length=2, choices=TermLanguage.choices)
    term = models.CharField(_("term"), max_length=80)

    class Meta:
        ordering = ["theme", "language", "term"]
        constraints = [models.UniqueConstraint(fields=["theme", "language", "term"], name="themeterm_unique")]
        verbose_name = _("theme term")
        verbose_name_plural = _("theme terms")

    def __str__(self) -> str:
        return f"{self.theme}: {self.term} ({self.language})"


class TaxonomyVersion(models.Model):
    """One row: bumped by every taxonomy service, so an analysis made with an older taxonomy is known."""

    version = models.PositiveIntegerField(default=1)

    def __str__(self) -> str:
        return str(self.version)


class CommentAnalysis(models.Model):
    """The analysis of one response's comment: one per response (unique), replaced when re-analysed."""

    response = models.OneToOneField(Response, on_delete=models.CASCADE, related_name="comment_analysis")
    # The response's own time, so a period's analyses are read by an index without the join.
    submitted_at = models.DateTimeField()
    language = models.CharField(_("language"), max_length=5, choices=CommentLanguage.choices)
    sentiment = models.CharField(_("sentiment"), max_length=8, choices=Sentiment.choices)
    sentiment_from_score = models.BooleanField(_("sentiment from the score"), default=False)
    themes = models.ManyToManyField(Theme, through="CommentTheme", related_name="+")
    analysed_at = models.DateTimeField(_("analysed at"))
    taxonomy_version = models.PositiveIntegerField()

    class Meta:
        indexes = [
            models.Index(fields=["submitted_at"], name="commentanalysis_submitted"),
            models.Index(fields=["taxonomy_version"], name="commentanalysis_version"),
        ]
        verbose_name = _("comment analysis")
        verbose_name_plural = _("comment analyses")

    def __str__(self) -> str:
        return f"{self.response_id}: {self.language} {self.sentiment}"


class CommentTheme(models.Model):
    # No index of their own on the two keys: the unique (analysis, theme) and the (theme, analysis)
    # indexes serve their lookups and cascades, and every index is paid on each of a million inserts.
    analysis = models.ForeignKey(CommentAnalysis, on_delete=models.CASCADE, related_name="theme_links", db_index=False)
    theme = models.ForeignKey(Theme, on_delete=models.CASCADE, related_name="comment_links", db_index=False)
    matched = models.JSONField(default=list)  # the comment's words that matched, as written, to highlight

    class Meta:
        constraints = [models.UniqueConstraint(fields=["analysis", "theme"], name="commenttheme_unique")]
        indexes = [models.Index(fields=["theme", "analysis"], name="commenttheme_theme")]

    def __str__(self) -> str:
        return f"{self.analysis_id}: {self.theme_id}"


class ComplaintAnalysis(models.Model):
    """The analysis of one complaint's (or inquiry's) summary: one per complaint, replaced when
    re-analysed. There is no score, so the sentiment always comes from the text."""

    complaint = models.OneToOneField(Complaint, on_delete=models.CASCADE, related_name="analysis")
    language = models.CharField(_("language"), max_length=5, choices=CommentLanguage.choices)
    sentiment = models.CharField(_("sentiment"), max_length=8, choices=Sentiment.choices)
    themes = models.ManyToManyField(Theme, through="ComplaintTheme", related_name="+")
    analysed_at = models.DateTimeField(_("analysed at"))
    taxonomy_version = models.PositiveIntegerField()

    class Meta:
        verbose_name = _("complaint analysis")
        verbose_name_plural = _("complaint analyses")

    def __str__(self) -> str:
        return f"{self.complaint_id}: {self.language} {self.sentiment}"


class ComplaintTheme(models.Model):
    analysis = models.ForeignKey(
        ComplaintAnalysis, on_delete=models.CASCADE, related_name="theme_links", db_index=False
    )
    theme = models.ForeignKey(Theme, on_delete=models.CASCADE, related_name="complaint_links", db_index=False)
    matched = models.JSONField(default=list)  # the summary's words that matched, as written, to highlight

    class Meta:
        constraints = [models.UniqueConstraint(fields=["analysis", "theme"], name="complainttheme_unique")]
        indexes = [models.Index(fields=["theme", "analysis"], name="complainttheme_theme")]

    def __str__(self) -> str:
        return f"{self.analysis_id}: {self.theme_id}"


class ThemeSuggestion(models.Model):
    """A candidate theme found among comments that matched none (comments.suggestions)."""

    class Status(models.TextChoices):
        OPEN = "open", _("open")
        ACCEPTED = "accepted", _("accepted")
        DISMISSED = "dismissed", _("dismissed")

    language = models.CharField(_("language"), max_length=2, choices=TermLanguage.choices)
    top_terms = models.JSONField(_("top terms"), default=list)
    examples = models.JSONField(_("example comments"), default=list)
    size = models.PositiveIntegerField(_("comments"))
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(auto_now_add=True)
    theme = models.ForeignKey(Theme, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")

    class Meta:
        ordering = ["-created_at", "-size"]
        verbose_name = _("theme suggestion")
        verbose_name_plural = _("theme suggestions")

    def __str__(self) -> str:
        return ", ".join(self.top_terms[:5])
