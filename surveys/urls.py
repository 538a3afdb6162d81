"""Included at the site root: path("", include("surveys.urls"))."""

from django.urls import path

from . import views

urlpatterns = [
    path("s/p/<slug:slug>/", views.survey_public, name="surveys-public"),
    path("s/p/<slug:slug>/thanks/", views.survey_public_thanks, name="surveys-public-thanks"),
    path("s/unsubscribe/<str:token>/", views.unsubscribe, name="surveys-unsubscribe"),
    path("s/<str:token>/", views.survey_answer, name="surveys-answer"),
    path("s/<str:token>/thanks/", views.survey_thanks, name="surveys-thanks"),
    path(
        "api/v1/surveys/<slug:slug>/invitations/", views.api_invitations_create, name="surveys-api-invitations-create"
    ),
]
