"""Surveys, their questions, invitations and responses.

A response keeps every answer (``answers``) and, for fast aggregation over
millions of rows, the standard scores in their own columns together with the
dimensions the dashboards filter on (a snapshot taken when the customer answered).
"""

from __future__ import annotations

from datetime import timedelta

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from core.definitions import LINK_VALID_DAYS, SCALES, SCORE_QUESTIONS, scale_text
from customers.models import Audience, Customer, Segment


class SurveyType(models.TextChoices):
    RELATIONAL = "relational", _("relational")
    TRANSACTIONAL = "transactional", _("transactional")


class Touchpoint(models.TextChoices):
    RELATIONSHIP = "relationship", _("overall relationship")
    ONBOARDING = "onboarding", _("onboarding")
    PURCHASE = "purchase", _("purchase")
    DELIVERY = "delivery", _("delivery")
    SUPPORT = "support", _("support case")
    RENEWAL = "renewal", _("renewal")


class Language(models.TextChoices):
    EN = "en", _("English")
    ES = "es", _("Spanish")


class Channel(models.TextChoices):
    EMAIL = "email", _("email invitation")
    PUBLIC = "public", _("public link")
    API = "api", _("API trigger")
    IMPORT = "import", _("import")


class Survey(models.Model):
    name = models.CharField(_("name"), max_length=150)
    slug = models.SlugField(_("slug"), max_length=80, unique=True)
    survey_type = models.CharField(_("type"), max_length=15, choices=SurveyType.choices)
    touchpoint = models.CharField(_("touchpoint"), max_length=15, choices=Touchpoint.choices)
    audience = models.CharField(_("audience"), max_length=3, choices=Audience.choices, default=Audience.B2B)
    languages = models.JSONField(_("languages"), default=list, help_text=_('Language codes, e.g. ["en", "es"].'))
    title_en = models.CharField(_("title (English)"), max_length=200, blank=True)
    title_es = models.CharField(_("title (Spanish)"), max_length=200, blank=True)
    intro_en = models.TextField(_("intro (English)"), blank=True)
    intro_es = models.TextField(_("intro (Spanish)"), blank=True)
    thanks_en = models.TextField(_("thank-you text (English)"), blank=True)
    thanks_es = models.TextField(_("thank-you text (Spanish)"), blank=True)
    email_subject_en = models.CharField(_("email subject (English)"), max_length=200, blank=True)
    email_subject_es = models.CharField(_("email subject (Spanish)"), max_length=200, blank=True)
    opens_at = models.DateTimeField(_("opens"), null=True, blank=True)
    closes_at = models.DateTimeField(_("closes"), null=True, blank=True)
    allow_public_link = models.BooleanField(_("allow anonymous public link"), default=False)
    reminder_delay_days = models.PositiveSmallIntegerField(
        _("reminder delay (days)"), null=True, blank=True, help_text=_("Empty: no reminder.")
    )
    contact_policy_days = models.PositiveSmallIntegerField(
        _("contact policy override (days)"),
        null=True,
        blank=True,
        help_text=_("Empty: use the site-wide contact policy."),
    )
    # The next step the thank-you page offers, by the NPS category of the answer. Promoters: a link (a
    # review site, a referral invitation) with its label; detractors: a text such as "we will be in
    # touch", for surveys whose detractors are followed up. Empty: no next step.
    next_promoter_url = models.URLField(
        _("next step for promoters: link"),
        blank=True,
        help_text=_("E.g. the page of a review site or of the referral programme, shown after a score of 9 or 10."),
    )
    next_promoter_label_en = models.CharField(
        _("next step for promoters: link text (English)"), max_length=150, blank=True
    )
    next_promoter_label_es = models.CharField(
        _("next step for promoters: link text (Spanish)"), max_length=150, blank=True
    )
    next_detractor_text_en = models.TextField(_("next step for detractors (English)"), blank=True)
    next_detractor_text_es = models.TextField(_("next step for detractors (Spanish)"), blank=True)
    link_valid_days = models.PositiveSmallIntegerField(
        _("personal links valid for (days)"),
        default=LINK_VALID_DAYS,
        validators=[MinValueValidator(1)],
        help_text=_("Counted from when the invitation was sent; an older link shows that it has expired."),
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("survey")
        verbose_name_plural = _("surveys")

    def __str__(self) -> str:
        return self.name

    @property
    def language_codes(self) -> list[str]:
        """The survey's languages in the admin's order; English when none is set."""
        codes = [code for code in (self.languages or []) if code in Language.values]
        return codes or [Language.EN]

    def pick_language(self, *candidates: str | None) -> str:
        """The first candidate the survey is offered in (``es-MX`` counts as ``es``), else its first language."""
        for candidate in candidates:
            code = (candidate or "")[:2].lower()
            if code in self.language_codes:
                return code
        return self.language_codes[0]

    def text(self, field: str, language: str) -> str:
        """A customer-facing text in ``language``, falling back to English when that one is blank."""
        return getattr(self, f"{field}_{language}", "") or getattr(self, f"{field}_en", "")

    def is_open(self, at) -> bool:
        if self.opens_at and at < self.opens_at:
            return False
        return not (self.closes_at and at >= self.closes_at)


class Question(models.Model):
    class Kind(models.TextChoices):
        NPS = "nps", format_lazy("{} ({})", _("NPS"), scale_text("nps"))
        CSAT = "csat", format_lazy("{} ({})", _("CSAT"), scale_text("csat"))
        CES = "ces", format_lazy("{} ({})", _("CES, agreement"), scale_text("ces"))
        LIKELIHOOD_SWITCH = (
            "likelihood_switch",
            format_lazy("{} ({})", _("likelihood to switch to a competitor"), scale_text("likelihood_switch")),
        )
        LIKELIHOOD_REPURCHASE = (
            "likelihood_repurchase",
            format_lazy("{} ({})", _("likelihood to repurchase"), scale_text("likelihood_repurchase")),
        )
        OVERALL = "overall", format_lazy("{} ({})", _("overall experience"), scale_text("overall"))
        ATTRIBUTE = "attribute", format_lazy("{} ({})", _("attribute rating"), scale_text("attribute"))
        TRUST = "trust", format_lazy("{} ({})", _("trust"), scale_text("trust"))
        TEXT = "text", _("free text")
        CHOICE = "choice", _("single choice")

    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="questions")
    order = models.PositiveSmallIntegerField(_("order"), default=0)
    kind = models.CharField(_("kind"), max_length=25, choices=Kind.choices)
    text_en = models.CharField(_("text (English)"), max_length=300)
    text_es = models.CharField(_("text (Spanish)"), max_length=300, blank=True)
    attribute = models.CharField(
        _("attribute"), max_length=80, blank=True, help_text=_('For attribute ratings, e.g. "delivery speed".')
    )
    # The attribute's name as managers read it on Spanish dashboards; the English name is its key.
    attribute_es = models.CharField(_("attribute (Spanish)"), max_length=80, blank=True)
    choices_en = models.JSONField(_("choices (English)"), default=list, blank=True)
    choices_es = models.JSONField(_("choices (Spanish)"), default=list, blank=True)
    required = models.BooleanField(_("required"), default=True)

    class Meta:
        ordering = ["survey", "order", "id"]
        verbose_name = _("question")
        verbose_name_plural = _("questions")

    def __str__(self) -> str:
        return self.text_en

    @property
    def scale(self) -> tuple[int, int] | None:
        """The answer scale of a scored question (core.definitions), None for text and choices."""
        return SCALES.get(self.kind)

    def text_in(self, language: str) -> str:
        return getattr(self, f"text_{language}", "") or self.text_en

    def choices_in(self, language: str) -> list[str]:
        return list(getattr(self, f"choices_{language}", None) or self.choices_en or [])


