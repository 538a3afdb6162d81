from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from . import views

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("", include("surveys.urls")),
    path("", include("dashboards.urls")),
    path("", include("digests.urls")),
    path("", include("followup.urls")),
    path("", include("complaints.urls")),
]

admin.site.site_header = "CX Metrics administration"
admin.site.site_title = "CX Metrics"
