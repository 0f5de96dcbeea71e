"""The marketer's main journeys in a real browser, against the live server and the sandbox."""

import io
import re

import pytest
from django.core.management import call_command
from openpyxl import Workbook

from callbacks import buffer
from callbacks.selectors import callback_urls
from campaigns.models import Broadcast
from messaging.messagewhiz.client import MessageWhizClient
from messaging.sync.pull import mirror_pull_account
from recipients.models import RecipientList

pytestmark = pytest.mark.slow

CSV = "Mobile,First name,City\n380501234567,Ann,Kyiv\n380501234568,Bob,Lviv\n380501234569,Olga,Odesa\nbad,Nope,X\n"


@pytest.fixture
def workspace(mw_account, sandbox, settings, live_server):
    """A MessageWhiz account with a campaign and a sender, pulled into Textcast as a marketer finds it."""
    settings.PUBLIC_BASE_URL = live_server.url
    mw = MessageWhizClient(sandbox.url, sandbox.api_key)
    mw.campaign_create(name="Autumn")
    mw.sender_create(name="ShopCo")
    mirror_pull_account(mw_account, ["campaign", "sender"])
    # As MessageWhiz's staff would configure "DLR to webhook" for the account.
    urls = callback_urls(mw_account)
    sandbox.callbacks(delay_ms=300, statuses={"DELIVRD": 1.0}, dlr_webhook_url=urls["dlr_batch"],
                      click_url=urls["click"], webhook_flush_ms=200)
    return mw_account


def deliver_callbacks(sandbox):
    """Let the sandbox post its pending DLRs now, and (with Redis) drain them as drain_callbacks does."""
    sandbox.control("POST", "callbacks/drain")
    if buffer.enabled():
        call_command("drain_callbacks", "--once", stdout=io.StringIO())


def import_file(page, live_server, path, list_name):
    page.goto(f"{live_server.url}/import/recipients/")
    page.set_input_files("input[type=file]", str(path))
    page.get_by_role("button", name="Upload and preview").click()
    page.wait_for_url(re.compile(r"/import/recipients/[0-9a-f]{32}/"))
    page.get_by_label("Name of the new list").fill(list_name)
    page.get_by_role("button", name="Import").click()
    page.wait_for_url(re.compile(r"/imports/\d+/"))
    page.wait_for_selector("text=Done.")


def test_import_compose_estimate_send(signed_in, live_server, workspace, sandbox, tmp_path, shot):
    page = signed_in
    shot(page, "01-overview-empty")
    path = tmp_path / "customers.csv"
    path.write_text(CSV)

    page.goto(f"{live_server.url}/import/recipients/")
    shot(page, "02-import-upload")
    page.set_input_files("input[type=file]", str(path))
    page.get_by_role("button", name="Upload and preview").click()
    # The preview suggests the mapping from the header names.
    assert page.locator("#column_0").input_value() == "phone_number"
    assert page.locator("#column_1").input_value() == "first_name"
    page.select_option("#column_2", "custom")
    page.get_by_label("Name of the new list").fill("Customers")
    shot(page, "03-import-mapping")
    page.get_by_role("button", name="Import").click()
    page.wait_for_selector("text=Done.")
    assert page.locator("progress").get_attribute("value") == "1.0"
    stats = page.locator(".stat-value").all_inner_texts()
    assert stats == ["3", "4", "1", "0"]  # inserted, total, wrong, duplicate
    shot(page, "04-import-result")
    assert page.get_by_role("link", name=re.compile("rejected row")).is_visible()

    # Compose with a token from the picker; the counter follows the text as it is typed.
    page.goto(f"{live_server.url}/broadcasts/new/")
    page.get_by_label("Name").fill("Autumn sale")
    page.get_by_label("Campaign").select_option(label="Autumn")
    page.get_by_label("Senders").select_option(label="ShopCo")
    page.get_by_label("Recipient lists").select_option(label="Customers")
    body = page.get_by_label("Message")
    body.fill("Hi ")
    page.get_by_role("button", name="first_name", exact=True).click()
    body.press("End")
    body.type(", 20% off in {{custom}} today")
    assert body.input_value() == "Hi {{first_name}}, 20% off in {{custom}} today"
    assert re.search(r"\d+ characters · 1 SMS part", page.locator("#sms-count").inner_text())
    body.type(" — ")
    assert "UCS-2" in page.locator("#sms-count").inner_text()
    page.get_by_role("button", name="Replace with GSM equivalents").click()
    assert "GSM-7" in page.locator("#sms-count").inner_text()
    shot(page, "05-compose")
    page.get_by_role("button", name="Preview and estimate").click()

    page.wait_for_selector("text=Estimated cost")
    assert page.get_by_text("Hi Ann, 20% off in Kyiv today").is_visible()
    assert "Send 3 messages" in page.locator(".confirm").inner_text()
    shot(page, "06-review")
    page.get_by_role("button", name="Send", exact=True).click()
    page.wait_for_url(re.compile(r"/broadcasts/\d+/$"))
    broadcast = Broadcast.objects.get(name="Autumn sale")
    assert broadcast.state == Broadcast.State.SUBMITTED
    [remote] = sandbox.state("broadcasts")
    assert remote["id"] == broadcast.remote_id
    assert page.locator(".stat-value").first.inner_text() == "3"

    # DLRs from the sandbox arrive; the figures and charts update without a reload (htmx polling).
    deliver_callbacks(sandbox)
    delivered = page.locator(".stat", has_text="Delivered").locator(".stat-value")
    for _ in range(30):
        if delivered.inner_text() == "3":
            break
        deliver_callbacks(sandbox)
        page.wait_for_timeout(500)
    assert delivered.inner_text() == "3"
    assert "Delivered · 100.0%" in page.locator("#figures").inner_text()
    broadcast.refresh_from_db()
    assert broadcast.delivered == 3
    shot(page, "07-broadcast")


