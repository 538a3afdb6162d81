from datetime import timedelta

import pytest
from django.utils import timezone

from customers.models import Customer
from customers.selectors import customers_targeted
from customers.tests.factories import CustomerFactory, SegmentFactory
from surveys.models import Invitation
from surveys.services import InvitationError, invitations_create
from surveys.tests.factories import InvitationFactory, SurveyFactory, relational_survey

pytestmark = pytest.mark.django_db


def test_invites_a_segment_with_language_and_segment_snapshot(queued, django_capture_on_commit_callbacks):
    gold, silver = SegmentFactory(name="Gold"), SegmentFactory(name="Silver")
    spanish = CustomerFactory(segment=gold, language="es-MX")
    CustomerFactory(segment=gold, language="en")
    CustomerFactory(segment=silver)
    survey = relational_survey()
    with django_capture_on_commit_callbacks(execute=True):
        plan = invitations_create(survey=survey, customers=customers_targeted(segment=gold))
    assert (plan.targeted, plan.invitable) == (2, 2)
    invitations = Invitation.objects.filter(survey=survey)
    assert invitations.count() == 2
    assert invitations.get(customer=spanish).language == "es"
    assert set(invitations.values_list("segment__name", flat=True)) == {"Gold"}
    assert all(len(i.token) >= 32 for i in invitations)  # 24 random bytes = 192 bits
    assert [sorted(args[0]) for args, _countdown in queued] == [sorted(plan.invitation_ids)]


def test_contact_policy_unsubscribed_prospects_and_missing_emails_are_skipped(queued, settings):
    settings.SURVEY_CONTACT_POLICY_DAYS = 30
    survey, other = relational_survey(), SurveyFactory()
    ok = CustomerFactory()
    recently = CustomerFactory()
    InvitationFactory(survey=other, customer=recently)
    long_ago = CustomerFactory()
    old = InvitationFactory(survey=other, customer=long_ago)
    Invitation.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=31))
    failed_before = CustomerFactory()
    InvitationFactory(survey=other, customer=failed_before, status=Invitation.Status.FAILED)
    CustomerFactory(unsubscribed_at=timezone.now())
    CustomerFactory(email="")
    CustomerFactory(status=Customer.Status.LOST)
    plan = invitations_create(survey=survey, customers=customers_targeted())
    invited = set(Invitation.objects.filter(survey=survey).values_list("customer", flat=True))
    assert invited == {ok.pk, long_ago.pk, failed_before.pk}
    assert plan.skipped == plan.targeted - 3


def test_per_survey_override_of_the_contact_policy(queued):
    survey = relational_survey(contact_policy_days=7)
    customer = CustomerFactory()
    old = InvitationFactory(customer=customer)
    Invitation.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=8))
    assert invitations_create(survey=survey, customers=customers_targeted()).invitable == 1


def test_dry_run_and_limit(queued):
    CustomerFactory.create_batch(5)
    survey = relational_survey()
    plan = invitations_create(survey=survey, customers=customers_targeted(), limit=3, dry_run=True)
    assert (plan.targeted, plan.eligible, plan.invitable, plan.skipped) == (5, 5, 3, 0)
    assert not Invitation.objects.exists()
    plan = invitations_create(survey=survey, customers=customers_targeted(), limit=3)
    assert Invitation.objects.count() == 3


def test_a_second_run_invites_nobody_twice(queued):
    CustomerFactory.create_batch(3)
    survey = relational_survey()
    invitations_create(survey=survey, customers=customers_targeted())
    assert invitations_create(survey=survey, customers=customers_targeted()).invitable == 0
    assert Invitation.objects.count() == 3


def test_closed_survey_cannot_be_sent(queued):
    CustomerFactory()
    survey = relational_survey(closes_at=timezone.now() - timedelta(days=1))
    with pytest.raises(InvitationError):
        invitations_create(survey=survey, customers=customers_targeted())


def test_csv_of_ids_and_emails_targets_those_customers():
    a, b, _c = CustomerFactory(), CustomerFactory(), CustomerFactory()
    customers = customers_targeted(external_ids=[a.external_id], emails=[b.email])
    assert set(customers) == {a, b}


def test_batches_are_spaced_by_the_rate_limit(queued, settings):
    from surveys.services import invitations_queue

    settings.SURVEY_SEND_BATCH_SIZE = 10
    settings.SURVEY_SEND_RATE_PER_MINUTE = 20
    invitations_queue(invitation_ids=list(range(25)))
    assert [len(args[0]) for args, _ in queued] == [10, 10, 5]
    assert [countdown for _, countdown in queued] == [0, 30, 60]
