"""Public survey pages (no login), the unsubscribe page and the transactional-trigger API."""

from __future__ import annotations

import contextlib
import hashlib
import json
from urllib.parse import urlencode

from django.conf import settings
from django.core.cache import cache, caches
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from core.access import is_cx_manager
from core.api_auth import api_user
from core.client_ip import client_ip
from core.definitions import nps_category
from core.inputs import contains_nul
from surveys import selectors, services
from surveys.forms import SurveyResponseForm, field_name
from surveys.models import Channel, Invitation, Language, Question, Survey

survey_pages = caches["survey_pages"]
QUESTIONS_HTML_SECONDS = 3600
LANGUAGE_NAMES = {"en": "English", "es": "Español"}  # each in its own language, never translated


def _rate_key(request: HttpRequest) -> str:
    return f"surveys:public-submissions:{client_ip(request, header=settings.SURVEY_CLIENT_IP_HEADER)}"


def _rate_take(request: HttpRequest) -> bool:
    """Take one of the client's anonymous submissions for the hour before anything is stored; False when
    none is left. The count is one atomic step of the cache (``add`` creates it, ``incr`` adds one: both
    atomic in Redis, which CACHE_URL must be with several web processes, and under the local-memory
    cache's lock), so of many parallel posts at most the limit get through. A row lock in the database
    would do the same at the price of a write and a lock per post on the primary; the cache is where
    the limit has always been kept and what the deployment already shares between processes."""
    limit = int(getattr(settings, "SURVEY_PUBLIC_SUBMISSIONS_PER_HOUR", 10))
    key = _rate_key(request)
    count = limit + 1
    for _attempt in range(2):
        if cache.add(key, 1, timeout=3600):
            count = 1
            break
        try:
            count = cache.incr(key)
            break
        except ValueError:  # expired between add and incr: add again
            continue
    return count <= limit


def _rate_give_back(request: HttpRequest) -> None:
    """A submission that stored nothing (invalid, closed, refused) does not use up the client's hour."""
    with contextlib.suppress(ValueError):  # expired meanwhile
        cache.decr(_rate_key(request))


def _language_links(request: HttpRequest, survey: Survey, current: str) -> list[dict]:
    links = []
    for code in survey.language_codes:
        params = {k: v for k, v in request.GET.items() if k in {"nps"}}
        params["lang"] = code
        links.append(
            {
                "code": code,
                "name": LANGUAGE_NAMES.get(code, code),
                "url": "?" + urlencode(params),
                "current": code == current,
            }
        )
    return links


def _initial(request: HttpRequest, questions: list[Question], *, stored_nps: int | None = None) -> dict:
    """A score chosen in the email (?nps=9) preselects the first NPS question, else the score already stored
    from an earlier click. The GET stores nothing: survey.js posts the score once the page has loaded."""
    raw = request.GET.get("nps", "")
    nps = next((q for q in questions if q.kind == Question.Kind.NPS), None)
    if nps and raw.isdigit() and 0 <= int(raw) <= 10:
        return {field_name(nps): raw}
    if nps and stored_nps is not None:
        return {field_name(nps): str(stored_nps)}
    return {}


def _link_unknown(request: HttpRequest) -> HttpResponse:
    """A survey link that leads nowhere (mistyped, cut by the mail app, its customer deleted, the public
    link switched off): the survey pages' layout, 404, in the visitor's language of the site's two, with
    a link to the other. There is no survey to take the languages from."""
    requested = (request.GET.get("lang") or getattr(request, "LANGUAGE_CODE", "") or "")[:2].lower()
    language = requested if requested in Language.values else Language.EN
    links = [
        {
            "code": code,
            "name": LANGUAGE_NAMES[code],
            "url": "?" + urlencode({"lang": code}),
            "current": code == language,
        }
        for code in Language.values
    ]
    with translation.override(language):
        context = {"language": language, "language_links": links, "title": gettext("Survey"), "form": None}
        response = render(request, "surveys/link_unknown.html", context, status=404)
    response["Content-Language"] = language
    response["Cache-Control"] = "no-store"
    response["X-Robots-Tag"] = "noindex"
    return response


