"""The form CX staff log a complaint or an inquiry with."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _

from .forms import ComplaintForm
from .models import Complaint
from .selectors import may_log_complaints
from .services import complaint_create


def complaint_new(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    if not may_log_complaints(request.user):
        raise PermissionDenied
    form = ComplaintForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        complaint, _created = complaint_create(
            kind=data["kind"],
            customer=data["customer_found"],
            received_at=data["received_at"],
            channel=data["channel"],
            category=data["category"],
            summary=data["summary"],
            resolved_at=data["resolved_at"],
            source=Complaint.Source.FORM,
            created_by=request.user,
        )
        text = _("Complaint logged.") if complaint.kind == Complaint.Kind.COMPLAINT else _("Inquiry logged.")
        messages.success(request, text)
        if data["open_case"] and complaint.customer_id:
            # The cases app (above this one) opens the case on the complaint: its form, reached by its URL.
            return redirect(f"{reverse('followup-case-new')}?complaint={complaint.pk}")
        return redirect("complaints-new")
    status = 400 if request.method == "POST" else 200
    return render(request, "complaints/complaint_form.html", {"form": form}, status=status)
