from django.urls import path

from . import api, views

urlpatterns = [
    path("cases/", views.cases, name="followup-cases"),
    path("cases/new/", views.case_new, name="followup-case-new"),
    path("cases/<int:pk>/", views.case, name="followup-case"),
    path("api/v1/cases/", api.cases_json, name="followup-api-cases"),
    path("api/v1/cases/<int:pk>/", api.case_json, name="followup-api-case"),
]
