"""Alert rules: which new answers meet a rule, what each firing does, and the owners' emails.

Rules are evaluated off the request: a beat task sweeps the responses stored since its last run
(``core.sweep``), so answering a survey costs nothing more with rules active. Imported history is
not swept; ``manage.py alerts_evaluate --since DATE --imported`` evaluates it when asked."""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext

from core.days import day_start
from core.definitions import ALERT_OWNER_EMAILS_PER_HOUR, ALERT_SWEEP_MAX_AGE_HOURS
from core.sweep import sweep, sweep_start_after
from followup.models import AlertEvaluation, AlertFiring, AlertRule, Case
from surveys.models import Channel, Response
from webhooks.services import webhook_deliver

from .cases import case_open

logger = logging.getLogger(__name__)

SWEEP_NAME = "alerts"
SWEEP_BATCH = 2000


class OwnerEmail:
    NONE = ""
    QUEUED = "queued"  # to be sent alone
    SENT = "sent"
    FOLDED = "folded"  # over the hourly cap: waits for the owner's summary
    SUMMARISED = "summarised"


def alert_rule_create(
    *,
    name: str,
    owner,
    nps_at_most: int | None = None,
    csat_at_most: int | None = None,
    ces_at_most: int | None = None,
    keyword: str = "",
    survey=None,
    segment=None,
    min_customer_value: Decimal | None = None,
    sla_hours: int = 48,
    priority: str = "normal",
    open_case: bool = True,
    email_owner: bool = False,
    post_webhook: bool = False,
    webhook=None,
    active: bool = True,
    to_account_owner: bool = False,
) -> AlertRule:
    rule = AlertRule(
        name=name,
        owner=owner,
        to_account_owner=to_account_owner,
        nps_at_most=nps_at_most,
        csat_at_most=csat_at_most,
        ces_at_most=ces_at_most,
        keyword=keyword.strip(),
        survey=survey,
        segment=segment,
        min_customer_value=min_customer_value,
        sla_hours=sla_hours,
        priority=priority,
        open_case=open_case,
        email_owner=email_owner,
        post_webhook=post_webhook,
        webhook=webhook,
        active=active,
    )
    return alert_rule_save(rule=rule)


def alert_rule_save(*, rule: AlertRule) -> AlertRule:
    """Validate and store a new or changed rule (the admin saves through here)."""
    rule_validate(rule=rule)
    rule.save()
    return rule


def rule_validate(*, rule: AlertRule) -> None:
    """Raises ValidationError for a rule that could not work (no condition, no action, out of scale)."""
    from django.core.exceptions import ValidationError

    from core.definitions import SCALES

    errors = {}
    for field, question in (("nps_at_most", "nps"), ("csat_at_most", "csat"), ("ces_at_most", "ces")):
        value = getattr(rule, field)
        low, high = SCALES[question]
        if value is not None and not low <= value <= high:
            errors[field] = gettext("Must be between %(low)s and %(high)s.") % {"low": low, "high": high}
    conditions = (rule.nps_at_most, rule.csat_at_most, rule.ces_at_most, rule.keyword or None)
    if all(c is None for c in conditions):
        errors["nps_at_most"] = gettext("Set at least one score limit or a keyword.")
    if not (rule.open_case or rule.email_owner or rule.post_webhook):
        errors["open_case"] = gettext("Choose at least one action.")
    if rule.post_webhook and rule.webhook_id is None:
        errors["webhook"] = gettext("Choose the webhook to post to.")
    if rule.sla_hours is not None and rule.sla_hours < 1:
        errors["sla_hours"] = gettext("The SLA must be at least one hour.")
    if errors:
        raise ValidationError(errors)


def rule_matches(rule: AlertRule, response: Response) -> bool:
    """Every condition the rule sets holds for the response; a score limit needs that score answered."""
    for limit, score in (
        (rule.nps_at_most, response.nps),
        (rule.csat_at_most, response.csat),
        (rule.ces_at_most, response.ces),
    ):
        if limit is not None and (score is None or score > limit):
            return False
    if rule.keyword and rule.keyword.casefold() not in (response.comment or "").casefold():
        return False
    if rule.survey_id is not None and response.survey_id != rule.survey_id:
        return False
    if rule.segment_id is not None and response.segment_id != rule.segment_id:
        return False
    return rule.min_customer_value is None or (
        response.customer is not None and response.customer.value >= rule.min_customer_value
    )


