from django.urls import path

from . import api, views

urlpatterns = [
    path("complaints/new/", views.complaint_new, name="complaints-new"),
    path("api/v1/complaints/", api.complaints_json, name="complaints-api"),
]
