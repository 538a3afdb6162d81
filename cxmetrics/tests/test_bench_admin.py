"""The admin benchmark phase visits every registered model's list and change page."""

import json
from io import StringIO

import pytest
from django.contrib import admin
from django.core.management import call_command

from customers.tests.factories import CustomerFactory
from surveys.tests.factories import ResponseFactory, relational_survey

pytestmark = pytest.mark.django_db


def test_every_admin_list_and_change_page_is_measured():
    busy = relational_survey(slug="busy")
    relational_survey(slug="quiet")
    ResponseFactory.create_batch(2, survey=busy, customer=CustomerFactory())
    out = StringIO()
    call_command("bench_admin", "--repeats", "1", "--warmup", "0", stdout=out)
    pages = {row["page"]: row for row in json.loads(out.getvalue())["pages"]}
    for model in admin.site._registry:
        assert f"{model._meta.app_label}.{model._meta.model_name} list" in pages
    assert pages["surveys.survey change"]["url"] == f"/admin/surveys/survey/{busy.pk}/change/"
    assert {"surveys.survey delete", "surveys.survey history", "customers.customer change"} <= set(pages)
    assert all(row["median_ms"] > 0 for row in pages.values())
