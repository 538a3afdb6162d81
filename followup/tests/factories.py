from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import Group, User

from cxmetrics.tests.factories import UserFactory, cx_manager

__all__ = ["UserFactory", "case_handler", "cx_manager"]


def case_handler(username: str = "handler") -> User:
    user = UserFactory(username=username)
    group, _ = Group.objects.get_or_create(name=settings.CASE_HANDLERS_GROUP)
    user.groups.add(group)
    return user
