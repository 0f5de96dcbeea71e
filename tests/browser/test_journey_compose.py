"""Composing, estimating and changing broadcasts in a real browser, against the live server, the
sandbox and a real Celery worker: one reconciled estimate with its currency, smart segments counted
and capped, a results page that keeps itself current, drafts edited, duplicated, deleted and
test-sent, and token fallbacks."""

import re

import pytest

from campaigns.models import Broadcast
from messaging.models import GenericProviderConfig, ProviderAccount
from recipients.models import Recipient, RecipientList
from tests.browser.test_journeys import compose, deliver_callbacks, import_file, requests_to, wait_until, workspace

pytestmark = pytest.mark.slow
__all__ = ["workspace"]  # a fixture, used by name

LONG_NAME = "Maximiliana-Bartholomea Fitzgerald"
CSV = f"Mobile,First name\n380501234567,Ann\n380501234568,Bob\n380501234569,{LONG_NAME}\n"
# 2 + 135 characters around the name: one SMS part for Ann and Bob, two for the long name, and one
# for MessageWhiz's estimate, which counts the text with the name left empty.
BODY = "Hi {{first_name}}, " + "our autumn collection is in store now with twenty percent off every coat, " \
                                "scarf and pair of boots until Sunday evening only"


def figure(page, label: str) -> str:
    return page.locator(".stat", has_text=label).locator(".stat-value").inner_text()


@pytest.fixture
def customers(signed_in, live_server, workspace, worker, tmp_path):
    path = tmp_path / "customers.csv"
    path.write_text(CSV)
    worker.start()
    import_file(signed_in, live_server, path, "Customers")
    wait_until(signed_in, lambda: RecipientList.objects.get(name="Customers").remote_id,
               "the list to reach MessageWhiz")
    return signed_in


def review(page, live_server, name, body=BODY):
    compose(page, live_server, name, body)
    page.get_by_role("button", name="Preview and estimate").click()
    page.wait_for_url(re.compile(r"/broadcasts/\d+/review/"))
    page.wait_for_selector("text=Estimated cost", timeout=30_000)


def test_one_reconciled_estimate_with_its_currency(customers, live_server, sandbox):
    page = customers
    review(page, live_server, "Autumn coats")
    estimate = page.locator("#reconciled-estimate").inner_text()
    assert re.search(r"Messages\s+3", estimate) and re.search(r"SMS parts\s+4", estimate)
    assert re.search(r"Estimated cost\s+13\.44 EUR", estimate)
    assert "MessageWhiz: parts" not in estimate  # one estimate, not two that disagree
    explanation = page.locator("#estimate-explanation").inner_text()
    assert "MessageWhiz estimated 10.08 EUR for 3 messages of 1 part each" in explanation
    assert "come to 4 parts, so expect about 13.44 EUR" in explanation
    assert "Send 3 messages (4 SMS parts) for an estimated 13.44 EUR now." in page.locator(".confirm").inner_text()

    page.get_by_role("button", name="Send", exact=True).click()
    page.wait_for_url(re.compile(r"/broadcasts/\d+/$"))

    def costed():
        deliver_callbacks(sandbox)
        return figure(page, "Delivered") == "3"

    wait_until(page, costed, "3 delivery reports", seconds=60)
    # What it really cost, with the currency, as the estimate said.
    wait_until(page, lambda: figure(page, "Cost") == "13.44 EUR", "the cost from the reports")
    assert page.locator(".stat", has_text="Cost").locator(".stat-label").inner_text() == "Cost · estimated 13.44 EUR"
    assert re.fullmatch(r"3\.36 EUR|6\.72 EUR", page.locator("#message-table tbody tr").first
                        .locator("td").nth(3).inner_text())