def _pending() -> QuerySet[Response]:
    return Response.objects.exclude(channel=Channel.IMPORT).filter(
        ~Exists(AlertEvaluation.objects.filter(response=OuterRef("pk")))
    )


def alerts_evaluate(
    *, response_ids: list[int], fire_after: datetime | None = None, now: datetime | None = None
) -> list[int]:
    """Evaluate the active rules on these responses, once each: marks them evaluated and records a firing
    per (rule, response) met (the unique constraint keeps a pair from firing twice), opening its case.
    Answers submitted before ``fire_after`` are only marked. Returns the ids of the new firings whose owner
    email is queued; the caller sends them after commit."""
    now = now or timezone.now()
    rules = list(AlertRule.objects.filter(active=True).select_related("owner"))
    responses = list(
        Response.objects.filter(pk__in=response_ids)
        .exclude(Exists(AlertEvaluation.objects.filter(response=OuterRef("pk"))))
        .select_related("customer")
    )
    AlertEvaluation.objects.bulk_create([AlertEvaluation(response_id=r.pk) for r in responses], ignore_conflicts=True)
    queued: list[int] = []
    account_owners = AccountOwners()
    with transaction.atomic():
        for response in responses:
            if fire_after is not None and response.submitted_at < fire_after:
                continue
            for rule in rules:
                if rule_matches(rule, response):
                    firing = _fire(rule=rule, response=response, now=now, account_owners=account_owners)
                    if firing is not None and firing.owner_email == OwnerEmail.QUEUED:
                        queued.append(firing.pk)
    return queued


class AccountOwners:
    """The active users whose email is a customer's account owner (case-insensitive), looked up once per
    address in a sweep."""

    def __init__(self) -> None:
        self._users: dict[str, object] = {}

    def user_for(self, email: str):
        key = email.strip().casefold()
        if not key:
            return None
        if key not in self._users:
            self._users[key] = get_user_model().objects.filter(is_active=True, email__iexact=key).order_by("pk").first()
        return self._users[key]


def alert_owner_route(*, rule: AlertRule, customer, account_owners: AccountOwners | None = None) -> tuple:
    """Whom a firing goes to, and the timeline's sentence saying why: the customer's account owner when the
    rule asks for them and an active user has their email, else the rule's owner."""
    if not rule.to_account_owner:
        return rule.owner, ""
    fallback = rule.owner.get_username()
    email = (getattr(customer, "account_owner_email", "") or "").strip()
    if not email:
        return rule.owner, gettext(
            "The customer has no account owner in the CRM: assigned to the rule's owner, %(user)s."
        ) % {"user": fallback}
    user = (account_owners or AccountOwners()).user_for(email)
    if user is None:
        return rule.owner, gettext(
            "No active user has the account owner's email %(email)s: assigned to the rule's owner, %(user)s."
        ) % {"email": email, "user": fallback}
    return user, gettext("Assigned to the customer's account owner, %(user)s.") % {"user": user.get_username()}


def _owner_emails_last_hour(owner_id: int, now: datetime) -> int:
    return AlertFiring.objects.filter(
        owner_id=owner_id,
        owner_email__in=[OwnerEmail.QUEUED, OwnerEmail.SENT],
        fired_at__gt=now - timedelta(hours=1),
    ).count()


