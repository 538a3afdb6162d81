import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from customers.tests.factories import CustomerFactory, SegmentFactory
from cxmetrics.tests.factories import UserFactory
from surveys.models import Invitation, Question, Response, Survey
from surveys.tests.factories import InvitationFactory, ResponseFactory, relational_survey

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    client.force_login(UserFactory(username="admin", is_staff=True, is_superuser=True))
    return client


def _change_data(survey):
    """The admin change form's POST data for a survey and its questions, as the browser would send it."""
    data = {
        "name": survey.name,
        "slug": survey.slug,
        "survey_type": survey.survey_type,
        "touchpoint": survey.touchpoint,
        "audience": survey.audience,
        "languages": survey.languages,
        "title_en": survey.title_en,
        "title_es": survey.title_es,
        "intro_en": survey.intro_en,
        "intro_es": survey.intro_es,
        "thanks_en": survey.thanks_en,
        "thanks_es": survey.thanks_es,
        "email_subject_en": "",
        "email_subject_es": "",
        "opens_at_0": "",
        "opens_at_1": "",
        "closes_at_0": "",
        "closes_at_1": "",
        "reminder_delay_days": "",
        "contact_policy_days": "",
        "link_valid_days": str(survey.link_valid_days),
    }
    questions = list(survey.questions.all())
    prefix = "questions"
    data.update(
        {
            f"{prefix}-TOTAL_FORMS": len(questions),
            f"{prefix}-INITIAL_FORMS": len(questions),
            f"{prefix}-MIN_NUM_FORMS": 0,
            f"{prefix}-MAX_NUM_FORMS": 1000,
        }
    )
    for i, q in enumerate(questions):
        data.update(
            {
                f"{prefix}-{i}-id": q.pk,
                f"{prefix}-{i}-survey": survey.pk,
                f"{prefix}-{i}-order": q.order,
                f"{prefix}-{i}-kind": q.kind,
                f"{prefix}-{i}-text_en": q.text_en,
                f"{prefix}-{i}-text_es": q.text_es,
                f"{prefix}-{i}-attribute": q.attribute,
                f"{prefix}-{i}-required": "on" if q.required else "",
                f"{prefix}-{i}-choices_en": "[]",
                f"{prefix}-{i}-choices_es": "[]",
            }
        )
    return data


def test_create_from_template_in_admin(admin_client):
    response = admin_client.post(
        reverse("admin:surveys_survey_from_template"),
        {
            "template": "relational_nps",
            "name": "Relational NPS",
            "slug": "relational-nps",
            "languages": ["en", "es"],
        },
    )
    assert response.status_code == 302
    survey = Survey.objects.get(slug="relational-nps")
    assert survey.questions.count() == 9
    assert admin_client.get(reverse("admin:surveys_survey_change", args=[survey.pk])).status_code == 200
    assert admin_client.get(reverse("admin:surveys_survey_changelist")).status_code == 200


def test_question_kind_can_change_before_responses_but_not_after(admin_client):
    survey = relational_survey()
    data = _change_data(survey)
    data["questions-4-kind"] = "csat"  # the "overall" question
    response = admin_client.post(reverse("admin:surveys_survey_change", args=[survey.pk]), data)
    assert response.status_code == 302, response.context["errors"] if response.context else response
    assert survey.questions.filter(kind="csat").exists()

    ResponseFactory(survey=survey)
    data = _change_data(survey)
    data["questions-4-kind"] = "overall"
    response = admin_client.post(reverse("admin:surveys_survey_change", args=[survey.pk]), data)
    assert response.status_code == 200
    assert "cannot change because it would corrupt their history" in response.content.decode()
    assert survey.questions.filter(kind="csat").exists()
    assert "locked" in admin_client.get(reverse("admin:surveys_survey_change", args=[survey.pk])).content.decode()


def test_texts_are_required_in_each_language(admin_client):
    survey = relational_survey()
    data = _change_data(survey)
    data["title_es"] = ""
    data["questions-0-text_es"] = ""
    response = admin_client.post(reverse("admin:surveys_survey_change", args=[survey.pk]), data)
    assert response.status_code == 200
    assert response.content.decode().count("offered in this language") >= 2


def test_invite_a_segment_from_admin(admin_client, queued):
    gold = SegmentFactory(name="Gold")
    CustomerFactory.create_batch(2, segment=gold)
    CustomerFactory()
    survey = relational_survey()
    response = admin_client.post(
        reverse("admin:surveys_survey_invite", args=[survey.pk]), {"target": "segment", "segment": gold.pk}
    )
    assert response.status_code == 302
    assert Invitation.objects.filter(survey=survey, segment=gold).count() == 2


