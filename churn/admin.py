from django.contrib import admin, messages
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _

from .models import ChurnRiskRun
from .services import RunBusy
from .tasks import churn_risk_queue


@admin.register(ChurnRiskRun)
class ChurnRiskRunAdmin(admin.ModelAdmin):
    list_display = ["requested_at", "status", "finished_at", "auc", "train_losses", "test_rows", "customers_scored"]
    list_filter = ["status"]
    actions = ["train_now"]
    change_list_template = "admin/churn/churnriskrun/change_list.html"

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def _queue(self, request) -> None:
        try:
            churn_risk_queue()
        except RunBusy:
            self.message_user(request, _("A churn-risk run is already queued or training."), messages.WARNING)
        else:
            self.message_user(request, _("Churn-risk training queued; the page shows the new scores when it finishes."))

    @admin.action(description=_("Train the churn-risk model now"), permissions=["view"])
    def train_now(self, request, queryset):
        self._queue(request)

    def get_urls(self):
        return [
            path("train/", self.admin_site.admin_view(self.train_view), name="churn_churnriskrun_train"),
            *super().get_urls(),
        ]

    def train_view(self, request):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_view_permission(request):
            return HttpResponseRedirect(reverse("admin:index"))
        self._queue(request)
        return HttpResponseRedirect(reverse("admin:churn_churnriskrun_changelist"))
