from __future__ import annotations

from decimal import Decimal

import factory
from django.utils import timezone

from crm_sync.models import Connection, Customer, Event, Segment


class SegmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Segment
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Segment {n}")
    rank = factory.Sequence(lambda n: n + 1)


class ConnectionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Connection
        django_get_or_create = ("name",)

    kind = Connection.Kind.CSV
    name = "Test CSV"


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    connection = factory.SubFactory(ConnectionFactory)
    external_id = factory.Sequence(lambda n: f"C{n:05d}")
    name = factory.Sequence(lambda n: f"Customer {n}")
    email = factory.Sequence(lambda n: f"customer{n}@example.com")
    value = Decimal("1000.00")
    status = Customer.Status.ACTIVE
    acquired_at = factory.LazyFunction(lambda: timezone.now() - timezone.timedelta(days=400))


class EventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Event

    connection = factory.SubFactory(ConnectionFactory)
    source_key = factory.Sequence(lambda n: f"evt-{n}")
    type = Event.Type.NEW
    occurred_at = factory.LazyFunction(timezone.now)
    customer = factory.SubFactory(CustomerFactory)
