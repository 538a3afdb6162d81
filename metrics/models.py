"""The read model's tables, every one a cache of the raw rows (``rollups_rebuild`` drops and rebuilds
them): a rollup per fact in long form (a day or a whole month, its dimensions, a key, the counts), the
customer base as each customer's spells with the daily changes they add up to, and how far each fact is
rolled up. ``metrics.facts`` says what each table holds and ``metrics.read`` how it is read."""

from __future__ import annotations

from django.db import models

from customers.models import Audience, Segment
from surveys.models import Survey, SurveyType, Touchpoint


class Rollup(models.Model):
    """A day's rows, or with ``whole_month`` the sum of a month's day rows (``day`` is its first day):
    a long period reads a row per month instead of one per day."""

    day = models.DateField()
    whole_month = models.BooleanField(default=False)

    class Meta:
        abstract = True
        indexes = [models.Index(fields=["whole_month", "day"], name="%(class)s_month_day")]


class ResponseDimensions(Rollup):
    """Responses with the snapshot dimensions a response carries (what the filters select)."""

    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="+")
    # SET_NULL as on the responses, so deleting a segment leaves the rollups equal to the raw rows.
    segment = models.ForeignKey(Segment, on_delete=models.SET_NULL, null=True, related_name="+")
    survey_type = models.CharField(max_length=15, choices=SurveyType.choices)
    touchpoint = models.CharField(max_length=15, choices=Touchpoint.choices)
    audience = models.CharField(max_length=3, choices=Audience.choices)

    class Meta(Rollup.Meta):
        abstract = True

    def __str__(self) -> str:
        return f"{self.day} {self.survey_id} {self.segment_id}"


class ScoreDaily(ResponseDimensions):
    """Answers per question and score; question "comment" counts the responses with a comment, by
    their NPS answer (score, empty without one)."""

    question = models.CharField(max_length=25)
    score = models.SmallIntegerField(null=True)
    anonymous = models.BooleanField(default=False)  # no customer: left out of the figures by segment
    n = models.PositiveIntegerField()


class PairDaily(ResponseDimensions):
    """Responses that answered overall experience and ``question`` (a key metric), per pair of answers."""

    question = models.CharField(max_length=25)
    overall = models.SmallIntegerField()
    score = models.SmallIntegerField()
    n = models.PositiveIntegerField()


class AttributeDaily(ResponseDimensions):
    """Attribute ratings per attribute and score, with the NPS answer of the same response (empty without one)."""

    attribute = models.CharField(max_length=80)
    score = models.SmallIntegerField()
    nps = models.SmallIntegerField(null=True)
    n = models.PositiveIntegerField()


class CommentDaily(ResponseDimensions):
    """Analysed comments per language, sentiment and the response's NPS category (no_response without one)."""

    language = models.CharField(max_length=5)
    sentiment = models.CharField(max_length=8)
    category = models.CharField(max_length=11)
    n = models.PositiveIntegerField()


class ThemeDaily(ResponseDimensions):
    """Theme mentions (analysed comments matching a theme) per theme, sentiment and NPS category."""

    theme_id = models.BigIntegerField()  # no foreign key: a cache; a deleted theme's rows go at the next change
    sentiment = models.CharField(max_length=8)
    category = models.CharField(max_length=11)
    n = models.PositiveIntegerField()


class AdvocacyDaily(ResponseDimensions):
    """Responses that answered at least the advocacy index's minimum of its components, per combination
    of their NPS, CSAT and trust answers (empty where not answered)."""

    nps = models.SmallIntegerField(null=True)
    csat = models.SmallIntegerField(null=True)
    trust = models.SmallIntegerField(null=True)
    n = models.PositiveIntegerField()


class InvitationDaily(Rollup):
    """Invitations sent on ``day`` per survey and segment snapshot, and how many of them were answered.
    The survey's type, touchpoint and audience are read through the survey (its current ones)."""

    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="+")
    segment = models.ForeignKey(Segment, on_delete=models.SET_NULL, null=True, related_name="+")
    sent = models.PositiveIntegerField()
    responded = models.PositiveIntegerField()

    def __str__(self) -> str:
        return f"{self.day} {self.survey_id}: {self.responded}/{self.sent}"


