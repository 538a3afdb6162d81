"""The Cases pages: the list (mine / team / overdue / all), one case with its timeline and actions, and
opening a case on a customer or one of their answers."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from complaints.models import Complaint
from customers.models import Customer
from surveys.models import Response

from . import forms, selectors, services
from .access import is_manager, may_see_customer, may_use_cases

PAGE_SIZE = 50
VIEW_LABELS = {
    "mine": gettext_lazy("Mine"),
    "team": gettext_lazy("Team"),
    "overdue": gettext_lazy("Overdue"),
    "all": gettext_lazy("All"),
}


def case_access_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not may_use_cases(request.user):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapper


@case_access_required
def cases(request: HttpRequest) -> HttpResponse:
    form = forms.CaseListForm(request.GET)
    form.is_valid()
    view = form.cleaned_data.get("view") or "mine"
    sort = form.cleaned_data.get("sort") or "due"
    page = Paginator(selectors.cases_list(user=request.user, view=view, sort=sort), PAGE_SIZE).get_page(
        form.cleaned_data.get("page") or 1
    )
    context = {
        "views": [(key, str(label), key == view) for key, label in VIEW_LABELS.items()],
        "view": view,
        "sort": sort,
        "page": page,
        "is_manager": is_manager(request.user),
    }
    return render(request, "followup/cases.html", context)


def _case_or_404(request: HttpRequest, pk: int):
    case = selectors.case_detail(user=request.user, pk=pk)
    if case is None:
        raise Http404(_("No case with this id."))
    return case


ACTIONS = {
    "status": forms.CaseStatusForm,
    "close": forms.CaseCloseForm,
    "note": forms.CaseNoteForm,
    "email": forms.CaseEmailForm,
    "assign": forms.CaseAssignForm,
}


@case_access_required
@require_http_methods(["GET", "POST"])
def case(request: HttpRequest, pk: int) -> HttpResponse:
    case = _case_or_404(request, pk)
    bound = {}
    if request.method == "POST":
        action = request.POST.get("action", "")
        if action not in ACTIONS or (action == "assign" and not is_manager(request.user)):
            return HttpResponse(_("Unknown action."), status=400)
        form = ACTIONS[action](request.POST)
        if form.is_valid():
            try:
                _apply(action, case=case, data=form.cleaned_data, user=request.user)
            except services.CaseError as exc:
                messages.error(request, str(exc))
            else:
                return redirect("followup-case", pk=case.pk)
        bound[action] = form
    context = {
        "case": case,
        "timeline": selectors.case_timeline(case=case),
        "customer_name": _customer_name(case.customer),
        "status_form": bound.get("status") or forms.CaseStatusForm(initial={"status": case.status}),
        "close_form": bound.get("close") or forms.CaseCloseForm(),
        "note_form": bound.get("note") or forms.CaseNoteForm(),
        "email_form": bound.get("email") or forms.CaseEmailForm(),
        "assign_form": (bound.get("assign") or forms.CaseAssignForm(initial={"owner": case.owner_id}))
        if is_manager(request.user)
        else None,
    }
    return render(request, "followup/case.html", context, status=400 if bound else 200)


def _customer_name(customer: Customer) -> str:
    if customer.erased_at:
        return _("(personal data erased)")
    return customer.name or customer.external_id


def _apply(action: str, *, case, data: dict, user) -> None:
    if action == "status":
        services.case_status_set(case=case, status=data["status"], by=user)
    elif action == "close":
        services.case_close(case=case, outcome=data["outcome"], note=data["note"], by=user)
    elif action == "note":
        services.case_note_add(case=case, text=data["text"], contacted=data["contacted"], by=user)
    elif action == "email":
        services.case_email_send(case=case, message=data["message"], by=user)
    elif action == "assign":
        services.case_assign(case=case, owner=data["owner"], by=user)


@case_access_required
@require_http_methods(["GET", "POST"])
def case_new(request: HttpRequest) -> HttpResponse:
    """Open a case on a customer (``?customer=<id>``), one of their answers (``?response=<id>``) or one of
    their complaints (``?complaint=<id>``)."""
    source = request.POST if request.method == "POST" else request.GET
    response = complaint = None
    if source.get("complaint"):
        complaint = get_object_or_404(Complaint.objects.select_related("customer"), pk=_int(source["complaint"]))
        if complaint.customer is None:
            raise Http404(_("This complaint has no identified customer to follow up."))
        customer = complaint.customer
    elif source.get("response"):
        response = get_object_or_404(Response.objects.select_related("customer", "survey"), pk=_int(source["response"]))
        if response.customer is None:
            raise Http404(_("This answer has no identified customer to follow up."))
        customer = response.customer
    else:
        customer = get_object_or_404(Customer, pk=_int(source.get("customer")))
    if not may_see_customer(request.user, customer.pk):
        raise PermissionDenied
    manager = is_manager(request.user)
    form = forms.CaseOpenForm(request.POST or None, initial={"owner": request.user.pk})
    if not manager:
        form.fields["owner"].disabled = True
    if request.method == "POST" and form.is_valid():
        owner = form.cleaned_data["owner"] if manager else request.user
        new = services.case_open(
            customer=customer,
            response=response,
            complaint=complaint,
            owner=owner,
            by=request.user,
            priority=form.cleaned_data["priority"],
            sla_hours=form.cleaned_data["sla_hours"],
            note=form.cleaned_data["note"],
        )
        return redirect("followup-case", pk=new.pk)
    context = {
        "form": form,
        "customer": customer,
        "customer_name": _customer_name(customer),
        "response": response,
        "complaint": complaint,
        "customer_url": reverse("dashboards-customer", args=[customer.pk]),
    }
    return render(request, "followup/case_new.html", context, status=400 if form.is_bound else 200)


def _int(text: str | None) -> int:
    try:
        return int(text or "")
    except ValueError as exc:
        raise Http404(_("No such customer or response.")) from exc