def render_survey_page(
    request: HttpRequest,
    *,
    survey: Survey,
    language: str,
    form: SurveyResponseForm | None,
    template: str,
    status: int = 200,
    preview: bool = False,
    action: str = "",
    questions_html: str = "",
    question_count: int = 0,
    score_field: str = "",
    extra: dict | None = None,
) -> HttpResponse:
    items = form.items() if form else []
    context = {
        "survey": survey,
        "language": language,
        "language_links": _language_links(request, survey, language),
        "title": survey.text("title", language) or survey.name,
        "intro": survey.text("intro", language),
        "thanks": survey.text("thanks", language),
        "form": form,
        "items": items,
        "question_count": question_count or len(items),
        "questions_html": questions_html,
        "preview": preview,
        "action": action,
        "score_field": score_field,
        **(extra or {}),
    }
    with translation.override(language):
        response = render(request, template, context, status=status)
    response["Content-Language"] = language
    response["Cache-Control"] = "no-store"
    response["X-Robots-Tag"] = "noindex"
    return response


def _answer(request: HttpRequest, *, survey: Survey, invitation: Invitation | None, thanks_url: str) -> HttpResponse:
    language = survey.pick_language(
        request.GET.get("lang"), invitation.language if invitation else None, getattr(request, "LANGUAGE_CODE", "")
    )
    # The whole page, validation messages included, speaks the survey's language, not the visitor's browser's.
    with translation.override(language):
        return _answer_in(request, survey=survey, invitation=invitation, thanks_url=thanks_url, language=language)


def _answer_in(
    request: HttpRequest, *, survey: Survey, invitation: Invitation | None, thanks_url: str, language: str
) -> HttpResponse:
    page = {"survey": survey, "language": language, "form": None}
    # responded_at is stamped in the transaction that stores the response (response_submit), so it says
    # "answered" without a query for the response; a submit that races it is refused by the database's
    # one-response-per-invitation constraint (AlreadyAnswered below).
    now = timezone.now()
    stored_nps = None
    if invitation and invitation.responded_at:
        stored = selectors.invitation_response_scores(invitation=invitation)
        if not stored or not stored[0]:  # complete: answering twice is refused
            if request.method == "POST" and request.POST.get("score_only"):
                return JsonResponse(
                    {"error": "already_answered", "detail": "This survey has already been answered."}, status=409
                )
            return render_survey_page(request, **page, template="surveys/already_answered.html")
        stored_nps = stored[1]  # only the email's score so far: the form is still open
    if invitation and now >= invitation.link_expires_at():
        # Gone for good, and said so in the survey's language; nothing is accepted, POST included.
        return render_survey_page(request, **page, template="surveys/link_expired.html", status=410)
    if not survey.is_open(now):
        return render_survey_page(request, **page, template="surveys/closed.html")
    questions = selectors.survey_questions(survey=survey)
    if request.method == "POST" and request.POST.get("score_only"):
        return _score_store(request, invitation=invitation, questions=questions, language=language)
    if request.method == "POST":
        anonymous = invitation is None
        if anonymous and not _rate_take(request):
            return render_survey_page(request, **page, template="surveys/rate_limited.html", status=429)
        response = _submit(
            request, page=page, survey=survey, invitation=invitation, questions=questions, thanks_url=thanks_url
        )
        if anonymous and response.status_code != 302:  # nothing stored
            _rate_give_back(request)
        return response
    if invitation:
        services.invitation_mark_opened(invitation=invitation)
    initial = _initial(request, questions, stored_nps=stored_nps)
    score_field = _score_field(invitation, questions)
    if initial:  # a score chosen in the email: this visitor's own markup
        page["form"] = SurveyResponseForm(initial=initial, questions=questions, language=language)
        return render_survey_page(
            request, **page, template="surveys/answer.html", action=request.get_full_path(), score_field=score_field
        )
    return render_survey_page(
        request,
        **page,
        template="surveys/answer.html",
        action=request.get_full_path(),
        questions_html=_questions_html(survey, questions, language),
        question_count=len(questions),
        score_field=score_field,
    )


def _score_field(invitation: Invitation | None, questions: list[Question]) -> str:
    """The form field whose score survey.js stores as soon as it is chosen: the first NPS question of a
    personal link (a public link has no response to come back to)."""
    nps = next((q for q in questions if q.kind == Question.Kind.NPS), None)
    return field_name(nps) if invitation and nps else ""


