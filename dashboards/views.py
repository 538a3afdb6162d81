from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from cxmetrics.access import cx_manager_required

from . import selectors


@cx_manager_required
def overview(request: HttpRequest) -> HttpResponse:
    return render(request, "dashboards/overview.html", {"totals": selectors.data_totals()})
