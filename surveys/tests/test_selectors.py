import pytest
from django.utils import timezone

from crm_sync.tests.factories import CustomerFactory, SegmentFactory
from surveys.models import Invitation
from surveys.selectors import invitation_funnel
from surveys.tests.factories import InvitationFactory, SurveyFactory

pytestmark = pytest.mark.django_db


def test_response_rate_by_survey_type_and_segment():
    gold = SegmentFactory(name="Gold")
    relational, transactional = SurveyFactory(), SurveyFactory(survey_type="transactional", touchpoint="support")
    now = timezone.now()
    for opened, responded in [(True, True), (True, False), (False, False), (True, True)]:
        InvitationFactory(survey=relational, customer=CustomerFactory(segment=gold),
                          opened_at=now if opened else None, responded_at=now if responded else None)
    InvitationFactory(survey=relational, status=Invitation.Status.FAILED, sent_at=None)
    InvitationFactory(survey=transactional, status=Invitation.Status.QUEUED, sent_at=None)
    by_type = {row["key"]: row for row in invitation_funnel(by="type")}
    assert by_type["relational"] == {"key": "relational", "sent": 4, "failed": 1, "opened": 3, "responded": 2,
                                     "response_rate": 50.0}
    assert by_type["transactional"]["response_rate"] is None  # nothing sent: no data, never 0
    by_segment = {row["key"]: row for row in invitation_funnel(by="segment")}
    assert by_segment["Gold"]["sent"] == 4
    assert {row["key"] for row in invitation_funnel(by="touchpoint")} == {"relationship", "support"}
