"""Composing, estimating and changing broadcasts in a real browser on `make run`'s own stack (web,
worker, beat and the sandbox: tests/browser/stack.py): one reconciled estimate with its currency,
smart segments counted and capped, a results page that keeps itself current, drafts edited,
duplicated, deleted and test-sent, token fallbacks, and a live counter that counts the links each
provider really sends. Asserted on what the pages show and what the sandbox received."""

import itertools
import re

import pytest

from tests.browser.stack import figure, reloaded, wait_until
from tests.browser.test_journeys import import_file

pytestmark = pytest.mark.slow

LONG_NAME = "Maximiliana-Bartholomea Fitzgerald"
CSV = f"Mobile,First name\n380501234567,Ann\n380501234568,Bob\n380501234569,{LONG_NAME}\n"
# 2 + 135 characters around the name: one SMS part for Ann and Bob, two for the long name, and one
# for MessageWhiz's estimate, which counts the text with the name left empty.
BODY = "Hi {{first_name}}, " + "our autumn collection is in store now with twenty percent off every coat, " \
                                "scarf and pair of boots until Sunday evening only"
LISTS = itertools.count(1)

# In the stack's `manage.py shell`: a campaign and a sender on the sandbox, pulled into Textcast
# as a marketer finds them.
AUTUMN = """
from messaging.messagewhiz.client import MessageWhizClient
from messaging.models import ProviderAccount
from messaging.sync.pull import mirror_pull_account
account = ProviderAccount.objects.get(name="Sandbox")
mw = MessageWhizClient(account.base_url, account.api_key)
mw.campaign_create(name="Autumn")
mw.sender_create(name="ShopCo")
mirror_pull_account(account, ["campaign", "sender"])
result = account.currency
"""


@pytest.fixture(scope="module")
def autumn(stack):
    assert stack.query(AUTUMN) == "EUR"
    return stack


@pytest.fixture
def customers(marketer, autumn, tmp_path):
    """A list of three imported through the page, on MessageWhiz: its name."""
    stack, page = autumn, marketer
    name = f"Customers {next(LISTS)}"
    path = tmp_path / "customers.csv"
    path.write_text(CSV)
    import_file(page, stack, path, name)  # the stack's `url` is where the page lives
    wait_until(page, lambda: broadcast_field(stack, name, "remote_id", model="recipients.RecipientList"),
               "the list to reach MessageWhiz")
    return name


def broadcast_field(stack, name: str, field: str, *, model: str = "campaigns.Broadcast"):
    return stack.query(f"from django.apps import apps\n"
                       f"row = apps.get_model({model!r}).objects.filter(name={name!r}).values({field!r}).first()\n"
                       f"result = row and row[{field!r}]")


def compose(page, stack, name, body, people):
    page.goto(f"{stack.base}/broadcasts/new/")
    page.get_by_label("Name").fill(name)
    page.get_by_label("Campaign").select_option(label="Autumn")
    page.get_by_label("Senders", exact=True).select_option(label="ShopCo")
    page.get_by_label("Recipient lists").select_option(label=people)
    page.get_by_label("Message", exact=True).fill(body)


def review(page, stack, name, people, body=BODY):
    compose(page, stack, name, body, people)
    page.get_by_role("button", name="Preview and estimate").click()
    page.wait_for_url(re.compile(r"/broadcasts/\d+/review/"))
    page.wait_for_selector("text=Estimated cost", timeout=30_000)


def submitted(stack, **match) -> list[dict]:
    """The broadcasts MessageWhiz was asked to create whose JSON has every `match` field."""
    return [r for r in stack.requests(method="POST", path="(?i)^/api/3/broadcast$")
            if all(str((r.get("json") or {}).get(k)) == str(v) for k, v in match.items())]


def test_one_reconciled_estimate_with_its_currency(marketer, customers, autumn):
    page, stack = marketer, autumn
    stack.callbacks(delay_ms=300, statuses={"DELIVRD": 1.0}, click_rate=0.0)
    review(page, stack, "Autumn coats", customers)
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
        stack.control("POST", "callbacks/drain")
        return figure(page, "Delivered") == "3" and figure(page, "Cost") == "13.44 EUR"

    # What it really cost, with the currency, as the estimate said.
    wait_until(page, costed, "3 delivery reports and their cost", seconds=90)
    assert page.locator(".stat", has_text="Cost").locator(".stat-label").inner_text() == "Cost · estimated 13.44 EUR"
    assert re.fullmatch(r"3\.36 EUR|6\.72 EUR", page.locator("#message-table tbody tr").first
                        .locator("td").nth(3).inner_text())


