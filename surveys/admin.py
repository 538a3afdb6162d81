"""Admin: surveys with their ordered questions, invitations, the response list, and the admin's tools
(create from a template, invite, preview, import history)."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
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
    ImportMappingForm,
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
    fields = ["order", "kind", "text_en", "text_es", "attribute", "attribute_es", "required", "choices_en",
              "choices_es"]  # fmt: skip
    ordering = ["order", "id"]
    formfield_overrides = {
        models.JSONField: {"widget": forms.Textarea(attrs={"rows": 2, "cols": 24, "placeholder": '["Basic", "Pro"]'})},
    }


def _count_per_survey(queryset: QuerySet) -> Coalesce:
    rows = queryset.filter(survey=OuterRef("pk")).order_by().values("survey").annotate(n=Count("*")).values("n")
    return Coalesce(Subquery(rows, output_field=IntegerField()), 0)


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
            gettext_lazy("Next step on the thank-you page"),
            {
                "fields": [
                    "next_promoter_url",
                    "next_promoter_label_en",
                    "next_promoter_label_es",
                    "next_detractor_text_en",
                    "next_detractor_text_es",
                ],
                "description": gettext_lazy(
                    "Shown after the answer by its NPS score: a link for promoters (9-10), a text for "
                    "detractors (0-6). Leave empty for no next step."
                ),
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
        queryset = super().get_queryset(request)
        if request.resolver_match and request.resolver_match.url_name != "surveys_survey_changelist":
            return queryset  # the counts are the list's columns; other views look one survey up by its key
        # One correlated count per survey row, each answered from an index. Two joined
        # Count(distinct=True) would multiply a survey's invitations by its responses before counting.
        return queryset.annotate(
            _sent=_count_per_survey(Invitation.objects.filter(status=Invitation.Status.SENT)),
            _responses=_count_per_survey(Response.objects.all()),
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
        # Permission before any work: Django looks the object up before its own check.
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        return super().change_view(request, object_id, form_url, extra_context)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and obj.pk:
            count = Response.objects.filter(survey=obj).count()
            context["response_count"] = count
            context["invitations_sent"] = Invitation.objects.filter(survey=obj, status=Invitation.Status.SENT).count()
            if count and request.method == "GET":
                messages.warning(
                    request,
                    _(
                        "This survey has %(count)s responses: question kinds, scales and attribute names are locked "
                        "to protect their history. You can still edit texts and add questions."
                    )
                    % {"count": count},
                )
        return super().render_change_form(request, context, add, change, form_url, obj)

    def delete_view(self, request, object_id, extra_context=None):
        if not self.has_delete_permission(request):
            raise PermissionDenied
        return super().delete_view(request, object_id, extra_context)

    def history_view(self, request, object_id, extra_context=None):
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        return super().history_view(request, object_id, extra_context)

    def get_deleted_objects(self, objs, request):
        """Counts instead of Django's list of every related row: a survey holds up to millions of
        invitations and responses, and its responses protect it (they are history)."""
        surveys = list(objs)
        ids = [survey.pk for survey in surveys]
        responses = Response.objects.filter(survey__in=ids).count()
        counts = {
            str(Survey._meta.verbose_name_plural): len(surveys),
            str(Question._meta.verbose_name_plural): Question.objects.filter(survey__in=ids).count(),
            str(Invitation._meta.verbose_name_plural): Invitation.objects.filter(survey__in=ids).count(),
        }
        protected = []
        if responses:
            protected.append(
                _("%(count)s responses (history is kept: close the survey instead of deleting it)")
                % {"count": responses}
            )
        perms_needed = set() if self.has_delete_permission(request) else {str(Survey._meta.verbose_name)}
        return [str(survey) for survey in surveys], counts, perms_needed, protected

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
                slug_from_name=True,
            ),
        )

    def invite_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """Invite customers: a dry run by default, which says how many would be emailed; above
        SURVEY_INVITE_CONFIRM_ABOVE the number must be typed to confirm before anything is sent."""
        if not self.has_change_permission(request):
            raise PermissionDenied
        survey = get_object_or_404(Survey, pk=pk)
        form = InviteForm(request.POST or None, request.FILES or None)
        plan, confirm_needed = None, False
        threshold = settings.SURVEY_INVITE_CONFIRM_ABOVE
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            if data["target"] == InviteForm.TARGET_FILE:
                customers = customers_targeted(external_ids=data["external_ids"], emails=data["emails"])
            else:
                customers = customers_targeted(segment=data.get("segment"))
            try:
                plan = services.invitations_create(
                    survey=survey, customers=customers, limit=data.get("limit"), dry_run=True
                )
                confirm_needed = (
                    not data["dry_run"] and plan.invitable > threshold and data.get("confirm_count") != plan.invitable
                )
                if not data["dry_run"] and not confirm_needed:
                    plan = services.invitations_create(
                        survey=survey, customers=customers, limit=data.get("limit"), dry_run=False
                    )
            except services.InvitationError as exc:
                self.message_user(request, str(exc), messages.ERROR)
                plan = None
            else:
                if not data["dry_run"] and not confirm_needed:
                    values = {"targeted": plan.targeted, "invitable": plan.invitable, "skipped": plan.skipped}
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
                if confirm_needed:
                    if data.get("confirm_count") is not None:
                        form.add_error("confirm_count", _("This is not the number of customers to email."))
                else:  # the dry run's result: the next submit sends
                    form = InviteForm(
                        initial={
                            **{k: v for k, v in data.items() if k in form.fields and k != "file"},
                            "dry_run": False,
                        }
                    )
        return TemplateResponse(
            request,
            "surveys/admin/invite.html",
            self._context(
                request,
                form=form,
                title=_("Invite customers to %(survey)s") % {"survey": survey},
                multipart=True,
                original=survey,
                policy_days=services.contact_policy_days(survey),
                plan=plan,
                confirm_needed=confirm_needed,
                threshold=threshold,
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
        """Upload, then a mapping step (the file's columns with a guessed mapping, ten rows and their
        errors), then the import on confirm."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        if request.method == "POST" and "token" in request.POST:
            return self._import_mapping_step(request)
        form = ImportForm(request.POST or None, request.FILES or None, initial={"survey_slug": request.GET.get("slug")})
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            raw = data["file"].read()
            preview = services.responses_import_preview(
                data=raw,
                survey_slug=data["survey_slug"],
                file_format=data["file_format"] or None,
                empty=data["empty"].split(),
                date_format=data["date_format"] or None,
            )
            if not preview.columns:
                form.add_error("file", _("The file is empty."))
            else:
                token = services.import_upload_store(data=raw)
                initial = {name: value for name, value in data.items() if name != "file"}
                mapping_form = ImportMappingForm(
                    initial={**initial, "token": token, "file_format": preview.file_format or ""},
                    columns=preview.columns,
                    guessed=preview.guessed,
                )
                return self._import_mapping_page(request, mapping_form, preview)
        return self._import_upload_page(request, form)

    def _import_upload_page(self, request, form, report=None) -> HttpResponse:
        return TemplateResponse(
            request,
            "surveys/admin/form.html",
            self._context(
                request,
                form=form,
                title=_("Import responses from a CSV file"),
                submit=_("Next: check the columns"),
                multipart=True,
                report=report,
            ),
        )

    def _import_mapping_page(self, request, form, preview, report=None) -> HttpResponse:
        errors = dict(preview.errors)
        rows = [(line, cells, errors.get(line, "")) for line, cells in zip(preview.lines, preview.rows, strict=True)]
        return TemplateResponse(
            request,
            "surveys/admin/import_mapping.html",
            self._context(
                request,
                form=form,
                preview=preview,
                rows=rows,
                report=report,
                title=_("Import responses: check the columns"),
            ),
        )

    def _import_mapping_step(self, request) -> HttpResponse:
        token = request.POST.get("token", "")
        try:
            raw = services.import_upload_read(token=token)
        except services.ImportFileError as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return redirect("admin:surveys_survey_import")
        form = ImportMappingForm(request.POST, columns=services.import_columns(data=raw), guessed={})
        if not form.is_valid():
            preview = services.responses_import_preview(data=raw, survey_slug=request.POST.get("survey_slug", ""))
            return self._import_mapping_page(request, form, preview)
        data = form.cleaned_data
        options = {
            "file_format": data["file_format"] or None,
            "empty": data["empty"].split(),
            "date_format": data["date_format"] or None,
        }
        report = None
        if request.POST.get("action") == "import":
            try:
                report = services.responses_import(
                    data=raw,
                    survey_slug=data["survey_slug"],
                    create_survey=data["create_survey"],
                    survey_type=data["survey_type"],
                    skip_invalid=data["skip_invalid"],
                    mapping=form.mapping(),
                    **options,
                )
            except services.ImportFileError as exc:
                form.add_error(None, str(exc))
            else:
                level = (
                    messages.SUCCESS
                    if report.imported and not report.errors
                    else (messages.WARNING if report.imported else messages.ERROR)
                )
                self.message_user(request, report.lines()[0], level)
                if report.imported:
                    services.import_upload_discard(token=token)
                    return self._import_upload_page(request, ImportForm(), report)
        preview = services.responses_import_preview(
            data=raw, survey_slug=data["survey_slug"], mapping=form.mapping(), **options
        )
        return self._import_mapping_page(request, form, preview, report)


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
    # A date filter rather than date_hierarchy, whose year links cost a scan of every invitation;
    # and no second count of the whole table beside the filtered one.
    list_filter = ["status", "channel", "language", "survey", "segment", "created_at"]
    search_fields = ["customer__external_id", "customer__email", "customer__name"]
    list_select_related = ["survey", "customer", "segment"]
    show_full_result_count = False
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
    list_filter = ["survey", "survey_type", "touchpoint", "channel", "language", "segment", "submitted_at"]
    search_fields = ["customer__external_id", "customer__email", "external_id", "comment"]
    list_select_related = ["survey", "customer", "segment"]
    show_full_result_count = False  # see InvitationAdmin
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
