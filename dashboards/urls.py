from django.urls import path

from . import api, views

urlpatterns = [
    path("", views.overview, name="dashboards-overview"),
    path("api/v1/metrics/", api.metrics_json, name="dashboards-api-metrics"),
]
