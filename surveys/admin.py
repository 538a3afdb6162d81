"""Admin: surveys with their ordered questions, invitations, the response list, and the admin's tools
(create from a template, invite, preview, import history)."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from customers.selectors import customers_targeted
from surveys import selectors, services
from surveys.forms import (
    ImportForm,
    InviteForm,
    QuestionInlineFormSet,
    SurveyAdminForm,
    SurveyFromTemplateForm,
    SurveyResponseForm,
)
from surveys.models import AttributeScore, Invitation, Question, Response, Survey
from surveys.views import render_survey_page


class QuestionInline(admin.TabularInline):
    model = Question
    formset = QuestionInlineFormSet
    extra = 0
    fields = ["order", "kind", "text_en", "text_es", "attribute", "required", "choices_en", "choices_es"]
    ordering = ["order", "id"]
    formfield_overrides = {
        models.JSONField: {"widget": forms.Textarea(attrs={"rows": 2, "cols": 24, "placeholder": '["Basic", "Pro"]'})},
    }


@admin.register(Survey)
class SurveyAdmin(admin.ModelAdmin):
    form = SurveyAdminForm
    inlines = [QuestionInline]
    list_display = [
        "name",
        "slug",
        "survey_type",
        "touchpoint",
        "audience",
        "opens_at",
        "closes_at",
        "invitations_sent",
        "responses_count",
    ]
    list_filter = ["survey_type", "touchpoint", "audience"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    actions = ["invite_customers"]
    change_form_template = "surveys/admin/survey_change_form.html"
    change_list_template = "surveys/admin/survey_change_list.html"
    fieldsets = [
        (None, {"fields": ["name", "slug", "survey_type", "touchpoint", "audience", "languages"]}),
        (
            gettext_lazy("Customer-facing texts"),
            {
                "fields": [
                    "title_en",
                    "title_es",
                    "intro_en",
                    "intro_es",
                    "thanks_en",
                    "thanks_es",
                    "email_subject_en",
                    "email_subject_es",
                ]
            },
        ),
        (
            gettext_lazy("Availability and contact"),
            {
                "fields": [
                    "opens_at",
                    "closes_at",
                    "allow_public_link",
                    "reminder_delay_days",
                    "contact_policy_days",
                    "link_valid_days",
                ]
            },
        ),
    ]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                _sent=Count("invitations", filter=Q(invitations__status=Invitation.Status.SENT), distinct=True),
                _responses=Count("responses", distinct=True),
            )
        )

    @admin.display(description=gettext_lazy("invitations sent"), ordering="_sent")
    def invitations_sent(self, obj: Survey) -> int:
        return obj._sent

    @admin.display(description=gettext_lazy("responses"), ordering="_responses")
    def responses_count(self, obj: Survey) -> int:
        return obj._responses

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("from-template/", wrap(self.from_template_view), name="surveys_survey_from_template"),
            path("import/", wrap(self.import_view), name="surveys_survey_import"),
            path("<int:pk>/invite/", wrap(self.invite_view), name="surveys_survey_invite"),
            path("<int:pk>/preview/", wrap(self.preview_view), name="surveys_survey_preview"),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        survey = self.get_object(request, object_id)
        extra_context = extra_context or {}
        if survey is not None:
            count = survey.responses.count()
            extra_context["response_count"] = count
            extra_context["funnel"] = selectors.invitation_funnel(
                by="survey", invitations=Invitation.objects.filter(survey=survey)
            )
            if count and request.method == "GET":
                messages.warning(
                    request,
                    _(
                        "This survey has %(count)s responses: question kinds, scales and attribute names are locked "
                        "to protect their history. You can still edit texts and add questions."
                    )
                    % {"count": count},
                )
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.action(description=gettext_lazy("Invite customers to the selected survey…"))
    def invite_customers(self, request: HttpRequest, queryset):
        if queryset.count() != 1:
            self.message_user(request, _("Select exactly one survey to invite customers to."), messages.ERROR)
            return None
        return HttpResponseRedirect(reverse("admin:surveys_survey_invite", args=[queryset.first().pk]))

    def _context(self, request, **extra):
        return {**self.admin_site.each_context(request), "opts": self.model._meta, **extra}

    def from_template_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = SurveyFromTemplateForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            survey = services.survey_create_from_template(
                template=form.cleaned_data["template"],
                name=form.cleaned_data["name"],
                slug=form.cleaned_data["slug"],
                languages=form.cleaned_data["languages"],
            )
            self.message_user(request, _("Survey created from the template: review its texts and questions."))
            return redirect("admin:surveys_survey_change", survey.pk)
        return TemplateResponse(
            request,
            "surveys/admin/form.html",
            self._context(
                request,
                form=form,
                title=_("New survey from a template"),
                submit=_("Create survey"),
            ),
        )

    def invite_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        if not self.has_change_permission(request):
            raise PermissionDenied
        survey = get_object_or_404(Survey, pk=pk)
        form = InviteForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            if data["target"] == InviteForm.TARGET_FILE:
                customers = customers_targeted(external_ids=data["external_ids"], emails=data["emails"])
            else:
                customers = customers_targeted(segment=data.get("segment"))
            try:
                plan = services.invitations_create(
                    survey=survey, customers=customers, limit=data.get("limit"), dry_run=data["dry_run"]
                )
            except services.InvitationError as exc:
                self.message_user(request, str(exc), messages.ERROR)
            else:
                values = {"targeted": plan.targeted, "invitable": plan.invitable, "skipped": plan.skipped}
                if data["dry_run"]:
                    self.message_user(
                        request,
                        _(
                            "Dry run: %(targeted)s customers targeted, %(invitable)s would be invited, %(skipped)s "
                            "skipped by the contact policy, unsubscribes or missing emails."
                        )
                        % values,
                    )
                else:
                    self.message_user(
                        request,
                        _(
                            "%(invitable)s invitations queued for sending (%(targeted)s customers targeted, "
                            "%(skipped)s skipped by the contact policy, unsubscribes or missing emails)."
                        )
                        % values,
                        messages.SUCCESS,
                    )
                    return redirect("admin:surveys_survey_change", survey.pk)
        return TemplateResponse(
            request,
            "surveys/admin/form.html",
            self._context(
                request,
                form=form,
                title=_("Invite customers to %(survey)s") % {"survey": survey},
                submit=_("Invite"),
                multipart=True,
                original=survey,
                policy_days=services.contact_policy_days(survey),
            ),
        )

    def preview_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        survey = get_object_or_404(Survey, pk=pk)
        language = survey.pick_language(request.GET.get("lang"))
        form = SurveyResponseForm(questions=selectors.survey_questions(survey=survey), language=language)
        return render_survey_page(
            request, survey=survey, language=language, form=form, template="surveys/answer.html", preview=True
        )

    def import_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = ImportForm(request.POST or None, request.FILES or None, initial={"survey_slug": request.GET.get("slug")})
        report = None
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                report = services.responses_import(
                    data=data["file"].read(),
                    survey_slug=data["survey_slug"],
                    create_survey=data["create_survey"],
                    survey_type=data["survey_type"],
                    skip_invalid=data["skip_invalid"],
                )
            except services.ImportFileError as exc:
                form.add_error("file", str(exc))
            else:
                level = (
                    messages.SUCCESS
                    if report.imported and not report.errors
                    else (messages.WARNING if report.imported else messages.ERROR)
                )
                self.message_user(request, report.lines()[0], level)
        return TemplateResponse(
            request,
            "surveys/admin/form.html",
            self._context(
                request,
                form=form,
                title=_("Import responses from a CSV file"),
                submit=_("Import"),
                multipart=True,
                report=report,
            ),
        )


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = [
        "survey",
        "customer",
        "language",
        "channel",
        "status",
        "segment",
        "sent_at",
        "opened_at",
        "responded_at",
        "reminded_at",
    ]
    list_filter = ["status", "channel", "language", "survey", "segment"]
    search_fields = ["customer__external_id", "customer__email", "customer__name"]
    list_select_related = ["survey", "customer", "segment"]
    date_hierarchy = "created_at"
    exclude = ["token"]  # the personal link is a credential: never shown in admin

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    # Deleting goes through the service, which keeps the invitation rollups true.
    def delete_model(self, request, obj):
        services.invitations_delete(invitations=Invitation.objects.filter(pk=obj.pk))

    def delete_queryset(self, request, queryset):
        services.invitations_delete(invitations=queryset)


class AttributeScoreInline(admin.TabularInline):
    model = AttributeScore
    fields = ["attribute", "score"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Response)
class ResponseAdmin(admin.ModelAdmin):
    list_display = [
        "submitted_at",
        "survey",
        "customer",
        "segment",
        "nps",
        "csat",
        "ces",
        "overall",
        "language",
        "channel",
    ]
    list_filter = ["survey", "survey_type", "touchpoint", "channel", "language", "segment"]
    search_fields = ["customer__external_id", "customer__email", "external_id", "comment"]
    list_select_related = ["survey", "customer", "segment"]
    date_hierarchy = "submitted_at"
    inlines = [AttributeScoreInline]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    # Deleting goes through the service, which keeps the rollups and the customers' latest answer true.
    def delete_model(self, request, obj):
        services.responses_delete(responses=Response.objects.filter(pk=obj.pk))

    def delete_queryset(self, request, queryset):
        services.responses_delete(responses=queryset)
