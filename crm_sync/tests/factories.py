from __future__ import annotations

import factory

from crm_sync.models import Connection


class ConnectionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Connection
        django_get_or_create = ("name",)

    kind = Connection.Kind.CSV
    name = "Test CSV"