class Invitation(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", _("queued")
        SENT = "sent", _("sent")
        FAILED = "failed", _("failed")
        BOUNCED = "bounced", _("bounced")

    # No single-column indexes on survey and customer: invitation_survey_status and
    # invitation_customer_created lead with them (one index less to write per invitation and per
    # status change).
    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="invitations", db_index=False)
    # Kept without the customer when the customer is deleted: it was sent all the same. Its link then
    # no longer opens.
    customer = models.ForeignKey(
        Customer, on_delete=models.SET_NULL, null=True, related_name="invitations", db_index=False
    )
    # Unique by a constraint rather than unique=True, which on PostgreSQL adds a second (LIKE) index
    # beside the unique one; tokens are only ever looked up by equality.
    token = models.CharField(max_length=64)
    language = models.CharField(max_length=2, choices=Language.choices, default=Language.EN)
    # Snapshot for response rate by segment.
    segment = models.ForeignKey(Segment, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    channel = models.CharField(max_length=10, choices=Channel.choices, default=Channel.EMAIL)
    idempotency_key = models.CharField(max_length=200, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    opened_at = models.DateTimeField(null=True, blank=True)
    responded_at = models.DateTimeField(null=True, blank=True)
    reminded_at = models.DateTimeField(null=True, blank=True)
    # Set while a worker sends this invitation, so two workers never send it twice.
    claimed_at = models.DateTimeField(null=True, blank=True, editable=False)
    # When the queued task that sends it is due (batches are spaced out, retries back off): a queued
    # invitation still unclaimed well after it lost its task and is queued again.
    send_due_at = models.DateTimeField(null=True, blank=True, editable=False)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)

    class Meta:
        verbose_name = _("invitation")
        verbose_name_plural = _("invitations")
        constraints = [
            models.UniqueConstraint(fields=["token"], name="invitation_unique_token"),
            models.UniqueConstraint(
                fields=["survey", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="invitation_unique_idempotency_key",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "sent_at"], name="invitation_status_sent"),
            models.Index(fields=["customer", "created_at"], name="invitation_customer_created"),
            models.Index(fields=["survey", "status"], name="invitation_survey_status"),
        ]

    def __str__(self) -> str:
        return f"{self.survey} → {self.customer}"

    def link_expires_at(self):
        """The personal link answers until then: the survey's validity counted from the sending (from the
        creation when it was never sent)."""
        return (self.sent_at or self.created_at) + timedelta(days=self.survey.link_valid_days)


def _score(name: str, question: str):
    low, high = SCALES[question]
    return models.SmallIntegerField(
        name, null=True, blank=True, validators=[MinValueValidator(low), MaxValueValidator(high)]
    )


def _in_scale(question: str) -> models.CheckConstraint:
    low, high = SCALES[question]
    short = question.removeprefix("likelihood_")
    return models.CheckConstraint(
        condition=Q(**{f"{question}__gte": low, f"{question}__lte": high}) | Q(**{f"{question}__isnull": True}),
        name=f"response_{short}_range",
    )


class Response(models.Model):
    # survey, customer and segment have no single-column index: the composite indexes below lead with
    # them (three indexes less to write per response).
    survey = models.ForeignKey(Survey, on_delete=models.PROTECT, related_name="responses", db_index=False)
    # One response per invitation, enforced by the database (safe under concurrent submits).
    invitation = models.OneToOneField(
        Invitation, on_delete=models.SET_NULL, null=True, blank=True, related_name="response"
    )
    customer = models.ForeignKey(
        Customer, on_delete=models.SET_NULL, null=True, blank=True, related_name="responses", db_index=False
    )
    # Snapshots taken when the customer answered: the dashboards filter on these.
    segment = models.ForeignKey(
        Segment, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", db_index=False
    )
    survey_type = models.CharField(max_length=15, choices=SurveyType.choices)
    touchpoint = models.CharField(max_length=15, choices=Touchpoint.choices)
    audience = models.CharField(max_length=3, choices=Audience.choices)
    language = models.CharField(max_length=2, choices=Language.choices, default=Language.EN)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    submitted_at = models.DateTimeField(_("submitted"))
    external_id = models.CharField(_("imported response id"), max_length=100, blank=True, default="")
    nps = _score("NPS", "nps")
    csat = _score("CSAT", "csat")
    ces = _score("CES", "ces")
    likelihood_switch = _score(_("likelihood to switch"), "likelihood_switch")
    likelihood_repurchase = _score(_("likelihood to repurchase"), "likelihood_repurchase")
    overall = _score(_("overall experience"), "overall")
    trust = _score(_("trust"), "trust")
    comment = models.TextField(_("comment"), blank=True)
    answers = models.JSONField(_("answers"), default=dict, blank=True)
    # Only the score the customer clicked in the invitation email so far: the rest of the form may still
    # be sent with the same link, and updates this response.
    # db_default: the bulk loaders (imports, the demo data) write rows without naming this column.
    partial = models.BooleanField(_("only the score from the email"), default=False, db_default=False)

    class Meta:
        verbose_name = _("response")
        verbose_name_plural = _("responses")
        constraints = [
            models.UniqueConstraint(
                fields=["survey", "external_id"], condition=~Q(external_id=""), name="response_unique_external_id"
            ),
            *(_in_scale(question) for question in SCORE_QUESTIONS),
        ]
        indexes = [
            models.Index(fields=["submitted_at"], name="response_submitted"),
            models.Index(fields=["segment", "submitted_at"], name="response_segment_submitted"),
            models.Index(fields=["survey", "submitted_at"], name="response_survey_submitted"),
            # A customer's answers in a window (their NPS category at a moment, "lost after an incident"),
            # from the index alone.
            models.Index(
                fields=["customer", "submitted_at"], include=["nps", "ces", "csat"], name="response_customer_scores"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.survey} {self.submitted_at:%Y-%m-%d}"


class AttributeScore(models.Model):
    """One attribute rating of a response, with the response's dimensions copied for aggregation."""

    # No single-column index: attributescore_unique leads with the response.
    response = models.ForeignKey(Response, on_delete=models.CASCADE, related_name="attribute_scores", db_index=False)
    attribute = models.CharField(max_length=80)
    score = models.SmallIntegerField(
        validators=[MinValueValidator(SCALES["attribute"][0]), MaxValueValidator(SCALES["attribute"][1])]
    )
    submitted_at = models.DateTimeField()
    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="+")
    segment = models.ForeignKey(Segment, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["response", "attribute"], name="attributescore_unique"),
            models.CheckConstraint(
                condition=Q(score__gte=SCALES["attribute"][0], score__lte=SCALES["attribute"][1]),
                name="attributescore_range",
            ),
        ]
        indexes = [models.Index(fields=["submitted_at", "attribute"], name="attributescore_submitted")]

    def __str__(self) -> str:
        return f"{self.attribute}: {self.score}"
