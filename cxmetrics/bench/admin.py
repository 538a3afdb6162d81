"""Server time of every admin list and change page (and the survey's delete and history pages, which
Django builds from the same lookups) at the benchmark size, through Django's test client as a superuser."""

from __future__ import annotations

import statistics

from django.contrib import admin
from django.db.models import Count
from django.test import Client
from django.urls import reverse

from cxmetrics.bench.dashboards import _percentile, _timed
from surveys.models import Survey


def _representative(model):
    """The object whose pages cost the most: the survey with the most responses, else the newest row."""
    if model is Survey:
        return Survey.objects.annotate(n=Count("responses")).order_by("-n").first()
    return model._default_manager.order_by("-pk").first()


def pages() -> list[tuple[str, str]]:
    found = []
    for model in admin.site._registry:
        opts = model._meta
        name = f"{opts.app_label}.{opts.model_name}"
        found.append((f"{name} list", reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")))
        obj = _representative(model)
        if obj is None:
            continue
        found.append((f"{name} change", reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])))
        if model is Survey:
            for view in ("delete", "history"):
                found.append((f"{name} {view}", reverse(f"admin:surveys_survey_{view}", args=[obj.pk])))
    return found


def measure(*, client: Client, repeats: int = 5, warmup: int = 1) -> list[dict]:
    results = []
    for label, url in pages():

        def get(url=url) -> None:
            response = client.get(url)
            if response.status_code != 200:
                raise RuntimeError(f"{url} answered {response.status_code}")

        samples = _timed(get, repeats, warmup)
        results.append(
            {"page": label, "url": url, "median_ms": statistics.median(samples), "p95_ms": _percentile(samples, 95)}
        )
    return results
