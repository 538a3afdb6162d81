"""The dashboard pages: parse the filters, build the page (``presenters``) from one snapshot, render.

Every page reads the same filter bar (a GET form, so a view is bookmarkable), shows the form's
errors with status 400 instead of crashing, and gives each chart a CSV download of exactly the
frame it draws (``export_csv``).
"""

from __future__ import annotations

from urllib.parse import urlencode

from django import forms
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from churn.selectors import scored_run
from complaints.selectors import customer_complaints
from core import display
from core.access import cx_manager_required
from core.definitions import CATEGORIES
from customers.selectors import customer_profile, customers_by_crm_id
from followup.access import cases_visible, is_case_handler, is_manager, may_see_customer, may_use_cases
from followup.selectors import customer_cases
from metrics.filters import MetricFilterForm
from metrics.read import snapshot
from metrics.stats import min_responses

from . import datasets, presenters, selectors
from .forms import CustomerListForm, ResponseFilterForm

FILTER_FIELDS = presenters.FILTER_FIELDS

PAGES = (
    ("overview", "dashboards-overview", gettext_lazy("Overview")),
    ("surveys", "dashboards-surveys", gettext_lazy("Surveys")),
    ("customers", "dashboards-customers", gettext_lazy("Customer base")),
    ("combined", "dashboards-combined", gettext_lazy("Combined")),
    ("value", "dashboards-value", gettext_lazy("Value & retention")),
    ("comments", "dashboards-comments", gettext_lazy("Comments")),
    ("responses", "dashboards-responses", gettext_lazy("Responses")),
    ("follow_up", "dashboards-follow-up", gettext_lazy("Follow-up")),
    ("customer_list", "dashboards-customer-list", gettext_lazy("Customers")),
)


# --- the filter bar ------------------------------------------------------------------------------


def _filter_form(request: HttpRequest) -> MetricFilterForm:
    form = MetricFilterForm(presenters.page_filter_data(request.GET))
    choices = selectors.filter_choices()
    select = "form-select form-select-sm"
    form.fields["start"].widget = forms.DateInput(
        attrs={"type": "date", "class": "form-control form-control-sm"}, format="%Y-%m-%d"
    )
    form.fields["end"].widget = forms.DateInput(
        attrs={"type": "date", "class": "form-control form-control-sm"}, format="%Y-%m-%d"
    )
    form.fields["segment"].widget = forms.Select(choices=[("", _("All segments")), *choices["segments"]])
    form.fields["survey"].widget = forms.Select(choices=[("", _("All surveys")), *choices["surveys"]])
    blanks = {
        "preset": _("Custom dates"),
        "survey_type": _("All types"),
        "touchpoint": _("All touchpoints"),
        "audience": _("All audiences"),
    }
    for name, blank in blanks.items():
        field = form.fields[name]
        field.choices = [("", blank), *[c for c in field.choices if c[0]]]
    for name in ("granularity", "compare"):
        form.fields[name].choices = [c for c in form.fields[name].choices if c[0]]
    for name in FILTER_FIELDS:
        form.fields[name].widget.attrs.setdefault("class", select)
        form.fields[name].widget.attrs["id"] = f"filter-{name}"
    return form


def _filter_query(request: HttpRequest) -> str:
    """The filter parameters of the request (nothing else: not a comment search or page number)."""
    return urlencode([(k, v) for k in FILTER_FIELDS for v in request.GET.getlist(k) if v])


def _page(request: HttpRequest, page: str) -> HttpResponse:
    build = presenters.FILTERED_PAGES[page]
    form = _filter_form(request)
    query = _filter_query(request)
    context = {
        "form": form,
        "page": page,
        "filter_query": query,
        "nav": [(key, reverse(name) + (f"?{query}" if query else ""), label) for key, name, label in PAGES],
        "page_title": {k: label for k, _n, label in PAGES}[page],
    }
    if not form.is_valid():
        return render(request, "dashboards/filter_error.html", context, status=400)
    filters = form.filters()
    granularity = form.cleaned_data["granularity"]
    context.update(
        filters=filters,
        previous=filters.comparison_period(),
        granularity=granularity,
        granularity_label=dict(form.fields["granularity"].choices).get(granularity, granularity),
        has_data=selectors.has_any_data(),
        min_responses=min_responses(),
    )
    if context["has_data"]:
        with snapshot():
            context.update(build(request.GET, filters, granularity, query))
    return render(request, f"dashboards/{page}.html", context, status=context.pop("status", 200))


