"""End to end in Chromium: the invitation email's score link, answering on a phone in Spanish, a second submit."""

import re

import pytest
from django.core import mail

from customers.selectors import customers_targeted
from customers.tests.factories import CustomerFactory, SegmentFactory
from surveys.models import Invitation, Response
from surveys.services import invitation_send, invitations_create
from surveys.tests.factories import relational_survey


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_customer_answers_on_a_phone_in_spanish(live_server, phone_page, settings):
    settings.SITE_URL = live_server.url
    gold = SegmentFactory(name="Gold")
    customer = CustomerFactory(segment=gold, language="es", name="Ana")
    survey = relational_survey()
    plan = invitations_create(survey=survey, customers=customers_targeted(segment=gold), queue=False)
    invitation_send(invitation_id=plan.invitation_ids[0])
    [message] = mail.outbox
    links = re.findall(r'href="([^"]+\?nps=9)"', message.alternatives[0][0])
    assert links

    page = phone_page
    page.goto(links[0])
    assert page.locator("html").get_attribute("lang") == "es"
    nps_group = page.get_by_role("group", name=re.compile("recomiende"))
    assert nps_group.get_by_role("radio", name="9").is_checked()  # preselected from the email
    # The page's script stores the clicked score at once: it counts even if the customer leaves now.
    page.wait_for_selector("#survey-form[data-score-stored='9']")
    started = Response.objects.get()
    assert (started.nps, started.partial) == (9, True)

    # Only the NPS question is required; the others are answered all the same, and complete the response.
    page.get_by_role("group", name=re.compile("vuelva a comprarnos")).get_by_text("8", exact=True).click()
    page.get_by_role("group", name=re.compile("cambie a un competidor")).get_by_text("2", exact=True).click()
    page.get_by_role("group", name=re.compile("En general")).get_by_text("4", exact=True).click()
    for group in page.locator("fieldset").all():
        if not group.locator("input:checked").count():
            group.locator("label").last.click()
    page.get_by_label(re.compile("razón principal")).fill("Entrega rápida")
    page.keyboard.press("Tab")
    # The layout fits a phone: no horizontal scrolling.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.get_by_role("button").last.click()
    page.wait_for_url(re.compile(r"/thanks/"))
    assert "¡Gracias!" in page.content()

    response = Response.objects.get()
    assert response.pk == started.pk and not response.partial
    assert (response.nps, response.likelihood_repurchase, response.likelihood_switch, response.overall) == (9, 8, 2, 4)
    assert response.language == "es" and response.segment == gold and response.customer == customer
    assert response.comment == "Entrega rápida"
    assert Invitation.objects.get().opened_at is not None

    # Opening the link again says it was already answered; a replayed submit stores nothing.
    page.goto(links[0])
    assert "Already answered" in page.content() or "respondid" in page.content()
    assert Response.objects.count() == 1


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_keyboard_only_answer_on_the_public_link(live_server, page):
    survey = relational_survey(allow_public_link=True)
    page.goto(f"{live_server.url}/s/p/{survey.slug}/?lang=en")
    first_radio = page.locator("fieldset input[type=radio]").first
    first_radio.focus()
    page.keyboard.press("ArrowRight")  # radio groups move with arrow keys
    page.keyboard.press("ArrowRight")
    focused_value = page.evaluate("document.activeElement.value")
    assert focused_value == "2"
    outline = page.evaluate(
        "getComputedStyle(document.querySelector(`label[for='${document.activeElement.id}']`)).outlineStyle"
    )
    assert outline == "solid"  # visible focus on the label that shows the radio
    page.locator("textarea").first.focus()
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") == "solid"
    for group in page.locator("fieldset").all():
        if not group.locator("input:checked").count():
            group.locator("label").last.click()
    page.get_by_role("button", name="Send my answers").click()
    page.wait_for_url(re.compile(r"/thanks/"))
    assert Response.objects.get().nps == 2
