"""The contact person a CRM gives for a company is stored, greets the company's invitations and goes
with the customer's other personal data when they are erased."""

import pytest

from crm_sync.models import Connection
from crm_sync.services import crm_sync_run
from customers.models import Customer
from customers.selectors import customer_export
from customers.services import customers_erase
from surveys.services import invitation_message
from surveys.tests.factories import InvitationFactory, relational_survey

pytestmark = pytest.mark.django_db


def test_the_csv_contact_person_greets_the_company_and_is_erased_with_it(tmp_path):
    connection = Connection.objects.create(kind=Connection.Kind.CSV, name="ERP", settings={"folder": str(tmp_path)})
    (tmp_path / "customers-2026-01-01.csv").write_text(
        "customer_id,name,email,contact_name,audience,value,status,acquired_at,updated_at\n"
        "B1,Acme Logistics S.A.,ops@acme.test,Ana Ruiz,b2b,1000,active,2025-01-01,2026-01-01\n"
    )
    run = crm_sync_run(connection=connection)
    assert run.status == "succeeded", run.error
    acme = Customer.objects.get(external_id="B1")
    assert acme.contact_name == "Ana Ruiz"
    message = invitation_message(invitation=InvitationFactory(survey=relational_survey(), customer=acme))
    assert "Hello Ana Ruiz," in message.body and "Acme Logistics" not in message.body
    assert customer_export(customer=acme)["customer"]["contact_name"] == "Ana Ruiz"

    customers_erase(customers=Customer.objects.filter(pk=acme.pk))
    acme.refresh_from_db()
    assert acme.contact_name == ""
