"""What happened to what was sent, on the real `make run` stack (bin/dev: web, worker, beat and the
sandbox, with free ports and a fresh VAR_DIR): delivery reports and clicks arrive because start-up
connected the sandbox, recipients of a broadcast sent through an HTTP provider get working links
of their own, their clicks reach the broadcast's figures, and a broadcast whose reports never came
is flagged. Asserted on what the pages show and on the text the sandbox received."""

import re

import pytest

from tests.browser.stack import LATE_SECONDS, figure, reloaded, wait_until

pytestmark = pytest.mark.slow

LINK = re.compile(r"http://127\.0\.0\.1:\d+/[ru]/\S+")

# Run inside the stack's environment (`manage.py shell`): an HTTP-provider account configured as
# CleverTap's MessageWhiz /sms preset, pointed at the sandbox, and a list for it.
SETUP = """
import json, os
from messaging.mirror import SyncState
from messaging.models import GenericProviderConfig, ProviderAccount
from messaging.providers.generic.presets import MESSAGEWHIZ_DLR_STATUSES
from messaging.providers.generic.services import callback_urls
from recipients.models import Recipient, RecipientList

account = ProviderAccount.objects.create(name="MW via HTTP", kind="generic", api_key="")
body = {"api_key": os.environ["SANDBOX_API_KEY"], "from": "Shop", "to": "$$To", "text": "$$Body",
        "client_ref": "$$MessageID", "callback": callback_urls(account)["dlr"]}
GenericProviderConfig.objects.create(
    account=account, endpoint=os.environ["MESSAGEWHIZ_BASE_URL"] + "/sms", method="POST", body_format="json",
    body_template=json.dumps(body), response_id_field="message_id", dlr_enabled=True, dlr_ref_field="client_ref",
    dlr_id_field="message_id", dlr_status_field="status", dlr_status_map=MESSAGEWHIZ_DLR_STATUSES)
people = RecipientList.objects.create(account=account, name="HTTP customers", recipient_count=3,
                                      sync_state=SyncState.SYNCED)
Recipient.objects.bulk_create(
    Recipient(recipient_list=people, phone=f"38050700000{i}", first_name=name, url=os.environ["PUBLIC_BASE_URL"]
              + f"/healthz?cart={i}") for i, name in enumerate(["Ann", "Bob", "Olga"]))
"""


def send_tiny_single(page, stack, phone: str, text: str) -> None:
    """From the transactional-messages page, through the tiny single: reported only by "DLR to webhook"."""
    page.goto(f"{stack.base}/otp/")
    single = page.locator("section", has_text="Send a single message")
    single.get_by_label("Sender", exact=True).fill("ShopCo")
    single.get_by_label("Phone", exact=True).fill(phone)
    single.get_by_label("Message", exact=True).fill(text)
    single.get_by_label("Tiny single").check()
    single.get_by_role("button", name="Send").click()
    page.wait_for_url(re.compile(r"/broadcasts/\d+/$"))


def test_start_up_connects_the_sandbox_and_a_single_sms_gets_its_report(marketer, stack):
    config = stack.control("GET", "callbacks")
    assert config["callback_url"].startswith(f"{stack.base}/callbacks/")
    assert config["dlr_webhook_url"].startswith(f"{stack.base}/callbacks/")

    page = marketer
    send_tiny_single(page, stack, "380501112233", "Your parcel is on its way")
    wait_until(page, lambda: reloaded(page, lambda: figure(page, "Delivered") != "0"), "the delivery report")
    assert figure(page, "Submitted") == "1"
    row = page.locator("table tr", has_text="380501112233")
    assert "Submitted" not in row.inner_text()