def overview(request: HttpRequest) -> HttpResponse:
    # The home page: a case handler (who sees no dashboards) lands on their cases instead of a 403.
    if is_case_handler(request.user) and not is_manager(request.user):
        return redirect("followup-cases")
    return _overview(request)


@cx_manager_required
def _overview(request: HttpRequest) -> HttpResponse:
    return _page(request, "overview")


@cx_manager_required
def surveys(request: HttpRequest) -> HttpResponse:
    return _page(request, "surveys")


@cx_manager_required
def customer_base(request: HttpRequest) -> HttpResponse:
    return _page(request, "customers")


@cx_manager_required
def combined_view(request: HttpRequest) -> HttpResponse:
    return _page(request, "combined")


@cx_manager_required
def value_view(request: HttpRequest) -> HttpResponse:
    return _page(request, "value")


@cx_manager_required
def comments_view(request: HttpRequest) -> HttpResponse:
    return _page(request, "comments")


@cx_manager_required
def follow_up_view(request: HttpRequest) -> HttpResponse:
    """What happens after the answers: complaints and inquiries, and satisfaction after an incident."""
    return _page(request, "follow_up")


@cx_manager_required
def responses(request: HttpRequest) -> HttpResponse:
    """The responses explorer: every response behind the dashboards' figures, filterable further."""
    return _page(request, "responses")


def customer_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One customer: who they are, their scores over time, every response and CRM event, their cases.
    CX managers see every customer; case handlers those of the cases assigned to them."""
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    if not may_see_customer(request.user, pk):
        raise PermissionDenied
    customer = customer_profile(pk=pk)
    if customer is None:
        raise Http404(_("No customer with this id."))
    query = _filter_query(request)
    manager = is_manager(request.user)
    context = {
        "nav": [(key, reverse(name) + (f"?{query}" if query else ""), label) for key, name, label in PAGES]
        if manager
        else [],
        "page": "customer",
        **presenters.customer_page(customer),
        "cases": customer_cases(customer_id=customer.pk, user=request.user),
        "complaints": customer_complaints(customer_id=customer.pk),
        "case_new_url": f"{reverse('followup-case-new')}?customer={customer.pk}",
    }
    return render(request, "dashboards/customer.html", context)


@cx_manager_required
def customer_by_crm_id(request: HttpRequest, external_id: str) -> HttpResponse:
    """A customer by CRM id (the id the dashboard tables and their CSVs carry): their page, or the
    list of connections when more than one CRM holds that id."""
    found = customers_by_crm_id(external_id=external_id, connection_name=request.GET.get("connection", ""))
    if not found:
        raise Http404(_("No customer with this CRM id."))
    if len(found) == 1:
        return redirect("dashboards-customer", pk=found[0].pk)
    context = {
        "nav": [(key, reverse(name), label) for key, name, label in PAGES],
        "external_id": external_id,
        "choices": [
            (c.connection.name, presenters.customer_name(c), reverse("dashboards-customer", args=[c.pk])) for c in found
        ],
    }
    return render(request, "dashboards/customer_choice.html", context)


def _csv_filename(name: str, form: MetricFilterForm) -> str:
    """The file's name says what it holds: the chart, the period and every filter in force."""
    filters = form.filters()
    parts = ["cxmetrics", name, filters.start.isoformat(), filters.end.isoformat()]
    for field in FILTER_FIELDS[3:]:  # after preset, start and end
        value = form.cleaned_data.get(field)
        if value and field not in ("granularity", "compare"):
            parts += [field, display.filename_part(str(value))]
    return "-".join(parts) + ".csv"


