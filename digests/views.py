from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from core.access import cx_manager_required

from .forms import DigestForm
from .models import DigestSubscription, Frequency
from .services import digest_subscription_set


@cx_manager_required
def profile(request: HttpRequest) -> HttpResponse:
    subscription = DigestSubscription.objects.filter(user=request.user).first()
    initial = {
        "frequency": subscription.frequency if subscription else Frequency.OFF,
        "language": subscription.language if subscription else (get_language() or "en")[:2],
    }
    form = DigestForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        digest_subscription_set(user=request.user, **form.cleaned_data)
        messages.success(request, _("Your digest settings are saved."))
        return redirect("digests-profile")
    return render(
        request,
        "digests/profile.html",
        {
            "form": form,
            "has_email": bool(request.user.email),
        },
    )