def test_http_provider_broadcast_carries_working_links_and_counts_their_clicks(browser, marketer, stack):
    stack.manage("shell", "-c", SETUP)
    # Everyone gets it and clicks the link it carries (the sandbox plays the recipients).
    stack.control("POST", "callbacks", json={**{k: v for k, v in stack.control("GET", "callbacks").items()
                                                if k in ("callback_url", "dlr_webhook_url")},
                                             "statuses": {"DELIVRD": 1.0}, "click_rate": 1.0, "delay_ms": 300})
    page = marketer
    page.goto(f"{stack.base}/broadcasts/new/")
    page.get_by_label("Name").fill("Cart reminder")
    page.get_by_label("Account", exact=True).select_option(label="MW via HTTP")
    page.get_by_label("Recipient lists").select_option(label="HTTP customers")
    page.get_by_label("Message", exact=True).fill(
        "Hi {{first_name}}, your cart: {{shorten_url}} Stop: {{unsubscription_link}}")
    page.get_by_role("button", name="Preview and estimate").click()
    page.wait_for_url(re.compile(r"/broadcasts/\d+/review/"))
    preview = page.locator(".preview").first.inner_text()
    assert f"{stack.base}/r/" in preview and f"{stack.base}/u/" in preview and "0nz0.com" not in preview
    assert page.get_by_test_id("own-links").is_visible()
    page.get_by_role("button", name="Send", exact=True).click()
    page.wait_for_url(re.compile(r"/broadcasts/\d+/$"))

    def received():
        return [m for m in stack.control("GET", "state/messages") if m["recipient"].startswith("38050700000")]

    wait_until(page, lambda: len(received()) == 3, "the sandbox to receive three messages")
    texts = {m["recipient"]: m["content"] for m in received()}
    assert not any("0nz0.com" in text for text in texts.values())
    links = {phone: LINK.findall(text) for phone, text in texts.items()}
    assert all(len(found) == 2 for found in links.values())
    assert len({link for found in links.values() for link in found}) == 6  # every recipient's own

    # Reports and the sandbox's clicks (by the id /sms answered) reach the figures; then it completes.
    wait_until(page, lambda: reloaded(page, lambda: figure(page, "Clicked").startswith("3")
                                      and "completed" in page.locator("h1 .badge").inner_text().lower()),
               "three delivered, three clicked, completed")
    assert figure(page, "Delivered") == "3"

    # A recipient opens their own link: it leads to their cart and counts on the broadcast.
    cart, stop = links["380507000001"]
    phone = browser.new_context()  # the recipient's, not signed in
    recipient = phone.new_page()
    recipient.goto(cart)
    assert recipient.url == f"{stack.base}/healthz?cart=1"
    broadcast_page = page.url
    page.goto(broadcast_page)
    page.wait_for_function("() => document.getElementById('links-table').innerText.includes('cart=1')")
    assert "cart=1" in page.locator("#links-table").inner_text()
    assert figure(page, "Clicked").startswith("3")  # a second click by the same person

    # The opt-out link asks, then stops this account's messages to the number.
    recipient.goto(stop)
    assert recipient.get_by_role("heading", name="Stop messages from MW via HTTP?").is_visible()
    recipient.get_by_role("button", name="Stop messages").click()
    assert recipient.get_by_text("will get no more messages from MW via HTTP").is_visible()
    phone.close()


def test_needs_attention_flags_a_broadcast_whose_reports_did_not_come(marketer, stack):
    connected = stack.control("GET", "callbacks")
    stack.control("POST", "callbacks", json={})  # the sandbox forgets where to report, as before start-up did
    try:
        page = marketer
        send_tiny_single(page, stack, "380509998877", "Nobody reports this one")
        page.wait_for_timeout((LATE_SECONDS + 1) * 1000)
        page.goto(f"{stack.base}/")
        flagged = page.get_by_test_id("reports-missing")
        assert "Tiny single to 380509998877" in flagged.inner_text()
        assert "1 of 1 sent messages has no delivery report yet" in flagged.inner_text()
        assert "Everything is in step" not in page.locator("section", has_text="Needs attention").inner_text()
    finally:
        stack.control("POST", "callbacks", json={k: v for k, v in connected.items()
                                                 if k in ("callback_url", "dlr_webhook_url", "click_rate")})
