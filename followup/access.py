"""Who may see which cases. CX managers (and admins) see every case and customer; members of the "Case
handlers" group see the cases assigned to them and the pages of those cases' customers only; anyone else
gets 403. Alert rules are configured in the admin, by admins only."""

from __future__ import annotations

from django.conf import settings
from django.db.models import QuerySet

from followup.models import Case


def _groups(user) -> frozenset[str]:
    """The user's group names that matter here, read once per request (the user object is the request's)."""
    if not hasattr(user, "_followup_groups"):
        names = (settings.CX_MANAGERS_GROUP, settings.CASE_HANDLERS_GROUP)
        user._followup_groups = frozenset(user.groups.filter(name__in=names).values_list("name", flat=True))
    return user._followup_groups


def is_manager(user) -> bool:
    """``core.access.is_cx_manager``, from the groups read once."""
    if not user.is_authenticated or not user.is_active:
        return False
    return user.is_staff or user.is_superuser or settings.CX_MANAGERS_GROUP in _groups(user)


def is_case_handler(user) -> bool:
    if not user.is_authenticated or not user.is_active:
        return False
    return settings.CASE_HANDLERS_GROUP in _groups(user)


def may_use_cases(user) -> bool:
    return is_manager(user) or is_case_handler(user)


def cases_visible(user) -> QuerySet[Case]:
    if is_manager(user):
        return Case.objects.all()
    if is_case_handler(user):
        return Case.objects.filter(owner=user)
    return Case.objects.none()


def may_see_customer(user, customer_id: int) -> bool:
    """A CX manager sees every customer; a case handler the customers of the cases assigned to them."""
    if is_manager(user):
        return True
    return is_case_handler(user) and Case.objects.filter(owner=user, customer_id=customer_id).exists()
