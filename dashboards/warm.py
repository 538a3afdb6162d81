"""The dashboards' default views computed by a worker after each refresh of the read model.

The estimates a page keeps until the read model's next refresh (``metrics.read.kept_until_refresh``:
the retention curves, the driver weights, the loop closure rate, NPS after an incident, the referral
figures) cost seconds to compute. Under a steady flow of answers the read model changes every minute,
so without this the first manager to open a page each minute would wait for them. The worker builds
each page and the API document for their default periods once per refresh that changed something;
managers then read what it stored.

It only helps when the web processes and the worker share the cache (``CACHE_URL``): with the
default per-process memory cache there is nothing to share, and it does nothing.
"""

from __future__ import annotations

from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.dummy import DummyCache
from django.core.cache.backends.locmem import LocMemCache
from django.http import QueryDict
from django.utils import translation

from metrics.document import metrics_document
from metrics.filters import MetricFilterForm
from metrics.read import KEPT_SECONDS, last_refresh, snapshot

from . import selectors
from .presenters import FILTERED_PAGES, page_filter_data

# The refresh whose figures were last computed here.
WARMED_KEY = "dashboards:warmed-refresh"
# The pages whose default view reads costly kept estimates (the others read rollups, or cheap estimates).
WARMED_PAGES = ("surveys", "value", "follow_up")


def shares_cache() -> bool:
    """Whether what this process stores in the default cache is read by the web processes."""
    return not isinstance(caches["default"], LocMemCache | DummyCache)


def warm_pages() -> list[str]:
    """Build each page of WARMED_PAGES for its default filters, and the API document for its own, if the
    read model changed since the last time. Returns what was built (nothing when nothing changed, the
    cache is not shared, or there is no data yet)."""
    if not shares_cache():
        return []
    with snapshot():
        refreshed = last_refresh()
    if refreshed is None or cache.get(WARMED_KEY) == refreshed.isoformat() or not selectors.has_any_data():
        return []
    # The filters a bare page URL and a bare API call resolve to, as their views parse them.
    page_form, api_form = MetricFilterForm(page_filter_data(QueryDict())), MetricFilterForm({})
    if not (page_form.is_valid() and api_form.is_valid()):
        raise ValueError(f"The default filters do not parse: {page_form.errors or api_form.errors}")
    granularity = page_form.cleaned_data["granularity"]
    built = []
    with translation.override(settings.LANGUAGE_CODE):
        for page in WARMED_PAGES:
            with snapshot():
                FILTERED_PAGES[page](QueryDict(), page_form.filters(), granularity, "")
            built.append(page)
        metrics_document(api_form.filters())
        built.append("api")
    cache.set(WARMED_KEY, refreshed.isoformat(), timeout=KEPT_SECONDS)
    return built