def test_a_smart_broadcast_confirms_and_continues_with_what_is_left(marketer, customers, autumn):
    page, stack = marketer, autumn
    compose(page, stack, "Coats, smart", BODY, customers)
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
    wait_until(page, lambda: broadcast_field(stack, "Coats, smart", "remote_id"), "the broadcast to reach MessageWhiz")

    page.reload()
    page.get_by_role("link", name="Continue with another segment").click()
    page.get_by_label("Recipients in the segment").fill("5")
    page.get_by_label("Message", exact=True).fill("Last pairs of boots, {{first_name}}!")
    page.get_by_role("button", name="Estimate the segment").click()
    page.wait_for_selector("text=Only 2 recipients have not had a message yet: a segment can have at most 2.")
    assert not page.locator("#segment-estimate").is_visible()
    page.get_by_label("Recipients in the segment").fill("2")
    page.get_by_role("button", name="Estimate the segment").click()
    estimate = page.locator("#segment-estimate").inner_text()
    assert "Send 2 messages (2 SMS parts) for an estimated 6.72 EUR." in estimate
    assert stack.requests(method="POST", path="(?i)^/api/3/Segments$") == []  # nothing sent before confirming
    page.get_by_role("button", name="Send the segment").click()
    page.wait_for_selector("text=Segment of 2 recipients sent to MessageWhiz.")
    [request] = stack.requests(method="POST", path="(?i)^/api/3/Segments$")
    assert request["json"]["segment_size"] == 2
    assert request["json"]["message_body"] == "Last pairs of boots, {{first_name}}!"


def test_the_results_page_follows_the_broadcast_without_a_reload(marketer, customers, autumn):
    page, stack = marketer, autumn
    # Every recipient clicks; MessageWhiz's click reports name no message we know, so the
    # broadcast's clicks come from MessageWhiz's own count for it.
    stack.callbacks(delay_ms=300, statuses={"DELIVRD": 1.0}, click_rate=1.0)
    review(page, stack, "Live coats", customers, body="Coats are in, {{first_name}}: https://shop.example/coats")
    # MessageWhiz answers slowly: the page shows the broadcast before it is submitted.
    stack.faults(latency_ms=6000, path="(?i)^/api/3/broadcast$")
    try:
        page.get_by_role("button", name="Send", exact=True).click()
        page.wait_for_url(re.compile(r"/broadcasts/(\d+)/$"))
        page.evaluate("window.notReloaded = true")
        badge = page.locator("#state-badge")
        assert badge.inner_text().lower() in ("scheduled", "submitting")
        assert "No messages yet" in page.locator("#message-table").inner_text()
        # Beat may complete it between two of the page's polls.
        wait_until(page, lambda: badge.inner_text().lower() in ("submitted", "completed"),
                   "the badge to say Submitted")
    finally:
        stack.faults()
    assert "Accepted by MessageWhiz" in page.locator("#timeline").inner_text()
    assert page.get_by_role("button", name="Cancel broadcast").count() == 0  # its buttons follow the state
    wait_until(page, lambda: page.locator("#message-table tbody tr").count() == 3, "the message table to fill in")

    def delivered_rows():
        stack.control("POST", "callbacks/drain")
        return page.locator("#message-table tbody tr", has_text="Delivered").count() == 3

    wait_until(page, delivered_rows, "the table's statuses to say Delivered", seconds=90)
    # Beat follows MessageWhiz's side: every report is in, so it completes, and the page says so.
    wait_until(page, lambda: badge.inner_text().lower() == "completed", "the badge to say Completed", seconds=90)
    assert "MessageWhiz reports a final status for all 3 messages" in page.locator("#timeline").inner_text()
    assert page.evaluate("window.notReloaded") is True
    wait_until(page, lambda: reloaded(page, lambda: figure(page, "Clicked") == "3"), "MessageWhiz's 3 clicks")
    assert "by MessageWhiz" in page.locator(".stat", has_text="Clicked").inner_text()
    page.goto(f"{stack.base}/")
    assert "3 clicked" in page.locator("section", has_text="Recent broadcasts").locator(
        "li", has_text="Live coats").inner_text()


def test_drafts_are_edited_test_sent_duplicated_and_deleted(marketer, customers, autumn):
    page, stack = marketer, autumn
    review(page, stack, "Draft coats", customers, "Hi {{first_name}}, coats are in")
    page.get_by_role("link", name="Edit").click()
    page.wait_for_url(re.compile(r"/broadcasts/\d+/edit/"))
    assert page.get_by_label("Message", exact=True).input_value() == "Hi {{first_name}}, coats are in"
    page.get_by_label("Message", exact=True).fill("Hi {{first_name}}, boots are in too")
    page.get_by_role("button", name="Preview and estimate").click()
    page.wait_for_selector("text=Estimated cost", timeout=30_000)
    assert page.get_by_text("Hi Ann, boots are in too").is_visible()
    assert stack.query("from campaigns.models import Broadcast\n"
                       "result = Broadcast.objects.filter(name='Draft coats').count()") == 1
    draft = broadcast_field(stack, "Draft coats", "pk")

    # A test to my own number, through MessageWhiz, without sending or touching the draft.
    page.get_by_role("link", name="Send a test").click()
    page.get_by_label("Phone number").fill("+380 50 999 00 11")
    page.get_by_role("button", name="Send the test").click()
    page.wait_for_selector("text=is not sent or changed")
    wait_until(page, lambda: submitted(stack, recipient="380509990011"), "the test to be sent")
    [request] = submitted(stack, recipient="380509990011")
    assert request["json"]["message_body"] == "Hi {{first_name}}, boots are in too"
    page.wait_for_selector("text=A test of")
    assert stack.query(f"from campaigns.models import Broadcast\nb = Broadcast.objects.get(pk={draft})\n"
                       "result = [b.state, b.sent, b.remote_id]") == ["estimated", 0, None]
    page.goto(f"{stack.base}/broadcasts/{draft}/test/")
    assert page.get_by_label("Phone number").input_value() == "380509990011"  # remembered

    page.goto(f"{stack.base}/broadcasts/{draft}/")
    page.get_by_role("button", name="Duplicate").click()
    page.wait_for_url(re.compile(r"/broadcasts/\d+/edit/"))
    assert page.get_by_label("Name").input_value() == "Copy of Draft coats"
    copy = broadcast_field(stack, "Copy of Draft coats", "pk")
    page.goto(f"{stack.base}/broadcasts/{copy}/")
    page.get_by_role("link", name="Delete").click()
    page.wait_for_selector("text=Delete the draft “Copy of Draft coats”?")
    assert broadcast_field(stack, "Copy of Draft coats", "pk") == copy  # asked first
    page.get_by_role("button", name="Delete the draft").click()
    page.wait_for_selector("text=Deleted the draft “Copy of Draft coats”.")
    assert broadcast_field(stack, "Copy of Draft coats", "pk") is None


