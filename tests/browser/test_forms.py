"""Forms that adapt as they are filled in: compose, the HTTP-provider form; and the overview's chart."""

import pytest

from campaigns.models import Broadcast, Campaign
from messaging.models import GenericProviderConfig, ProviderAccount, Sender
from recipients.models import RecipientList

pytestmark = pytest.mark.slow


@pytest.fixture
def accounts(mw_account, transactional_db):
    generic = ProviderAccount.objects.create(name="Acme SMS", kind=ProviderAccount.Kind.GENERIC)
    GenericProviderConfig.objects.create(account=generic, endpoint="https://sms.example.com/send")
    Campaign.objects.create(account=mw_account, name="Autumn")
    Sender.objects.create(account=mw_account, name="ShopCo")
    for name in ("Customers", "Suppliers", "Staff"):
        RecipientList.objects.create(account=mw_account, name=name)
    return {"messagewhiz": mw_account, "generic": generic}


def test_compose_shows_what_applies_and_counts_whats_left(signed_in, live_server, accounts):
    page = signed_in
    page.goto(f"{live_server.url}/broadcasts/new/")
    page.select_option("#id_account", str(accounts["messagewhiz"].pk))
    assert page.locator("#field-campaign").is_visible() and page.locator("#field-senders").is_visible()
    assert not page.locator("#field-recipient").is_visible()
    page.select_option("#id_account", str(accounts["generic"].pk))
    assert not page.locator("#field-campaign").is_visible() and not page.locator("#field-senders").is_visible()
    assert page.locator("#id_type option[value='12']").is_disabled()  # smart broadcasts are MessageWhiz's
    page.select_option("#id_type", "10")
    assert page.locator("#field-recipient").is_visible() and not page.locator("#field-recipient_lists").is_visible()
    page.select_option("#id_type", "11")

    lists = page.locator("#field-recipient_lists")
    lists.get_by_placeholder("Search…").fill("sup")
    assert lists.locator("option:not([hidden])").all_inner_texts() == ["Suppliers"]
    lists.get_by_placeholder("Search…").fill("")
    lists.locator("option", has_text="Customers").click()
    lists.locator("option", has_text="Staff").click()  # no Ctrl: both stay chosen
    assert page.eval_on_selector("#id_recipient_lists", "s => Array.from(s.selectedOptions, o => o.text)") == \
        ["Customers", "Staff"]
    assert "Chosen (2): Customers, Staff" in lists.inner_text()

    page.fill("#id_body", "Hello")
    assert "155 left in this part" in page.locator("#sms-count").inner_text()
    page.fill("#id_body", "x" * 1531)
    assert "over the limit of 10 parts" in page.locator("#sms-count").inner_text()


def test_the_provider_form_shows_only_the_fields_that_apply(signed_in, live_server):
    page = signed_in
    page.goto(f"{live_server.url}/providers/generic/new/")
    assert page.locator("legend").all_inner_texts()[:4] == ["Connection", "Authentication", "Body", "Limits"]
    assert not page.locator("#field-username").is_visible()
    page.select_option("#id_auth", "basic")
    assert page.locator("#field-username").is_visible() and page.locator("#field-password").is_visible()
    assert not page.locator("#field-batch_size").is_visible()
    page.check("#id_batch_enabled")
    assert page.locator("#field-batch_size").is_visible()


def test_the_overview_draws_its_trend(signed_in, live_server, accounts):
    broadcast = Broadcast.objects.create(account=accounts["messagewhiz"], name="Sent", body="Hi", state="completed")
    Broadcast.objects.filter(pk=broadcast.pk).update(sent=10, delivered=9, submitted_at=broadcast.created_at)
    page = signed_in
    page.goto(f"{live_server.url}/")
    sent = page.evaluate("() => Chart.getChart('trend-chart').data.datasets[0].data")
    assert sum(sent) == 10