class EventDaily(Rollup):
    """Customer events of ``day`` per type, segments and reason, counted with the sum of their values.
    ``flags`` (lost events): what the customer's answers in the days before said (``facts.lost_flags``);
    ``category`` (referrals): the referrer's NPS category when they referred."""

    type = models.CharField(max_length=20)
    segment = models.ForeignKey(Segment, on_delete=models.SET_NULL, null=True, related_name="+")
    from_segment = models.ForeignKey(Segment, on_delete=models.SET_NULL, null=True, related_name="+")
    to_segment = models.ForeignKey(Segment, on_delete=models.SET_NULL, null=True, related_name="+")
    reason = models.CharField(max_length=200)
    flags = models.PositiveSmallIntegerField()
    category = models.CharField(max_length=11)
    count = models.PositiveIntegerField()
    value = models.DecimalField(max_digits=18, decimal_places=2)

    def __str__(self) -> str:
        return f"{self.day} {self.type}: {self.count}"


class CustomerSpell(models.Model):
    """A stretch of days ``[first_day, end_day)`` on whose every 00:00 (site time) the customer was
    active in ``segment`` with NPS ``category``; ``end_day`` empty: still so. ``value``: the customer's
    current value. No foreign key to the customer: a deleted customer's spells stay until the refresh
    that takes them out of the daily changes."""

    customer_id = models.BigIntegerField()
    segment = models.ForeignKey(Segment, on_delete=models.SET_NULL, null=True, related_name="+")
    category = models.CharField(max_length=11)
    first_day = models.DateField()
    end_day = models.DateField(null=True)
    value = models.DecimalField(max_digits=14, decimal_places=2)

    class Meta:
        indexes = [
            # A customer's spell at a day from the index alone (the lost customers of churn by category).
            models.Index(
                fields=["customer_id", "first_day"], include=["end_day", "category", "segment"], name="spell_customer"
            ),
            models.Index(fields=["first_day"], name="spell_first_day"),
            models.Index(fields=["end_day"], name="spell_end_day"),
            models.Index(fields=["category", "value"], name="spell_category_value"),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.category} {self.first_day}–{self.end_day or ''}"


class BaseDaily(models.Model):
    """How the customer base changed at 00:00 of ``day``: spells starting (+) and ending (−) there, per
    segment and category. The base at 00:00 of a day is the sum of every change up to it."""

    day = models.DateField()
    segment = models.ForeignKey(Segment, on_delete=models.SET_NULL, null=True, related_name="+")
    category = models.CharField(max_length=11)
    customers = models.IntegerField()
    value = models.DecimalField(max_digits=18, decimal_places=2)

    class Meta:
        indexes = [models.Index(fields=["day"], name="rollup_base_day")]

    def __str__(self) -> str:
        return f"{self.day} {self.segment_id} {self.category}: {self.customers:+d}"


class BaseMonthStart(models.Model):
    """The customer base at 00:00 of the first day of a month (``day``) per segment and category: every
    daily change up to it added up, so the base at any day is the month's start and the days since."""

    day = models.DateField()
    segment = models.ForeignKey(Segment, on_delete=models.SET_NULL, null=True, related_name="+")
    category = models.CharField(max_length=11)
    customers = models.IntegerField()
    value = models.DecimalField(max_digits=18, decimal_places=2)

    class Meta:
        indexes = [models.Index(fields=["day"], name="basemonthstart_day")]

    def __str__(self) -> str:
        return f"{self.day} {self.segment_id} {self.category}: {self.customers}"


class FillState(models.Model):
    """How far a fact's daily rollup goes: every day up to ``through`` is rolled up (but the days a
    pending change names). The refresh locks these rows, so two refreshes never interleave."""

    fact = models.CharField(max_length=20, primary_key=True)
    through = models.DateField(null=True)
    refreshed_at = models.DateTimeField(null=True)  # the last refresh that changed a rollup

    def __str__(self) -> str:
        return f"{self.fact} through {self.through}"