def _fire(
    *, rule: AlertRule, response: Response, now: datetime, account_owners: AccountOwners | None = None
) -> AlertFiring | None:
    """The rule's actions for one response, or None when this pair fired before."""
    owner, routing = alert_owner_route(rule=rule, customer=response.customer, account_owners=account_owners)
    try:
        with transaction.atomic():
            firing = AlertFiring.objects.create(rule=rule, response=response, fired_at=now, owner=owner)
    except IntegrityError:
        return None
    with transaction.atomic():
        if rule.open_case and response.customer is not None:
            opened = gettext("Opened by the alert rule “%(rule)s”.") % {"rule": rule.name}
            firing.case = case_open(
                customer=response.customer,
                owner=owner,
                response=response,
                rule=rule,
                priority=rule.priority,
                sla_hours=rule.sla_hours,
                note=f"{opened} {routing}".strip(),
                now=now,
            )
        if rule.email_owner and owner.email:
            capped = _owner_emails_last_hour(owner.pk, now) >= ALERT_OWNER_EMAILS_PER_HOUR
            firing.owner_email = OwnerEmail.FOLDED if capped else OwnerEmail.QUEUED
        firing.save(update_fields=["case", "owner_email"])
        if rule.post_webhook:
            alert_webhook_post(rule=rule, response=response, case=firing.case)
        return firing


def alert_webhook_body(*, rule: AlertRule, response: Response, case: Case | None) -> dict:
    customer = response.customer
    text = gettext("Alert “%(rule)s”: %(customer)s answered NPS %(nps)s, CSAT %(csat)s, CES %(ces)s.") % {
        "rule": rule.name,
        "customer": (customer.name or customer.external_id) if customer else gettext("an anonymous customer"),
        "nps": "—" if response.nps is None else response.nps,
        "csat": "—" if response.csat is None else response.csat,
        "ces": "—" if response.ces is None else response.ces,
    }
    return {
        "text": text,
        "rule": {"id": rule.pk, "name": rule.name},
        "response": {
            "id": response.pk,
            "submitted_at": response.submitted_at.isoformat(),
            "survey_id": response.survey_id,
            "nps": response.nps,
            "csat": response.csat,
            "ces": response.ces,
            "comment": response.comment,
        },
        "customer": {"crm_id": customer.external_id, "name": customer.name} if customer else None,
        "case": {"id": case.pk, "url": _absolute(reverse("followup-case", args=[case.pk]))} if case else None,
    }


def alert_webhook_post(*, rule: AlertRule, response: Response, case: Case | None) -> bool:
    """Post the alert to the rule's webhook, once per (rule, response): the delivery key is the pair, and
    the delivery row is written in the firing's transaction. Returns whether a delivery was queued (not
    when the webhook has been disabled)."""
    if rule.webhook_id is None:
        logger.warning("alert rule %s posts to a webhook but has none; response %s", rule.pk, response.pk)
        return False
    body = alert_webhook_body(rule=rule, response=response, case=case)
    delivery = webhook_deliver(
        webhook=rule.webhook, event="alert.fired", key=f"alert:{rule.pk}:{response.pk}", body=body, text=body["text"]
    )
    return delivery is not None


def _absolute(path: str) -> str:
    return f"{settings.SITE_URL.rstrip('/')}{path}"


def _owner_language(owner) -> str:
    return getattr(getattr(owner, "profile", None), "language", "") or settings.LANGUAGE_CODE[:2]


def alert_owner_email_send(*, firing_id: int) -> bool:
    """Send one queued alert email; claimed by a conditional update, so it goes out at most once."""
    if not AlertFiring.objects.filter(pk=firing_id, owner_email=OwnerEmail.QUEUED).update(
        owner_email=OwnerEmail.SENT, owner_emailed_at=timezone.now()
    ):
        return False
    firing = AlertFiring.objects.select_related("owner", "rule__owner", "response__customer", "case").get(pk=firing_id)
    owner = firing.owner or firing.rule.owner
    with translation.override(_owner_language(owner)):
        body = alert_webhook_body(rule=firing.rule, response=firing.response, case=firing.case)
        subject = gettext("Alert: %(rule)s") % {"rule": firing.rule.name}
        text = render_to_string("followup/email/alert.txt", {"items": [body]})
    send_mail(subject, text, None, [owner.email])
    return True


