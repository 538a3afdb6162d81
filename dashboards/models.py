"""Daily rollups of the survey metrics (issue 6): per local day and dimension, the counters every
survey metric is computed from, so that a period costs a few hundred small rows instead of every
response behind it.

The rollups are a cache, never the truth. ``dashboards.metrics.survey`` reads them only for
*clean* days (``day <= RollupState.rolled_up_through`` and not marked dirty) and aggregates the
raw rows for every other day of the period, so a figure is exact whether or not the worker has
run. ``dashboards.rollups`` writes them.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from crm_sync.models import Audience, Segment
from surveys.models import Survey, SurveyType, Touchpoint

# Score columns of Response and their scales (shared/METRICS.md); one counter per score.
SCORE_SCALES: dict[str, tuple[int, int]] = {
    "nps": (0, 10),
    "csat": (1, 5),
    "ces": (1, 7),
    "likelihood_switch": (0, 10),
    "likelihood_repurchase": (0, 10),
    "overall": (1, 5),
}


def score_counter(question: str, score: int) -> str:
    """The ResponseDaily column counting the answers ``score`` to ``question``, e.g. ``nps_9``."""
    return f"{question}_{score}"


# The counts and sums the score metrics are computed from: the aggregates of the raw reference
# (dashboards.metrics.survey._score_aggregates), by the same names, kept per day and group.
SCORE_TOTALS: list[str] = [
    "nps_promoters",
    "nps_passives",
    "nps_detractors",
    "csat_n",
    "csat_satisfied",
    "csat_sum",
    "ces_n",
    "ces_easy",
    "ces_sum",
    "switch_n",
    "switch_at_risk",
    "switch_sum",
    "repurchase_n",
    "repurchase_likely",
    "repurchase_sum",
    "overall_n",
    "overall_sum",
]

SCORE_COUNTERS: list[tuple[str, int, str]] = [
    (question, score, score_counter(question, score))
    for question, (low, high) in SCORE_SCALES.items()
    for score in range(low, high + 1)
]


class ResponseDaily(models.Model):
    """Responses submitted on ``day`` (local date of ``submitted_at`` in settings.TIME_ZONE) per
    survey and snapshot dimensions: the counts and sums every score metric is computed from
    (SCORE_TOTALS: promoters, answered, satisfied, sum of the scores …) and the distribution of every
    score (SCORE_COUNTERS, for score_distribution). All are additive over days and groups."""

    day = models.DateField()
    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="+")
    # SET_NULL like Response.segment, so deleting a segment keeps the rollups equal to the raw rows.
    segment = models.ForeignKey(Segment, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    survey_type = models.CharField(max_length=15, choices=SurveyType.choices)
    touchpoint = models.CharField(max_length=15, choices=Touchpoint.choices)
    audience = models.CharField(max_length=3, choices=Audience.choices)
    responses = models.PositiveIntegerField(default=0)
    # The SCORE_TOTALS (nps_promoters … overall_sum) and the SCORE_COUNTERS (nps_0 … overall_5) are
    # added below, one PositiveIntegerField each.

    class Meta:
        verbose_name = _("daily response rollup")
        verbose_name_plural = _("daily response rollups")
        constraints = [
            # NULL segments are distinct here (SQLite has no NULLS NOT DISTINCT, and a segment deleted
            # by SET_NULL may meet an existing NULL row); one writer at a time is guaranteed by the
            # RollupState row lock every rollup write holds (dashboards.rollups).
            models.UniqueConstraint(
                fields=["day", "survey", "segment", "survey_type", "touchpoint", "audience"],
                name="responsedaily_unique",
            ),
        ]
        indexes = [models.Index(fields=["day"], name="responsedaily_day")]

    def __str__(self) -> str:
        return f"{self.day} {self.survey_id} {self.segment_id}"


# The joint distribution of overall experience (1-5) with each key metric (0-10): the (x, y, count)
# tables Spearman's rho is computed from (dashboards.metrics.combined.key_metric_links).
PAIR_QUESTIONS = ("nps", "likelihood_switch", "likelihood_repurchase")
PAIR_COUNTERS: list[tuple[int, str, int, str]] = [
    (x, question, y, f"overall_{x}_{question}_{y}")
    for question in PAIR_QUESTIONS
    for x in range(1, 6)
    for y in range(11)
]

# Responses with a comment, in all and by NPS category (the comment list's count on the survey page).
COMMENT_COUNTERS: dict[str, str] = {
    "": "comments",
    "promoter": "comments_promoter",
    "passive": "comments_passive",
    "detractor": "comments_detractor",
}

for _column in [
    *SCORE_TOTALS,
    *(column for _question, _score, column in SCORE_COUNTERS),
    *(column for _x, _question, _y, column in PAIR_COUNTERS),
    *COMMENT_COUNTERS.values(),
]:
    ResponseDaily.add_to_class(_column, models.PositiveIntegerField(default=0))


class AttributeDaily(models.Model):
    """Attribute ratings of the responses submitted on ``day``: count and sum per attribute, with the
    response's snapshot dimensions (the raw metric filters on them through the response)."""

    day = models.DateField()
    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="+")
    segment = models.ForeignKey(Segment, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    survey_type = models.CharField(max_length=15, choices=SurveyType.choices)
    touchpoint = models.CharField(max_length=15, choices=Touchpoint.choices)
    audience = models.CharField(max_length=3, choices=Audience.choices)
    attribute = models.CharField(max_length=80)
    n = models.PositiveIntegerField(default=0)
    total = models.BigIntegerField(default=0)

    class Meta:
        verbose_name = _("daily attribute rollup")
        verbose_name_plural = _("daily attribute rollups")
        constraints = [
            models.UniqueConstraint(
                fields=["day", "survey", "segment", "survey_type", "touchpoint", "audience", "attribute"],
                name="attributedaily_unique",
            ),
        ]
        indexes = [models.Index(fields=["day"], name="attributedaily_day")]

    def __str__(self) -> str:
        return f"{self.day} {self.attribute}"


# The joint distribution of an attribute's rating (1-5) with the NPS answer of the same response
# (0-10), for driver importance (dashboards.metrics.combined.driver_importance).
ATTRIBUTE_NPS_COUNTERS: list[tuple[int, int, str]] = [
    (score, nps, f"score_{score}_nps_{nps}") for score in range(1, 6) for nps in range(11)
]
for _score, _nps, _column in ATTRIBUTE_NPS_COUNTERS:
    AttributeDaily.add_to_class(_column, models.PositiveIntegerField(default=0))


class InvitationDaily(models.Model):
    """Invitations sent on ``day`` (local date of ``sent_at``, status "sent") per survey and segment
    snapshot. ``responded`` counts those whose response was submitted before
    ``RollupState.responses_cutoff``; the read path adds the later ones from the raw rows, so a late
    answer to an old invitation counts at once. The survey's type, touchpoint and audience are not
    copied: the raw metric filters on the survey's current values, so the rollup joins the survey."""

    day = models.DateField()
    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="+")
    segment = models.ForeignKey(Segment, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    sent = models.PositiveIntegerField(default=0)
    responded = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("daily invitation rollup")
        verbose_name_plural = _("daily invitation rollups")
        constraints = [
            models.UniqueConstraint(fields=["day", "survey", "segment"], name="invitationdaily_unique"),
        ]
        indexes = [models.Index(fields=["day"], name="invitationdaily_day")]

    def __str__(self) -> str:
        return f"{self.day} {self.survey_id} {self.segment_id}"


class RollupState(models.Model):
    """The single row (pk=1) saying which days the rollups cover. Every rollup write locks it, so
    refreshes and rebuilds never interleave. A change of TIME_ZONE needs ``rollups_rebuild``."""

    SINGLETON = 1

    rolled_up_through = models.DateField(null=True, blank=True)
    # InvitationDaily.responded counts responses submitted before this instant.
    responses_cutoff = models.DateTimeField(null=True, blank=True)
    refreshed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("rollup state")
        verbose_name_plural = _("rollup state")

    def __str__(self) -> str:
        return f"rolled up through {self.rolled_up_through}"


class RollupDirtyDay(models.Model):
    """A day whose raw rows changed after it was rolled up (e.g. an import of old responses): the read
    path aggregates the raw rows for it until a refresh recomputes it."""

    class Kind(models.TextChoices):
        RESPONSE = "response", _("responses")
        INVITATION = "invitation", _("invitations")

    kind = models.CharField(max_length=10, choices=Kind.choices)
    day = models.DateField()
    marked_at = models.DateTimeField()

    class Meta:
        verbose_name = _("dirty rollup day")
        verbose_name_plural = _("dirty rollup days")
        constraints = [models.UniqueConstraint(fields=["kind", "day"], name="rollupdirtyday_unique")]

    def __str__(self) -> str:
        return f"{self.kind} {self.day}"


# --- the customer base at the start of each day (issue 6) ------------------------------------------
#
# The customer-base and combined metrics ask "who was an active customer at 00:00 of day D, in which
# segment, with which NPS category then?" (customers at start, revenue at risk and value by category
# at a past moment). Answered from the raw tables that is a pass over every customer with a lookup of
# their segment moves and latest NPS answer each; CustomerStateDaily holds the answer for every day,
# rebuilt by the worker (dashboards.customer_state), and is read only while it is current:
# CustomerStateBuild.generation equals CustomerChanges.generation, which triggers on the customers, the
# events and old-dated responses bump in the writers' own transactions (PostgreSQL; on SQLite the
# metrics always read the raw tables).


class CustomerStateDaily(models.Model):
    """At 00:00 (site time) of ``day``: the active customers (acquired before, not lost before) whose
    segment then was ``segment``, in total (category "all") and by NPS category then (promoter,
    passive, detractor; "no response" is the rest), with the sum of their current values."""

    day = models.DateField()
    segment_id = models.BigIntegerField(null=True)  # Customer.segment (no FK: deleted segments stay history)
    category = models.CharField(max_length=10)
    customers = models.IntegerField()
    value = models.DecimalField(max_digits=18, decimal_places=2)

    class Meta:
        verbose_name = _("customer state per day")
        verbose_name_plural = _("customer state per day")
        indexes = [
            models.Index(
                fields=["day", "category"], include=["segment_id", "customers", "value"], name="customerstate_day"
            )
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.segment_id} {self.category}: {self.customers}"


class CustomerChanges(models.Model):
    """The single row (pk=1) whose ``generation`` the database triggers bump whenever a customer, an
    event, or a response submitted more than ``customer_state.LATE_MINUTES`` ago is written."""

    SINGLETON = 1

    generation = models.BigIntegerField(default=0)

    class Meta:
        verbose_name = _("customer changes")
        verbose_name_plural = _("customer changes")

    def __str__(self) -> str:
        return f"generation {self.generation}"


class CustomerStateBuild(models.Model):
    """The single row (pk=1) describing CustomerStateDaily: the changes generation it was built from and
    the last day it holds."""

    SINGLETON = 1

    generation = models.BigIntegerField()
    through = models.DateField()
    built_at = models.DateTimeField()
    seconds = models.FloatField(default=0)

    class Meta:
        verbose_name = _("customer state build")
        verbose_name_plural = _("customer state build")

    def __str__(self) -> str:
        return f"through {self.through} (generation {self.generation})"
