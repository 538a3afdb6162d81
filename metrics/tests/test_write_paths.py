"""Every way figures' data is written, the admin's edits and deletes included, leaves the figures equal
to the raw reference at once: after the read model has rolled everything up, the write, then the
comparison, with no refresh or rebuild in between."""

from __future__ import annotations

import io
import random
from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from core.days import day_start
from customers.models import Customer, Event
from metrics.refresh import metrics_refresh
from metrics.tests.test_read_model import FACTS, TODAY, check, random_data
from surveys.models import Invitation, Response
from surveys.services import invitation_send, response_submit

pytestmark = [pytest.mark.django_db, pytest.mark.refreshes_itself]


@pytest.fixture
def rolled_up(settings):
    settings.TIME_ZONE = "Europe/Madrid"
    with time_machine.travel(day_start(TODAY) + timedelta(hours=15), tick=False):
        data = random_data(random.Random(7))
        metrics_refresh()
        yield data


def settled(field: str) -> dict:
    """Rows of days the refresh rolled up, inside every checked period."""
    return {
        f"{field}__gte": day_start(TODAY - timedelta(days=80)),
        f"{field}__lt": day_start(TODAY - timedelta(days=21)),
    }


def assert_every_fact_exact(step: str) -> None:
    for fact in FACTS:
        check(fact, step)


def _answer_page(client, data):
    invitation = Invitation.objects.filter(status=Invitation.Status.SENT, response__isnull=True).first()
    question = invitation.survey.questions.create(kind="nps", text_en="Recommend?", order=1)
    url = reverse("surveys-answer", args=[invitation.token])
    assert client.post(url, {f"q{question.pk}": "2"}).status_code == 302


def _send_invitation(client, data):
    invitation = Invitation.objects.filter(status=Invitation.Status.SENT).first()
    queued = Invitation.objects.create(survey=invitation.survey, customer=invitation.customer, token="queued-1")
    invitation.survey.questions.create(kind="nps", text_en="Recommend?", order=1)
    assert invitation_send(invitation_id=queued.pk)


def _import_responses_in_admin(admin_client, data):
    people = data["customers"]
    lines = ["response_id,customer_id,submitted_at,nps,overall,comment,attr:speed"]
    lines += [f"a{i},{people[i].external_id},2026-02-0{i + 1}T10:00:00,{i},4,Old,{i % 5 + 1}" for i in range(6)]
    upload = SimpleUploadedFile("history.csv", "\n".join(lines).encode(), content_type="text/csv")
    step = admin_client.post(
        reverse("admin:surveys_survey_import"), {"file": upload, "survey_slug": "rel", "survey_type": "relational"}
    )
    form = step.context["form"]  # the mapping step, confirmed as guessed
    data = {name: form[name].value() for name in form.fields}
    data = {name: value for name, value in data.items() if value not in (None, False)}
    page = admin_client.post(reverse("admin:surveys_survey_import"), {**data, "action": "import"})
    assert page.status_code == 200 and Response.objects.filter(external_id__startswith="a").count() == 6


def _delete_responses_in_admin(admin_client, data):
    doomed = list(Response.objects.filter(**settled("submitted_at")).values_list("pk", flat=True)[:5])
    page = admin_client.post(
        reverse("admin:surveys_response_changelist"),
        {"action": "delete_selected", "_selected_action": doomed, "post": "yes"},
    )
    assert page.status_code == 302 and not Response.objects.filter(pk__in=doomed).exists()


def _delete_invitations_in_admin(admin_client, data):
    sent = Invitation.objects.filter(status=Invitation.Status.SENT, **settled("sent_at"))
    doomed = list(sent.values_list("pk", flat=True)[:3])
    page = admin_client.post(
        reverse("admin:surveys_invitation_changelist"),
        {"action": "delete_selected", "_selected_action": doomed, "post": "yes"},
    )
    assert page.status_code == 302 and not Invitation.objects.filter(pk__in=doomed).exists()


