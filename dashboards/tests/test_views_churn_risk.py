"""The churn-risk section of the Value & retention page, the customer page's risk, the API document's
``value.churn_risk`` and the CSV exports, all read from a stored run (nothing is trained per request)."""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal

import plotly.graph_objects as go
import pytest
from django.urls import reverse
from django.utils import timezone

from churn.models import ChurnRiskRun, ChurnRiskScore
from crm_sync.models import Connection
from customers.models import Customer
from cxmetrics.tests.factories import cx_manager
from dashboards import charts, datasets
from metrics.document import metrics_document
from metrics.filters import MetricFilters, preset_period

URL = "dashboards-value"
CALIBRATION = [{"decile": d, "predicted": d / 20, "observed": d / 25, "n": 10} for d in range(1, 11)]

pytestmark = pytest.mark.django_db


@pytest.fixture
def manager_client(client):
    client.force_login(cx_manager())
    return client


@pytest.fixture
def scored():
    """A complete run: three active customers, two of them with a relationship signal."""
    connection = Connection.objects.create(kind=Connection.Kind.CSV, name="c")
    made = [
        Customer.objects.create(connection=connection, external_id=f"C{i}", name=name, value=Decimal(value),
                                acquired_at=timezone.now())
        for i, (name, value) in enumerate([("Acme", "1000"), ("Nova", "2500"), ("Vega", "400")])
    ]  # fmt: skip
    run = ChurnRiskRun.objects.create(
        status=ChurnRiskRun.Status.COMPLETE, finished_at=timezone.now(), auc=0.81, calibration=CALIBRATION,
        test_rows=100, test_losses=12, train_losses=300, customers_scored=3, model_kind="logistic regression",
        test_cutoff=timezone.now(), expected_revenue_at_risk=Decimal("1300.00"), signals=2,
    )  # fmt: skip
    top = [{"feature": "nps_latest", "value": 3.0, "contribution": 0.9},
           {"feature": "incident_events_90d", "value": 2.0, "contribution": 0.4}]  # fmt: skip
    for customer, p, extra in zip(
        made, [0.1, 0.4, 0.5], [{"incident": True, "top_features": top}, {"nps_drop": 4}, {}], strict=True
    ):
        ChurnRiskScore.objects.create(run=run, customer=customer, probability=p, value=customer.value,
                                      value_at_risk=float(customer.value) * p, **extra)  # fmt: skip
    return run, made


def _document() -> dict:
    return metrics_document(MetricFilters(*preset_period("year")))["value"]["churn_risk"]


@pytest.fixture
def a_customer():
    connection = Connection.objects.create(kind=Connection.Kind.CSV, name="c")
    return Customer.objects.create(connection=connection, external_id="A", value=1, acquired_at=timezone.now())


def test_without_a_run_the_page_says_no_model_yet(a_customer, manager_client):
    html = manager_client.get(reverse(URL)).content.decode()
    assert 'data-status="not_trained"' in html and "No churn-risk model has been trained yet" in html
    assert "Relationship signals" in html  # the card, empty
    assert _document()["status"] == "not_trained" and _document()["expected_revenue_at_risk"] is None


def test_with_a_run_the_page_shows_auc_expected_revenue_and_signals(scored, manager_client):
    run, (acme, nova, _vega) = scored
    html = manager_client.get(reverse(URL)).content.decode()
    assert 'data-status="complete"' in html and "data-weak" not in html
    # 1000 × 0.1 + 2500 × 0.4 + 400 × 0.5 = 1300
    assert re.search(r'data-kpi="expected_revenue_at_risk" data-value="1300.0"', html)
    assert 'data-chart-id="chart-churn_calibration-figure"' in html
    table = html.split('data-table="relationship_signals"')[1].split("</table>")[0]
    # Nova (2500 × 0.4) before Acme (1000 × 0.1); Vega has no signal.
    assert table.index("Nova") < table.index("Acme") and "Vega" not in table
    assert reverse("dashboards-customer", args=[nova.pk]) in table
    assert "NPS fell 4 points" in table and "incident in the last 90 days" in table
    document = _document()
    assert document["auc"] == 0.81 and document["auc_weak"] is False
    assert document["expected_revenue_at_risk"] == pytest.approx(1300.0)
    assert [s["customer_id"] for s in document["relationship_signals"]] == ["C1", "C0"]
    assert document["calibration"] == CALIBRATION


def test_a_weak_model_is_labelled_weak(scored, manager_client):
    ChurnRiskRun.objects.filter(pk=scored[0].pk).update(auc=0.55)
    html = manager_client.get(reverse(URL)).content.decode()
    assert "data-weak" in html and "little better than chance" in html
    assert _document()["auc_weak"] is True


def test_not_enough_history_shows_no_model(a_customer, manager_client):
    ChurnRiskRun.objects.create(
        status=ChurnRiskRun.Status.NOT_ENOUGH_HISTORY, finished_at=timezone.now(), train_losses=12
    )
    html = manager_client.get(reverse(URL)).content.decode()
    assert 'data-status="not_enough_history"' in html and "not enough history" in html
    assert "holds 12 lost customers" in html and "at least 50" in html
    assert _document()["status"] == "not_enough_history"


def test_the_customer_page_shows_the_risk_and_what_raises_it(scored, manager_client):
    _run, (acme, _nova, vega) = scored
    html = manager_client.get(reverse("dashboards-customer", args=[acme.pk])).content.decode()
    block = html.split("data-customer-risk")[1].split("</ol>")[0]
    assert "10.0" in block and "latest NPS: 3<" in block and "operational incidents in the last 90 days" in block
    html = manager_client.get(reverse("dashboards-customer", args=[vega.pk])).content.decode()
    assert "data-customer-risk" in html and "Nothing raises it" in html


def test_the_csv_exports_are_the_stored_run(scored, manager_client):
    rows = list(csv.DictReader(io.StringIO(manager_client.get(reverse("dashboards-export", args=["relationship_signals"])).getvalue().decode("utf-8-sig"))))  # fmt: skip
    assert [r["customer_id"] for r in rows] == ["C1", "C0"]
    assert float(rows[0]["value_at_risk"]) == 1000 and rows[0]["nps_drop"] == "4"
    response = manager_client.get(reverse("dashboards-export", args=["churn_calibration"]))
    calibration = list(csv.DictReader(io.StringIO(response.getvalue().decode("utf-8-sig"))))
    assert len(calibration) == 10 and calibration[0]["n"] == "10"


def test_the_calibration_chart_is_a_valid_figure(scored):
    figure = charts.churn_calibration(datasets.churn_calibration(MetricFilters(*preset_period("year"))))
    go.Figure(figure)
    assert figure["data"][1]["x"][0] == pytest.approx(5.0) and figure["data"][1]["y"][0] == pytest.approx(4.0)
    assert charts.churn_calibration(datasets.pd.DataFrame()) is None