# In the stack's shell: an HTTP provider on the sandbox's /sms, and a list with and without names.
HTTP_PROVIDER = """
import os
from messaging.models import GenericProviderConfig, ProviderAccount
from recipients.models import Recipient, RecipientList
http = ProviderAccount.objects.create(name="Sandbox SMS", kind="generic", api_key="")
GenericProviderConfig.objects.create(
    account=http, endpoint=os.environ["MESSAGEWHIZ_BASE_URL"] + "/sms", method="POST", body_format="json",
    max_concurrency=30,
    body_template='{"api_key": "%s", "from": "ShopCo", "to": "$$To", "text": "$$Body"}' % os.environ["SANDBOX_API_KEY"])
people = RecipientList.objects.create(account=http, name="Named and not")
Recipient.objects.bulk_create([Recipient(recipient_list=people, phone="380501110001", first_name="Ann"),
                               Recipient(recipient_list=people, phone="380501110002", first_name="")])
from campaigns.estimates import typical_token_values
result = typical_token_values({}, own_links=True)["unsubscription_link"]
"""


def test_token_fallbacks_and_the_links_each_provider_sends(marketer, customers, autumn):
    page, stack = marketer, autumn
    compose(page, stack, "Fallback via MessageWhiz", "Hi {{first_name|dear valued customer}}", customers)
    # The live counter counts the fallback where it is longer than a typical name.
    assert page.locator("#sms-count").inner_text().startswith("23 characters")
    page.get_by_role("button", name="Preview and estimate").click()
    page.wait_for_url(re.compile(r"/broadcasts/\d+/review/"))
    page.wait_for_selector("text=Fix these before sending", timeout=30_000)
    page.wait_for_selector("text=MessageWhiz fills in {{first_name}} itself and has no fallbacks")
    assert not page.locator(".confirm").is_visible()

    own_link = stack.query(HTTP_PROVIDER)
    assert own_link.startswith(f"{stack.base}/u/")
    # The counter counts a link as long as the one the chosen provider's recipients get: a
    # MessageWhiz short link, or Textcast's own for an HTTP provider.
    page.goto(f"{stack.base}/broadcasts/new/")
    page.get_by_label("Account", exact=True).select_option(label="Sandbox")
    page.get_by_label("Message", exact=True).fill("Stop: {{unsubscription_link}}")
    assert page.locator("#sms-count").inner_text().startswith(f"{len('Stop: https://0nz0.com/xxxxx')} characters")
    page.get_by_label("Account", exact=True).select_option(label="Sandbox SMS")
    wait_until(page, lambda: page.locator("#sms-count").inner_text().startswith(
        f"{len('Stop: ') + len(own_link)} characters"), "the counter to count Textcast's link", seconds=10)

    # An HTTP provider: we render, so the recipient without a name gets the fallback.
    page.get_by_label("Name").fill("Fallback via HTTP")
    page.get_by_label("Recipient lists").select_option(label="Named and not")
    page.get_by_label("Message", exact=True).fill("Hi {{first_name|there}}, coats are in")
    page.get_by_role("button", name="Preview and estimate").click()
    page.wait_for_selector(".confirm", timeout=30_000)
    assert page.get_by_text("Hi there, coats are in").is_visible()
    page.get_by_role("button", name="Send", exact=True).click()
    page.wait_for_url(re.compile(r"/broadcasts/\d+/$"))

    def sent():
        return {r["json"]["to"]: r["json"]["text"] for r in stack.requests(method="POST", path="^/sms$")
                if r["json"]["to"] in ("380501110001", "380501110002")}

    wait_until(page, lambda: len(sent()) == 2, "both messages to be sent")
    assert sent() == {"380501110001": "Hi Ann, coats are in", "380501110002": "Hi there, coats are in"}
