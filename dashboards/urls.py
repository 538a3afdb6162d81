from django.urls import path

from . import api, views

urlpatterns = [
    path("", views.overview, name="dashboards-overview"),
    path("surveys/", views.surveys, name="dashboards-surveys"),
    path("customers/", views.customer_base, name="dashboards-customers"),
    path("combined/", views.combined_view, name="dashboards-combined"),
    path("value/", views.value_view, name="dashboards-value"),
    path("export/comments.csv", views.export_comments, name="dashboards-export-comments"),
    path("export/<slug:chart>.csv", views.export_csv, name="dashboards-export"),
    path("api/v1/metrics/", api.metrics_json, name="dashboards-api-metrics"),
]