def test_xlsx_import(signed_in, live_server, workspace, tmp_path):
    book = Workbook()
    sheet = book.active
    sheet.append(["Phone", "Name"])
    sheet.append([380501234567, "Ann"])  # a number cell, as Excel stores phone numbers
    sheet.append([380501234568.0, "Bob"])
    path = tmp_path / "contacts.xlsx"
    book.save(path)
    import_file(signed_in, live_server, path, "From Excel")
    phones = sorted(RecipientList.objects.get(name="From Excel").recipients.values_list("phone", flat=True))
    assert phones == ["380501234567", "380501234568"]


def test_scheduled_send(signed_in, live_server, workspace, sandbox, tmp_path):
    page = signed_in
    path = tmp_path / "c.csv"
    path.write_text(CSV)
    import_file(page, live_server, path, "Customers")
    page.goto(f"{live_server.url}/broadcasts/new/")
    page.get_by_label("Name").fill("Weekend")
    page.get_by_label("Campaign").select_option(label="Autumn")
    page.get_by_label("Senders").select_option(label="ShopCo")
    page.get_by_label("Recipient lists").select_option(label="Customers")
    page.get_by_label("Message").fill("See you on Saturday")
    page.get_by_label("At a date and time").check()
    page.get_by_label("Send at (local time)").fill("2031-05-03T09:30")
    page.get_by_label("Time zone").select_option("Europe/Kyiv")
    page.get_by_role("button", name="Preview and estimate").click()
    page.wait_for_selector("text=Estimated cost")
    page.get_by_role("button", name="Schedule").click()
    page.wait_for_selector("text=Scheduled “Weekend”")
    broadcast = Broadcast.objects.get(name="Weekend")
    assert broadcast.state == Broadcast.State.SCHEDULED
    assert broadcast.send_at.isoformat() == "2031-05-03T06:30:00+00:00"
    assert sandbox.state("broadcasts") == []  # handed over only shortly before its time


def test_pages_fit_a_phone_screen(signed_in, live_server, workspace, shot):
    page = signed_in
    page.set_viewport_size({"width": 390, "height": 844})
    for path, name in (("/", "08-phone-overview"), ("/broadcasts/new/", "09-phone-compose"),
                       ("/import/recipients/", "10-phone-import"), ("/senders/", "11-phone-senders")):
        page.goto(f"{live_server.url}{path}")
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{path} is {overflow}px wider than the phone screen"
        shot(page, name)