def _upload_crm_events_in_admin(admin_client, data):
    who = data["customers"][3].external_id
    text = (
        "event_id,type,occurred_at,customer_id,segment,value,reason,from_segment,to_segment\n"
        f"u1,lost,2026-03-02T10:00:00,{who},Key,250,service,,\n"
        f"u2,segment_move,2026-01-20T10:00:00,{who},,,,Growth,Key\n"
        "u3,new,2026-01-05T09:00:00,NEW1,Growth,900,,,\n"
    )
    connection = data["customers"][0].connection
    upload = SimpleUploadedFile("events.csv", text.encode(), content_type="text/csv")
    page = admin_client.post(reverse("admin:crm_sync_connection_upload", args=[connection.pk]), {"file": upload})
    assert page.status_code == 302 and Event.objects.filter(source_key__startswith="event:u").count() == 3


def _sync_a_customer_snapshot(admin_client, data):
    from crm_sync.services import crm_file_import

    who = data["customers"][5].external_id
    text = (
        f"customer_id,name,segment,value,status,lost_at,lost_reason\n{who},Renamed,Key,123.45,lost,2026-04-01,price\n"
    )
    connection = data["customers"][0].connection
    crm_file_import(connection=connection, stream=io.BytesIO(text.encode()), name="customers.csv", kind="customers")


def _edit_a_customer_in_admin(admin_client, data):
    customer = Customer.objects.exclude(status="prospect").order_by("pk")[2]
    url = reverse("admin:customers_customer_change", args=[customer.pk])
    form = admin_client.get(url).context["adminform"].form
    values = {name: form.initial.get(name) or "" for name in form.fields}
    assert admin_client.post(url, {**values, "value": "98765.43"}).status_code == 302
    customer.refresh_from_db()
    assert customer.value == Decimal("98765.43")


def _delete_a_customer_in_admin(admin_client, data):
    customer = Customer.objects.filter(events__type=Event.Type.LOST, **settled("events__occurred_at")).first()
    assert (
        admin_client.post(reverse("admin:customers_customer_delete", args=[customer.pk]), {"post": "yes"}).status_code
        == 302
    )


def _correct_an_event_in_admin(admin_client, data):
    event = Event.objects.filter(type=Event.Type.LOST, **settled("occurred_at")).order_by("pk").first()
    url = reverse("admin:customers_event_change", args=[event.pk])
    fields = {"reason": "billing", "value": "1.23", "why": "wrong in the CRM"}
    inline = {"corrections-TOTAL_FORMS": "0", "corrections-INITIAL_FORMS": "0"}
    assert admin_client.post(url, {**fields, **inline}).status_code == 302


def _delete_a_segment_in_admin(admin_client, data):
    # Growth: the customers who moved through it may count in Key (checked) once it is gone.
    segment = data["segments"][1]
    page = admin_client.post(reverse("admin:customers_segment_delete", args=[segment.pk]), {"post": "yes"})
    assert page.status_code == 302


def _erase_customers_in_admin(admin_client, data):
    chosen = [c.pk for c in data["customers"][:3]]
    page = admin_client.post(
        reverse("admin:customers_customer_changelist"),
        {"action": "erase_personal_data", "_selected_action": chosen, "confirm": "yes"},
    )
    assert page.status_code == 302 and not Customer.objects.filter(pk__in=chosen).exclude(name="").exists()


def _submit_to_a_public_link(client, data):
    survey = data["surveys"][1]
    survey.allow_public_link = True
    survey.save()
    question = survey.questions.create(kind="csat", text_en="Satisfied?", order=1)
    response_submit(survey=survey, answers={question.pk: 5}, language="en")


WRITES = [
    _answer_page,
    _send_invitation,
    _submit_to_a_public_link,
    _import_responses_in_admin,
    _delete_responses_in_admin,
    _delete_invitations_in_admin,
    _upload_crm_events_in_admin,
    _sync_a_customer_snapshot,
    _edit_a_customer_in_admin,
    _delete_a_customer_in_admin,
    _correct_an_event_in_admin,
    _delete_a_segment_in_admin,
    _erase_customers_in_admin,
]


@pytest.mark.parametrize("write", WRITES, ids=[w.__name__.strip("_") for w in WRITES])
def test_the_figures_are_exact_right_after(rolled_up, write, client, admin_client):
    assert_every_fact_exact("the refresh, before the write")
    write(admin_client if "admin" in write.__name__ else client, rolled_up)
    assert_every_fact_exact(write.__name__.strip("_"))