def _score_store(
    request: HttpRequest, *, invitation: Invitation | None, questions: list[Question], language: str
) -> HttpResponse:
    """The score posted by survey.js when the page opened with the email's score, or when the customer
    changes it: stored at once, so that it counts even if they close the page. A POST, never the GET of
    the email's link, so a mail scanner following links creates nothing."""
    nps = next((q for q in questions if q.kind == Question.Kind.NPS), None)
    raw = request.POST.get(field_name(nps), "") if nps else ""
    if invitation is None or nps is None:
        return JsonResponse(
            {"error": "not_accepted", "detail": "Only a personal link stores a score alone."}, status=400
        )
    if not (raw.isdigit() and 0 <= int(raw) <= 10):
        return JsonResponse(
            {"error": "score_invalid", "detail": "The score must be a whole number from 0 to 10."}, status=400
        )
    try:
        services.response_score_store(invitation=invitation, question=nps, score=int(raw), language=language)
    except services.AlreadyAnswered:
        return JsonResponse(
            {"error": "already_answered", "detail": "This survey has already been answered."}, status=409
        )
    except services.SurveyClosed:
        return JsonResponse({"error": "survey_closed", "detail": "This survey is closed."}, status=409)
    return HttpResponse(status=204)


def _submit(
    request: HttpRequest,
    *,
    page: dict,
    survey: Survey,
    invitation: Invitation | None,
    questions: list[Question],
    thanks_url: str,
) -> HttpResponse:
    """Validate and store a submitted form: a redirect to the thanks page when stored, else the page to show."""
    language = page["language"]
    form = SurveyResponseForm(request.POST, questions=questions, language=language)
    if not form.is_valid():
        page["form"] = form  # shown again with its errors
        return render_survey_page(request, **page, template="surveys/answer.html", action=request.get_full_path())
    try:
        services.response_submit(
            survey=survey,
            invitation=invitation,
            answers=form.answers(),
            language=language,
            channel=None if invitation else Channel.PUBLIC,
            questions=questions,
        )
    except services.AlreadyAnswered:
        return render_survey_page(request, **page, template="surveys/already_answered.html")
    except services.SurveyClosed:
        return render_survey_page(request, **page, template="surveys/closed.html")
    return redirect(f"{thanks_url}?{urlencode({'lang': language})}")


def _questions_html(survey: Survey, questions: list[Question], language: str) -> str:
    """The unanswered questions' markup, the same for every visitor of the survey in a language: rendered
    once per process and kept (building the form and rendering its radio groups is most of a page
    view). The key is a digest of every field of the survey and its questions, so an edit in admin
    shows at once; the cache is per process, so a deploy starts afresh."""
    values = [survey.pk, language] + [
        [getattr(obj, f.attname) for f in type(obj)._meta.concrete_fields] for obj in [survey, *questions]
    ]
    key = "questions:" + hashlib.sha256(repr(values).encode()).hexdigest()
    html = survey_pages.get(key)
    if html is None:
        form = SurveyResponseForm(questions=questions, language=language)
        html = render_to_string("surveys/_questions.html", {"items": form.items()})
        survey_pages.set(key, html, timeout=QUESTIONS_HTML_SECONDS)
    return html


# No CSRF check on the answer pages: they carry no session or login to abuse (the unguessable token
# in the URL is the only credential, and a public link is anonymous anyway), while the check's cookie
# breaks submits from mail apps' in-app browsers that block cookies: the customer would see a 403 and
# lose their answers. So the form carries no CSRF token either, and the page sets no cookie.
@csrf_exempt
@require_http_methods(["GET", "HEAD", "POST"])
def survey_answer(request: HttpRequest, token: str) -> HttpResponse:
    invitation = selectors.invitation_get_by_token(token=token)
    if invitation is None:
        return _link_unknown(request)
    return _answer(
        request, survey=invitation.survey, invitation=invitation, thanks_url=reverse("surveys-thanks", args=[token])
    )


@require_http_methods(["GET", "HEAD"])
def survey_thanks(request: HttpRequest, token: str) -> HttpResponse:
    invitation = selectors.invitation_get_by_token(token=token)
    if invitation is None:
        return _link_unknown(request)
    survey = invitation.survey
    language = survey.pick_language(request.GET.get("lang"), invitation.language)
    if invitation.responded_at is None:
        return redirect(f"{reverse('surveys-answer', args=[token])}?{urlencode({'lang': language})}")
    stored = selectors.invitation_response_scores(invitation=invitation)
    return render_survey_page(
        request,
        survey=survey,
        language=language,
        form=None,
        template="surveys/thanks.html",
        extra={"next_step": _next_step(survey, language, nps=stored[1] if stored else None)},
    )


def _next_step(survey: Survey, language: str, *, nps: int | None) -> dict | None:
    """What the thank-you page offers after this answer, as configured on the survey: a link for a
    promoter (a review site, a referral invitation), a text for a detractor; None otherwise."""
    category = nps_category(nps)
    if category == "promoter" and survey.next_promoter_url:
        with translation.override(language):
            label = survey.text("next_promoter_label", language) or gettext("Recommend us")
        return {"category": category, "url": survey.next_promoter_url, "label": label}
    if category == "detractor" and survey.text("next_detractor_text", language):
        return {"category": category, "text": survey.text("next_detractor_text", language)}
    return None


