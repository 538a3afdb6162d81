"""Factories for customers and events. They store rows the way the services do: with the change
recorded for the read model (core.outbox), so the figures see them at once."""

from __future__ import annotations

from decimal import Decimal

import factory
from django.utils import timezone

from core.outbox import record_changes
from crm_sync.tests.factories import ConnectionFactory
from customers.models import Customer, Event, Segment


class RecordsChanges:
    """Records the change a writer would record, after the row is stored."""

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        obj = super()._create(model_class, *args, **kwargs)
        record_changes(**cls.changes(obj))
        return obj


class SegmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Segment
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Segment {n}")
    rank = factory.Sequence(lambda n: n + 1)


class CustomerFactory(RecordsChanges, factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    connection = factory.SubFactory(ConnectionFactory)
    external_id = factory.Sequence(lambda n: f"C{n:05d}")
    name = factory.Sequence(lambda n: f"Customer {n}")
    email = factory.Sequence(lambda n: f"customer{n}@example.com")
    value = Decimal("1000.00")
    status = Customer.Status.ACTIVE
    acquired_at = factory.LazyFunction(lambda: timezone.now() - timezone.timedelta(days=400))

    @staticmethod
    def changes(customer: Customer) -> dict:
        return {"customers": [customer.pk]}


class EventFactory(RecordsChanges, factory.django.DjangoModelFactory):
    class Meta:
        model = Event

    connection = factory.SubFactory(ConnectionFactory)
    source_key = factory.Sequence(lambda n: f"evt-{n}")
    type = Event.Type.NEW
    occurred_at = factory.LazyFunction(timezone.now)
    customer = factory.SubFactory(CustomerFactory)

    @staticmethod
    def changes(event: Event) -> dict:
        return {"events": [event.occurred_at], "customers": [event.customer_id, event.referrer_id]}