def test_invite_from_an_uploaded_csv_of_ids_and_emails(admin_client, queued):
    a, b, _c = CustomerFactory(), CustomerFactory(), CustomerFactory()
    survey = relational_survey()
    upload = SimpleUploadedFile("list.csv", f"customer_id\n{a.external_id}\n{b.email}\n".encode())
    admin_client.post(reverse("admin:surveys_survey_invite", args=[survey.pk]), {"target": "file", "file": upload})
    assert set(Invitation.objects.values_list("customer", flat=True)) == {a.pk, b.pk}


def test_admin_action_leads_to_the_invite_page(admin_client):
    survey = relational_survey()
    response = admin_client.post(
        reverse("admin:surveys_survey_changelist"), {"action": "invite_customers", "_selected_action": [survey.pk]}
    )
    assert response["Location"] == reverse("admin:surveys_survey_invite", args=[survey.pk])


def test_preview_in_both_languages(admin_client):
    survey = relational_survey()
    html = admin_client.get(reverse("admin:surveys_survey_preview", args=[survey.pk]) + "?lang=es").content.decode()
    assert "¿Qué probabilidad hay" in html and "Vista previa" in html  # the whole page speaks Spanish


def _import_confirm(admin_client, step, **changes):
    """Post the mapping step back as shown, with ``changes``."""
    form = step.context["form"]
    data = {name: form[name].value() for name in form.fields}
    data = {name: value for name, value in data.items() if value not in (None, False)}
    return admin_client.post(reverse("admin:surveys_survey_import"), {**data, "action": "import", **changes})


def test_import_from_admin(admin_client):
    upload = SimpleUploadedFile("r.csv", b"response_id,submitted_at,nps\n1,2026-01-01,9\n2,2026-01-01,12\n")
    step = admin_client.post(
        reverse("admin:surveys_survey_import"),
        {
            "file": upload,
            "survey_slug": "old",
            "create_survey": "on",
            "survey_type": "relational",
        },
    )
    assert "nps 12 is out of range 0-10" in step.content.decode()  # the preview's error, before importing
    html = _import_confirm(admin_client, step).content.decode()
    assert "line 3: nps 12 is out of range 0-10" in html
    assert not Response.objects.exists()


OLIST_REVIEWS = (
    "review_id,order_id,review_score,review_comment_title,review_comment_message,review_creation_date,lang\n"
    + "".join(f"r{i},o{i},{1 + i % 5},NA,Comentário {i},{10 + i}/01/2018,pt\n" for i in range(12))
    + "r12,o12,7,NA,NA,22/01/2018,pt\n"
).encode()