@csrf_exempt  # see survey_answer
@require_http_methods(["GET", "HEAD", "POST"])
def survey_public(request: HttpRequest, slug: str) -> HttpResponse:
    survey = selectors.survey_get_public(slug=slug)
    if survey is None:
        return _link_unknown(request)
    return _answer(request, survey=survey, invitation=None, thanks_url=reverse("surveys-public-thanks", args=[slug]))


@require_http_methods(["GET", "HEAD"])
def survey_public_thanks(request: HttpRequest, slug: str) -> HttpResponse:
    survey = selectors.survey_get_public(slug=slug)
    if survey is None:
        return _link_unknown(request)
    language = survey.pick_language(request.GET.get("lang"), getattr(request, "LANGUAGE_CODE", ""))
    return render_survey_page(request, survey=survey, language=language, form=None, template="surveys/thanks.html")


# Mail providers POST here without cookies (RFC 8058 one-click); the unguessable token is the authorisation.
@csrf_exempt
@require_http_methods(["GET", "HEAD", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    invitation = selectors.invitation_get_by_token(token=token)
    if invitation is None:
        return _link_unknown(request)
    survey = invitation.survey
    language = survey.pick_language(request.GET.get("lang"), invitation.language)
    done = invitation.customer.unsubscribed_at is not None
    if request.method == "POST":
        services.customer_unsubscribe(invitation=invitation)
        done = True
    context = {"survey": survey, "language": language, "form": None}
    # A GET only asks for confirmation: link scanners must not unsubscribe anyone.
    return render_survey_page(
        request, **context, template="surveys/unsubscribe.html" if not done else "surveys/unsubscribed.html"
    )


def _api_error(status: int, code: str, detail: str) -> JsonResponse:
    return JsonResponse({"error": code, "detail": detail}, status=status)


# No CSRF check: only a bearer token is accepted here, never the session cookie, so a cross-site request
# cannot act for a signed-in user.
@csrf_exempt
def api_invitations_create(request: HttpRequest, slug: str) -> JsonResponse:
    if request.method != "POST":
        response = _api_error(405, "method_not_allowed", "Only POST is allowed.")
        response["Allow"] = "POST"
        return response
    if not request.headers.get("Authorization", "").startswith("Bearer "):
        return _api_error(401, "unauthenticated", "Send an API token: Authorization: Bearer <token>.")
    user = api_user(request)
    if user is None:
        return _api_error(401, "unauthenticated", "Unknown or revoked API token.")
    if not is_cx_manager(user):
        return _api_error(403, "forbidden", "This token may not trigger surveys.")
    survey = Survey.objects.filter(slug=slug).first()
    if survey is None:
        return _api_error(404, "survey_unknown", f"No survey {slug!r}.")
    try:
        body = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        return _api_error(400, "invalid_json", "The body is not valid JSON.")
    if not isinstance(body, dict):
        return _api_error(400, "invalid_json", "The body must be a JSON object.")
    if contains_nul(body) or contains_nul(request.headers.get("Idempotency-Key", "")):
        return _api_error(400, "nul_character", "The request contains a NUL character (\\u0000), which is not allowed.")
    key = str(request.headers.get("Idempotency-Key") or body.get("idempotency_key") or "").strip()
    if not key or len(key) > 200:
        return _api_error(
            400,
            "idempotency_key_missing",
            "Send an idempotency key (Idempotency-Key header or idempotency_key, at most 200 characters).",
        )
    language = str(body.get("language") or "")
    if language and language[:2].lower() not in Language.values:
        return _api_error(400, "language_invalid", f"language must be one of {', '.join(Language.values)}.")
    try:
        invitation, created = services.invitation_create_for_api(
            survey=survey,
            idempotency_key=key,
            customer_id=str(body.get("customer_id") or "").strip(),
            email=str(body.get("email") or "").strip(),
            language=language,
        )
    except services.InvitationError as exc:
        status = {"customer_missing": 400, "customer_unknown": 422}.get(exc.code, 409)
        return _api_error(status, exc.code, str(exc))
    return JsonResponse(
        {
            "created": created,
            "invitation": {
                "id": invitation.pk,
                "survey": survey.slug,
                "customer_id": invitation.customer.external_id,
                "language": invitation.language,
                "status": invitation.status,
                "created_at": invitation.created_at.isoformat(),
            },
        },
        status=201 if created else 200,
    )