def _csv_response(lines, filename: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _bad_parameters(form: MetricFilterForm) -> HttpResponse:
    return HttpResponse(f"Bad parameters: {form.error_text()}\n", status=400, content_type="text/plain; charset=utf-8")


@cx_manager_required
def export_csv(request: HttpRequest, chart: str) -> HttpResponse:
    """The frame behind a chart as CSV, for the same filters as the page."""
    dataset = datasets.DATASETS.get(chart)
    if dataset is None:
        raise Http404(f"Unknown chart {chart!r}.")
    form = _filter_form(request)
    if not form.is_valid():
        return _bad_parameters(form)
    with snapshot():
        frame = dataset(form.filters(), form.cleaned_data["granularity"])
    # The KPI table mixes money with scores in one column: there every fraction keeps four decimals.
    money = frozenset() if chart == "kpis" else datasets.MONEY_COLUMNS
    rows = frame.astype(object).to_numpy().tolist()
    return _csv_response(display.csv_lines(list(frame.columns), rows, money_columns=money), _csv_filename(chart, form))


@cx_manager_required
def export_comments(request: HttpRequest) -> HttpResponse:
    """Every comment the comment list shows (the same filters, category and search), streamed."""
    form = _filter_form(request)
    if not form.is_valid():
        return _bad_parameters(form)
    category = request.GET.get("category", "")
    comments = selectors.comment_rows(
        filters=form.filters(),
        category=category if category in CATEGORIES else None,
        q=request.GET.get("q", "").strip()[:100],
    )
    return _csv_response(display.csv_lines(list(selectors.COMMENT_COLUMNS), comments), _csv_filename("comments", form))


@cx_manager_required
def export_responses(request: HttpRequest) -> HttpResponse:
    """Every response the explorer lists for the same filters (all pages), streamed."""
    form = _filter_form(request)
    explorer = ResponseFilterForm(request.GET)
    if not form.is_valid() or not explorer.is_valid():
        text = "; ".join(f.error_text() for f in (form, explorer) if f.errors)
        return HttpResponse(f"Bad parameters: {text}\n", status=400, content_type="text/plain; charset=utf-8")
    rows = selectors.explorer_csv_rows(filters=form.filters(), **explorer.selection())
    return _csv_response(display.csv_lines(list(selectors.COMMENT_COLUMNS), rows), _csv_filename("responses", form))


# --- the customer list ------------------------------------------------------------------------------


def _customer_list(request: HttpRequest) -> tuple[CustomerListForm, dict | None]:
    """The list's form and, when it is valid, the arguments of ``selectors.customer_list`` for this user:
    a CX manager sees every customer, a case handler the customers of the cases assigned to them."""
    form = CustomerListForm(request.GET, segments=[name for name, _label in selectors.filter_choices()["segments"]])
    if not form.is_valid():
        return form, None
    within = None if is_manager(request.user) else cases_visible(request.user).values("customer_id")
    return form, {**form.selection(), "run": scored_run(), "within": within}


def _may_list_customers(request: HttpRequest) -> HttpResponse | None:
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    if not may_use_cases(request.user):
        raise PermissionDenied
    return None


def customer_list_view(request: HttpRequest) -> HttpResponse:
    """Every customer, searchable, filtered and sorted by value, churn risk, value × risk, latest NPS or
    name, 50 a page, with the CSV of the whole list."""
    if (refused := _may_list_customers(request)) is not None:
        return refused
    form, arguments = _customer_list(request)
    manager = is_manager(request.user)
    context = {
        "nav": [(key, reverse(name), label) for key, name, label in PAGES] if manager else [],
        "page": "customer_list",
        "page_title": _("Customer list"),
        "form": form,
        "manager": manager,
    }
    if arguments is None:
        return render(request, "dashboards/customer_list.html", context, status=400)
    context.update(
        presenters.customer_list_page(
            rows=selectors.customer_list(**arguments),
            page_number=form.cleaned_data["page"],
            params=request.GET,
            selection=form.selection(),
            run=arguments["run"],
        )
    )
    return render(request, "dashboards/customer_list.html", context)


def export_customer_list(request: HttpRequest) -> HttpResponse:
    """The customer list's every row for the same search, filters and order, streamed."""
    if (refused := _may_list_customers(request)) is not None:
        return refused
    form, arguments = _customer_list(request)
    if arguments is None:
        return _bad_parameters(form)
    rows = (presenters.customer_csv_row(r) for r in selectors.customer_list(**arguments).iterator(chunk_size=2000))
    lines = display.csv_lines(presenters.CUSTOMER_CSV_COLUMNS, rows, money_columns=datasets.MONEY_COLUMNS)
    return _csv_response(lines, f"cxmetrics-customers-{timezone.localdate().isoformat()}.csv")
