from __future__ import annotations

import factory
from django.conf import settings
from django.contrib.auth.models import Group, User


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.django.Password("correct horse battery staple")


def cx_manager(username: str = "manager") -> User:
    user = UserFactory(username=username)
    group, _ = Group.objects.get_or_create(name=settings.CX_MANAGERS_GROUP)
    user.groups.add(group)
    return user