def alert_summaries_send(*, now: datetime | None = None) -> int:
    """One summary email per owner holding alerts over the hourly cap, at most one summary an hour each.
    Returns the number of summaries sent."""
    now = now or timezone.now()
    folded = (
        AlertFiring.objects.filter(owner_email=OwnerEmail.FOLDED)
        .select_related("owner", "rule__owner", "response__customer", "case")
        .order_by("fired_at", "pk")
    )
    by_owner: dict[int, list[AlertFiring]] = defaultdict(list)
    for firing in folded:
        by_owner[firing.owner_id or firing.rule.owner_id].append(firing)
    sent = 0
    for owner_id, firings in by_owner.items():
        recent = AlertFiring.objects.filter(
            owner_id=owner_id, owner_email=OwnerEmail.SUMMARISED, owner_emailed_at__gt=now - timedelta(hours=1)
        )
        if recent.exists():
            continue
        ids = [f.pk for f in firings]
        with transaction.atomic():
            claimed = AlertFiring.objects.filter(pk__in=ids, owner_email=OwnerEmail.FOLDED).update(
                owner_email=OwnerEmail.SUMMARISED, owner_emailed_at=now
            )
        if not claimed:
            continue
        owner = firings[0].owner or firings[0].rule.owner
        with translation.override(_owner_language(owner)):
            items = [alert_webhook_body(rule=f.rule, response=f.response, case=f.case) for f in firings]
            subject = gettext("%(count)s more alerts in the last hour") % {"count": len(items)}
            text = render_to_string("followup/email/alert.txt", {"items": items, "summary": True})
        send_mail(subject, text, None, [owner.email])
        sent += 1
    return sent


def _send_queued(firing_ids: list[int]) -> None:
    from followup.tasks import alert_owner_email_task

    for firing_id in firing_ids:
        alert_owner_email_task.delay(firing_id)


def alert_owner_emails_requeue(*, older_than: timedelta = timedelta(minutes=10), now: datetime | None = None) -> int:
    """Queue again the single alert emails whose task was lost (a broker restart between commit and
    delivery): still queued long after their firing. The send claims each one, so a late duplicate
    task sends nothing."""
    now = now or timezone.now()
    stuck = list(
        AlertFiring.objects.filter(owner_email=OwnerEmail.QUEUED, fired_at__lt=now - older_than).values_list(
            "pk", flat=True
        )[:1000]
    )
    _send_queued(stuck)
    return len(stuck)


def alerts_sweep(*, now: datetime | None = None) -> int:
    """Evaluate the rules on the answers stored since the last sweep (not imports). Returns how many
    responses were looked at."""
    now = now or timezone.now()
    with sweep(SWEEP_NAME, _pending(), batch=SWEEP_BATCH) as keys:
        queued = alerts_evaluate(
            response_ids=keys, fire_after=now - timedelta(hours=ALERT_SWEEP_MAX_AGE_HOURS), now=now
        )
        transaction.on_commit(lambda: _send_queued(queued))
    return len(keys)


def alerts_sweep_skip_history() -> int:
    """Start the alert sweep after the newest answer stored now: the answers before it fire nothing
    (``alerts_evaluate --since`` still evaluates them when asked). Returns that answer's key."""
    newest = Response.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    sweep_start_after(SWEEP_NAME, newest)
    return newest


def alerts_evaluate_since(*, since: date, imported: bool = False, batch: int = SWEEP_BATCH) -> int:
    """Evaluate the answers submitted since ``since`` that no sweep has looked at, imports included when
    asked (the way to alert on an import: surveys' import knows nothing of alert rules)."""
    pending = Response.objects.filter(submitted_at__gte=day_start(since)).filter(
        ~Exists(AlertEvaluation.objects.filter(response=OuterRef("pk")))
    )
    if not imported:
        pending = pending.exclude(channel=Channel.IMPORT)
    done, last = 0, 0
    while True:
        keys = list(pending.filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)[:batch])
        if not keys:
            return done
        with transaction.atomic():
            queued = alerts_evaluate(response_ids=keys)
            transaction.on_commit(lambda queued=queued: _send_queued(queued))
        done += len(keys)
        last = keys[-1]
