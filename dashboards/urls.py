from django.urls import path

from . import api, views

urlpatterns = [
    path("", views.overview, name="dashboards-overview"),
    path("surveys/", views.surveys, name="dashboards-surveys"),
    path("customers/", views.customer_base, name="dashboards-customers"),
    path("combined/", views.combined_view, name="dashboards-combined"),
    path("value/", views.value_view, name="dashboards-value"),
    path("comments/", views.comments_view, name="dashboards-comments"),
    path("responses/", views.responses, name="dashboards-responses"),
    path("follow-up/", views.follow_up_view, name="dashboards-follow-up"),
    path("customers/list/", views.customer_list_view, name="dashboards-customer-list"),
    path("customers/list.csv", views.export_customer_list, name="dashboards-customer-list-csv"),
    path("customers/<int:pk>/", views.customer_detail, name="dashboards-customer"),
    path("customers/crm/<path:external_id>/", views.customer_by_crm_id, name="dashboards-customer-crm"),
    path("export/responses.csv", views.export_responses, name="dashboards-export-responses"),
    path("export/comments.csv", views.export_comments, name="dashboards-export-comments"),
    path("export/<slug:chart>.csv", views.export_csv, name="dashboards-export"),
    path("api/v1/metrics/", api.metrics_json, name="dashboards-api-metrics"),
    path("api/v1/responses/", api.responses_json, name="dashboards-api-responses"),
    path("api/v1/customers/<path:external_id>/", api.customer_json, name="dashboards-api-customer"),
]