def test_a_smart_broadcast_confirms_and_continues_with_what_is_left(customers, live_server, sandbox):
    page = customers
    compose(page, live_server, "Coats, smart", BODY)
    page.get_by_label("Type", exact=True).select_option(label="Smart broadcast")
    page.locator("summary", has_text="Smart broadcast settings").click()
    page.get_by_label("Smart type").select_option(label="Manual segments")
    page.get_by_label("First segment size").fill("1")
    page.get_by_role("button", name="Preview and estimate").click()
    page.wait_for_selector("text=Estimated cost", timeout=30_000)
    confirm = page.locator(".confirm").inner_text()
    assert "Send 1 message (the first segment)" in confirm and "3 messages" not in confirm
    assert "the first segment, of 3 recipients" in page.locator("#reconciled-estimate").inner_text()
    page.get_by_role("button", name="Send", exact=True).click()
    page.wait_for_url(re.compile(r"/broadcasts/\d+/$"))
    broadcast = Broadcast.objects.get(name="Coats, smart")
    wait_until(page, lambda: Broadcast.objects.get(pk=broadcast.pk).remote_id, "the broadcast to reach MessageWhiz")

    page.reload()
    page.get_by_role("link", name="Continue with another segment").click()
    page.get_by_label("Recipients in the segment").fill("5")
    page.get_by_label("Message").fill("Last pairs of boots, {{first_name}}!")
    page.get_by_role("button", name="Estimate the segment").click()
    # Wait for the answer to the click, not the page being replaced.
    page.wait_for_selector("text=Only 2 recipients have not had a message yet: a segment can have at most 2.")
    assert not page.locator("#segment-estimate").is_visible()
    page.get_by_label("Recipients in the segment").fill("2")
    page.get_by_role("button", name="Estimate the segment").click()
    estimate = page.locator("#segment-estimate").inner_text()
    assert "Send 2 messages (2 SMS parts) for an estimated 6.72 EUR." in estimate
    assert sandbox.requests(method="POST", path="(?i)^/api/3/Segments$") == []  # nothing sent before confirming
    page.get_by_role("button", name="Send the segment").click()
    page.wait_for_selector("text=Segment of 2 recipients sent to MessageWhiz.")
    [request] = sandbox.requests(method="POST", path="(?i)^/api/3/Segments$")
    assert request["json"]["segment_size"] == 2
    assert request["json"]["message_body"] == "Last pairs of boots, {{first_name}}!"


def test_the_results_page_follows_the_broadcast_without_a_reload(customers, live_server, sandbox):
    page = customers
    review(page, live_server, "Live coats")
    # MessageWhiz answers slowly: the page shows the broadcast before it is submitted.
    sandbox.faults(latency_ms=6000, path="(?i)^/api/3/broadcast$")
    page.get_by_role("button", name="Send", exact=True).click()
    page.wait_for_url(re.compile(r"/broadcasts/(\d+)/$"))
    page.evaluate("window.notReloaded = true")
    badge = page.locator("#state-badge")
    assert badge.inner_text().lower() in ("scheduled", "submitting")
    assert "No messages yet" in page.locator("#message-table").inner_text()
    assert page.get_by_role("button", name="Cancel broadcast").count() in (0, 1)

    wait_until(page, lambda: badge.inner_text().lower() == "submitted", "the badge to say Submitted", seconds=60)
    sandbox.faults()
    assert "Accepted by MessageWhiz" in page.locator("#timeline").inner_text()
    assert page.get_by_role("button", name="Cancel broadcast").count() == 0  # its buttons follow the state
    wait_until(page, lambda: page.locator("#message-table tbody tr").count() == 3, "the message table to fill in")

    def delivered_rows():
        deliver_callbacks(sandbox)
        return page.locator("#message-table tbody tr", has_text="Delivered").count() == 3

    wait_until(page, delivered_rows, "the table's statuses to say Delivered", seconds=60)
    # Final: the page says so once, then stops asking.
    broadcast = Broadcast.objects.get(name="Live coats")
    from campaigns.states import broadcast_transition

    broadcast_transition(broadcast, Broadcast.State.COMPLETED, reason="Every report is in")
    wait_until(page, lambda: badge.inner_text().lower() == "completed", "the badge to say Completed", seconds=30)
    assert "Every report is in" in page.locator("#timeline").inner_text()
    polls = requests_to(page, "/figures/")
    page.wait_for_timeout(11_000)
    assert polls == []
    assert page.evaluate("window.notReloaded") is True


