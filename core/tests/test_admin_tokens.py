import pytest
from django.urls import reverse

from core.models import ApiToken, hash_token
from cxmetrics.tests.factories import UserFactory


@pytest.mark.django_db
def test_admin_creates_a_token_shown_once_and_stored_hashed(admin_client):
    owner = UserFactory(username="integration")
    response = admin_client.post(
        reverse("admin:core_apitoken_add"), {"user": owner.pk, "name": "ERP trigger"}, follow=True
    )
    assert response.status_code == 200
    token = ApiToken.objects.get(name="ERP trigger")
    shown = [str(m) for m in response.context["messages"]]
    raw = next(part for m in shown for part in m.split() if part.startswith("cxm_"))
    assert token.key_hash == hash_token(raw) != raw
    assert raw not in admin_client.get(reverse("admin:core_apitoken_change", args=[token.pk])).content.decode()
