"""Churn-risk training runs and the per-customer risk each complete run scored (shared/METRICS.md,
"Survival and churn risk").

A run writes all its scores while it is still "running"; one UPDATE then marks it complete, and the
pages read the newest complete (or "not enough history") run, so they never see half a run. Older runs
are pruned by the service that finishes a new one."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from customers.models import Customer


class ChurnRiskRun(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", _("queued")
        RUNNING = "running", _("running")
        COMPLETE = "complete", _("complete")
        NOT_ENOUGH_HISTORY = "not_enough_history", _("not enough history")
        FAILED = "failed", _("failed")

    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.QUEUED)
    requested_at = models.DateTimeField(_("requested"), auto_now_add=True)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("trained"), null=True, blank=True)
    # The last labelled cutoff (the out-of-time test cutoff) and how many cutoffs trained the tested model.
    test_cutoff = models.DateTimeField(_("test cutoff"), null=True, blank=True)
    training_cutoffs = models.PositiveIntegerField(_("training cutoffs"), default=0)
    model_kind = models.CharField(_("model"), max_length=40, blank=True)
    features = models.JSONField(_("features"), default=list)
    # Per feature, the scoring model's weight on its standardized value (a logistic model's coefficient).
    coefficients = models.JSONField(_("coefficients"), default=dict)
    auc = models.FloatField(_("out-of-time AUC"), null=True, blank=True)
    # [{decile, predicted, observed, n}] on the test cutoff: mean predicted risk against the share lost.
    calibration = models.JSONField(_("calibration"), default=list)
    train_rows = models.PositiveIntegerField(_("training rows"), default=0)
    train_losses = models.PositiveIntegerField(_("customers lost in the training window"), default=0)
    test_rows = models.PositiveIntegerField(_("test customers"), default=0)
    test_losses = models.PositiveIntegerField(_("test customers lost"), default=0)
    customers_scored = models.PositiveIntegerField(_("customers scored"), default=0)
    expected_revenue_at_risk = models.DecimalField(
        _("expected revenue at risk"), max_digits=16, decimal_places=2, null=True, blank=True
    )
    # Customers with a relationship signal among those scored.
    signals = models.PositiveIntegerField(_("relationship signals"), default=0)
    error = models.TextField(_("error"), blank=True)

    class Meta:
        ordering = ["-requested_at", "-pk"]
        verbose_name = _("churn-risk run")
        verbose_name_plural = _("churn-risk runs")
        constraints = [
            # At most one run waits or trains: a nightly run and a "train now" cannot overlap.
            models.UniqueConstraint(
                fields=["status"], condition=Q(status__in=["queued", "running"]), name="churnriskrun_one_active"
            ),
        ]
        indexes = [models.Index(fields=["status", "finished_at"], name="churnriskrun_status_finished")]

    def __str__(self) -> str:
        return f"{self.get_status_display()} {self.requested_at:%Y-%m-%d %H:%M}"


class ChurnRiskScore(models.Model):
    """One active customer's risk in a run, with what raises it and the relationship signals seen."""

    run = models.ForeignKey(ChurnRiskRun, on_delete=models.CASCADE, related_name="scores", db_index=False)
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="churn_scores", db_index=False)
    probability = models.FloatField(_("risk"))
    value = models.DecimalField(_("value (annual revenue)"), max_digits=14, decimal_places=2)
    value_at_risk = models.FloatField(_("value × risk"))
    # [{feature, value, contribution}]: the three features that raise this customer's risk most.
    top_features = models.JSONField(_("top features"), default=list)
    nps_drop = models.SmallIntegerField(_("NPS fall"), null=True, blank=True)  # previous − latest, when ≥ the mark
    downgraded = models.BooleanField(_("downgraded"), default=False)
    incident = models.BooleanField(_("recent incident"), default=False)

    class Meta:
        verbose_name = _("churn-risk score")
        verbose_name_plural = _("churn-risk scores")
        constraints = [models.UniqueConstraint(fields=["run", "customer"], name="churnriskscore_unique_customer")]
        indexes = [
            models.Index(fields=["run", "-value_at_risk"], name="churnriskscore_run_value_risk"),
            models.Index(fields=["customer", "run"], name="churnriskscore_customer_run"),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.probability:.3f}"