def test_drafts_are_edited_test_sent_duplicated_and_deleted(customers, live_server, sandbox):
    page = customers
    review(page, live_server, "Draft coats", "Hi {{first_name}}, coats are in")
    draft = Broadcast.objects.get(name="Draft coats")
    page.get_by_role("link", name="Edit").click()
    page.wait_for_url(re.compile(r"/broadcasts/\d+/edit/"))
    assert page.get_by_label("Message").input_value() == "Hi {{first_name}}, coats are in"
    page.get_by_label("Message").fill("Hi {{first_name}}, boots are in too")
    page.get_by_role("button", name="Preview and estimate").click()
    page.wait_for_selector("text=Estimated cost", timeout=30_000)
    assert page.get_by_text("Hi Ann, boots are in too").is_visible()
    assert Broadcast.objects.filter(name="Draft coats").count() == 1

    # A test to my own number, through MessageWhiz, without sending or touching the draft.
    page.get_by_role("link", name="Send a test").click()
    page.get_by_label("Phone number").fill("+380 50 999 00 11")
    page.get_by_role("button", name="Send the test").click()
    page.wait_for_selector("text=is not sent or changed")
    wait_until(page, lambda: sandbox.requests(method="POST", path="(?i)^/api/3/broadcast$"), "the test to be sent")
    [request] = sandbox.requests(method="POST", path="(?i)^/api/3/broadcast$")
    assert str(request["json"]["recipient"]) == "380509990011"
    assert request["json"]["message_body"] == "Hi {{first_name}}, boots are in too"
    page.wait_for_selector("text=A test of")
    draft.refresh_from_db()
    assert (draft.state, draft.sent, draft.remote_id) == (Broadcast.State.ESTIMATED, 0, None)
    page.goto(f"{live_server.url}/broadcasts/{draft.pk}/test/")
    assert page.get_by_label("Phone number").input_value() == "380509990011"  # remembered

    page.goto(f"{live_server.url}/broadcasts/{draft.pk}/")
    page.get_by_role("button", name="Duplicate").click()
    page.wait_for_url(re.compile(r"/broadcasts/\d+/edit/"))
    assert page.get_by_label("Name").input_value() == "Copy of Draft coats"
    copy = Broadcast.objects.get(name="Copy of Draft coats")
    page.goto(f"{live_server.url}/broadcasts/{copy.pk}/")
    page.get_by_role("link", name="Delete").click()
    page.wait_for_selector("text=Delete the draft “Copy of Draft coats”?")
    assert Broadcast.objects.filter(pk=copy.pk).exists()  # asked first
    page.get_by_role("button", name="Delete the draft").click()
    page.wait_for_selector("text=Deleted the draft “Copy of Draft coats”.")
    assert not Broadcast.objects.filter(pk=copy.pk).exists()


def test_token_fallbacks(customers, live_server, sandbox):
    page = customers
    compose(page, live_server, "Fallback via MessageWhiz", "Hi {{first_name|dear valued customer}}")
    # The live counter counts the fallback where it is longer than a typical name.
    assert page.locator("#sms-count").inner_text().startswith("23 characters")
    page.get_by_role("button", name="Preview and estimate").click()
    page.wait_for_url(re.compile(r"/broadcasts/\d+/review/"))
    page.wait_for_selector("text=Fix these before sending", timeout=30_000)
    assert "MessageWhiz fills in {{first_name}} itself and has no fallbacks" in page.content()
    assert not page.locator(".confirm").is_visible()

    # An HTTP provider: we render, so the recipient without a name gets the fallback.
    http = ProviderAccount.objects.create(name="Sandbox SMS", kind=ProviderAccount.Kind.GENERIC, api_key="")
    GenericProviderConfig.objects.create(
        account=http, endpoint=f"{sandbox.url}/sms", method="POST", body_format="json", max_concurrency=30,
        body_template=f'{{"api_key": "{sandbox.api_key}", "from": "ShopCo", "to": "$$To", "text": "$$Body"}}')
    people = RecipientList.objects.create(account=http, name="Named and not")
    Recipient.objects.bulk_create([Recipient(recipient_list=people, phone="380501110001", first_name="Ann"),
                                   Recipient(recipient_list=people, phone="380501110002", first_name="")])
    page.goto(f"{live_server.url}/broadcasts/new/")
    page.get_by_label("Account").select_option(label="Sandbox SMS")
    page.get_by_label("Name").fill("Fallback via HTTP")
    page.get_by_label("Recipient lists").select_option(label="Named and not")
    page.get_by_label("Message").fill("Hi {{first_name|there}}, coats are in")
    page.get_by_role("button", name="Preview and estimate").click()
    page.wait_for_selector(".confirm", timeout=30_000)
    assert page.get_by_text("Hi there, coats are in").is_visible()
    page.get_by_role("button", name="Send", exact=True).click()
    page.wait_for_url(re.compile(r"/broadcasts/\d+/$"))
    wait_until(page, lambda: len(sandbox.requests(method="POST", path="^/sms$")) == 2, "both messages to be sent")
    texts = {r["json"]["to"]: r["json"]["text"] for r in sandbox.requests(method="POST", path="^/sms$")}
    assert texts == {"380501110001": "Hi Ann, coats are in", "380501110002": "Hi there, coats are in"}