def test_admin_import_guesses_the_mapping_previews_ten_rows_then_imports(admin_client, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    step = admin_client.post(
        reverse("admin:surveys_survey_import"),
        {"file": SimpleUploadedFile("olist.csv", OLIST_REVIEWS), "survey_slug": "olist", "create_survey": "on",
         "survey_type": "relational", "empty": "NA", "skip_invalid": "on"},
    )  # fmt: skip
    assert step.templates[0].name == "surveys/admin/import_mapping.html"
    form, preview = step.context["form"], step.context["preview"]
    guessed = {column: form[f"map_{i}"].value() for i, column in enumerate(preview.columns)}
    assert guessed == {
        "review_id": "response_id", "order_id": "", "review_score": "csat", "review_comment_title": "",
        "review_comment_message": "comment", "review_creation_date": "submitted_at", "lang": "language",
    }  # fmt: skip
    assert len(step.context["rows"]) == 10 and preview.error_count == 1 and preview.rows_total == 13
    assert not Response.objects.exists() and list((tmp_path / "imports").iterdir())
    html = _import_confirm(admin_client, step).content.decode()
    assert "line 14: csat 7 is out of range 1-5" in html
    assert Response.objects.filter(survey__slug="olist").count() == 12
    assert set(Response.objects.values_list("language", flat=True)) == {"pt"}
    assert not list((tmp_path / "imports").iterdir())  # the kept upload is removed once imported


def test_admin_import_mapping_can_be_changed_and_checked_again(admin_client, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    step = admin_client.post(
        reverse("admin:surveys_survey_import"),
        {"file": SimpleUploadedFile("olist.csv", OLIST_REVIEWS), "survey_slug": "olist", "create_survey": "on",
         "survey_type": "relational"},
    )  # fmt: skip
    again = _import_confirm(admin_client, step, action="preview", map_2="nps")
    assert again.context["form"]["map_2"].value() == "nps" and again.context["preview"].error_count == 0
    assert not Response.objects.exists()


def test_admin_import_with_an_unknown_token_asks_for_the_file_again(admin_client, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    response = admin_client.post(
        reverse("admin:surveys_survey_import"), {"token": "0" * 32, "survey_slug": "x", "action": "import"}
    )
    assert response.status_code == 302
    response = admin_client.post(
        reverse("admin:surveys_survey_import"), {"token": "../../etc/passwd", "survey_slug": "x"}, follow=True
    )
    assert "The uploaded file has expired: upload it again." in response.content.decode()


def test_response_admin_shows_the_segment_snapshot(admin_client):
    gold = SegmentFactory(name="Gold")
    response = ResponseFactory(segment=gold, customer=CustomerFactory())
    html = admin_client.get(reverse("admin:surveys_response_changelist")).content.decode()
    assert "Gold" in html
    assert admin_client.get(reverse("admin:surveys_response_change", args=[response.pk])).status_code == 200
    assert admin_client.get(reverse("admin:surveys_invitation_changelist")).status_code == 200


def test_attribute_question_needs_its_name(admin_client):
    survey = relational_survey()
    data = _change_data(survey)
    attribute_index = [q.kind for q in survey.questions.all()].index(Question.Kind.ATTRIBUTE)
    data[f"questions-{attribute_index}-attribute"] = ""
    assert admin_client.post(reverse("admin:surveys_survey_change", args=[survey.pk]), data).status_code == 200


def _survey_with_history(sent: int, queued: int, responses: int) -> Survey:
    survey = relational_survey()
    InvitationFactory.create_batch(sent, survey=survey, status=Invitation.Status.SENT)
    InvitationFactory.create_batch(queued, survey=survey, status=Invitation.Status.QUEUED)
    ResponseFactory.create_batch(responses, survey=survey)
    return survey


def test_survey_list_counts_each_table_on_its_own(admin_client):
    survey = _survey_with_history(sent=4, queued=2, responses=3)
    relational_survey(slug="empty")
    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get(reverse("admin:surveys_survey_changelist"), {"o": "-8"})
    rows = {s.slug: (s._sent, s._responses) for s in response.context["cl"].result_list}
    assert rows == {survey.slug: (4, 3), "empty": (0, 0)}
    # A join of invitations with responses counts invitations × responses rows before DISTINCT.
    assert not [
        q["sql"]
        for q in queries.captured_queries
        if 'JOIN "surveys_invitation"' in q["sql"] and 'JOIN "surveys_response"' in q["sql"]
    ]


def test_survey_change_page_checks_permission_before_counting(client):
    survey = _survey_with_history(sent=1, queued=0, responses=1)
    client.force_login(UserFactory(username="staff-without-surveys", is_staff=True))
    for name in ("change", "delete", "history"):
        with CaptureQueriesContext(connection) as queries:
            response = client.get(reverse(f"admin:surveys_survey_{name}", args=[survey.pk]))
        assert response.status_code == 403, name
        assert not [q["sql"] for q in queries.captured_queries if "surveys_" in q["sql"]], name


def test_survey_delete_page_counts_instead_of_listing(admin_client):
    survey = _survey_with_history(sent=5, queued=0, responses=2)
    with CaptureQueriesContext(connection) as queries:
        html = admin_client.get(reverse("admin:surveys_survey_delete", args=[survey.pk])).content.decode()
    assert "Cannot delete survey" in html and "2 responses (history is kept" in html
    # Counted, never loaded row by row.
    assert not [
        q["sql"]
        for q in queries.captured_queries
        if 'FROM "surveys_invitation"' in q["sql"] and "COUNT" not in q["sql"].upper()
    ]
    assert Survey.objects.filter(pk=survey.pk).exists()


def test_survey_without_responses_is_deleted_with_its_invitations(admin_client):
    survey = _survey_with_history(sent=2, queued=1, responses=0)
    html = admin_client.get(reverse("admin:surveys_survey_delete", args=[survey.pk])).content.decode()
    assert "Invitations: 3" in html and "Questions: 9" in html
    response = admin_client.post(reverse("admin:surveys_survey_delete", args=[survey.pk]), {"post": "yes"})
    assert response.status_code == 302
    assert not Survey.objects.filter(pk=survey.pk).exists()
    assert not Invitation.objects.exists()


def test_survey_change_page_counts_its_invitations_and_responses(admin_client):
    survey = _survey_with_history(sent=4, queued=2, responses=3)
    html = admin_client.get(reverse("admin:surveys_survey_change", args=[survey.pk])).content.decode()
    assert "Invitations sent: 4. Responses: 3." in html
    assert "This survey has 3 responses" in html
    assert f"/surveys/?survey={survey.slug}&amp;preset=year" in html


def test_the_link_validity_is_set_in_the_availability_fieldset(admin_client):
    survey = relational_survey()
    page = admin_client.get(reverse("admin:surveys_survey_change", args=[survey.pk])).content.decode()
    assert 'name="link_valid_days"' in page and 'value="365"' in page
    data = _change_data(survey)
    data["link_valid_days"] = "30"
    response = admin_client.post(reverse("admin:surveys_survey_change", args=[survey.pk]), data)
    assert response.status_code == 302
    survey.refresh_from_db()
    assert survey.link_valid_days == 30
    data["link_valid_days"] = "0"
    response = admin_client.post(reverse("admin:surveys_survey_change", args=[survey.pk]), data)
    assert response.status_code == 200 and "greater than or equal to 1" in response.content.decode()
