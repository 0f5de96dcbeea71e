"""The marketer's main journeys in a real browser, against the live server, the sandbox and a real
Celery worker: what the pages show while work is queued and running, and when it is done."""

import io
import re
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from openpyxl import Workbook

from callbacks import buffer
from callbacks.selectors import callback_urls
from campaigns.models import Broadcast
from campaigns.tasks import submit_due_broadcasts
from messaging.messagewhiz.client import MessageWhizClient
from messaging.sync.pull import mirror_pull_account
from recipients.models import RecipientList

pytestmark = pytest.mark.slow

CSV = "Mobile,First name,City\n380501234567,Ann,Kyiv\n380501234568,Bob,Lviv\n380501234569,Olga,Odesa\nbad,Nope,X\n"

# What the broadcast page's charts hold, read from Chart.js itself.
CHARTS = """() => Object.fromEntries(["funnel-chart", "breakdown-chart", "timeline-chart"].map((id) => {
  const chart = Chart.getChart(document.getElementById(id));
  return [id, chart && {labels: chart.data.labels,
                        datasets: chart.data.datasets.map((set) => ({label: set.label, data: set.data}))}];
}))"""


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


def requests_to(page, part: str) -> list[str]:
    """The URLs containing `part` that the page requests from now on (its polling)."""
    seen = []
    page.on("request", lambda request: seen.append(request.url) if part in request.url else None)
    return seen


def wait_until(page, condition, what: str, seconds: float = 30) -> None:
    for _ in range(int(seconds * 4)):
        if condition():
            return
        page.wait_for_timeout(250)
    raise AssertionError(f"waited {seconds}s for {what}")


def import_file(page, live_server, path, list_name):
    page.goto(f"{live_server.url}/import/recipients/")
    page.set_input_files("input[type=file]", str(path))
    page.get_by_role("button", name="Upload and preview").click()
    page.wait_for_url(re.compile(r"/import/recipients/[0-9a-f]{32}/"))
    page.get_by_label("Name of the new list").fill(list_name)
    page.get_by_role("button", name="Import").click()
    page.wait_for_url(re.compile(r"/imports/\d+/"))
    page.wait_for_selector("text=Done.")


def compose(page, live_server, name, body):
    page.goto(f"{live_server.url}/broadcasts/new/")
    page.get_by_label("Name").fill(name)
    page.get_by_label("Campaign").select_option(label="Autumn")
    page.get_by_label("Senders", exact=True).select_option(label="ShopCo")
    page.get_by_label("Recipient lists").select_option(label="Customers")
    page.get_by_label("Message", exact=True).fill(body)


def test_import_compose_estimate_send(signed_in, live_server, workspace, worker, sandbox, tmp_path, shot):
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
    polls = requests_to(page, "/status/")
    page.get_by_role("button", name="Import").click()
    page.wait_for_url(re.compile(r"/imports/\d+/"))
    # No worker has taken the import yet: the bar is indeterminate and the page keeps asking.
    assert page.locator("#import-job").get_attribute("data-status") == "queued"
    assert page.locator("#import-progress").get_attribute("value") is None
    assert "Waiting for a worker" in page.locator("#import-stage").inner_text()
    wait_until(page, lambda: len(polls) >= 2, "the progress bar to poll")
    assert "Waiting for a worker" in page.locator("#import-stage").inner_text()  # as the polls see it too
    shot(page, "04-import-waiting")
    worker.start()
    # The polling sees the job finish and reloads the page once, with the result.
    page.wait_for_selector("text=Done.", timeout=60_000)
    assert page.locator("progress").get_attribute("value") == "1.0"
    stats = page.locator(".stat-value").all_inner_texts()
    assert stats == ["3", "4", "1", "0"]  # inserted, total, wrong, duplicate
    shot(page, "05-import-result")
    assert page.get_by_role("link", name=re.compile("rejected row")).is_visible()

    # Compose with a token from the picker; the counter follows the text as it is typed.
    compose(page, live_server, "Autumn sale", "Hi ")
    body = page.get_by_label("Message", exact=True)
    page.get_by_role("button", name="first_name", exact=True).click()
    body.press("End")
    body.type(", 20% off in {{custom}} today")
    assert body.input_value() == "Hi {{first_name}}, 20% off in {{custom}} today"
    assert re.search(r"\d+ characters · 1 SMS part", page.locator("#sms-count").inner_text())
    body.type(" — ")
    assert "UCS-2" in page.locator("#sms-count").inner_text()
    page.get_by_role("button", name="Replace with GSM equivalents").click()
    assert "GSM-7" in page.locator("#sms-count").inner_text()
    shot(page, "06-compose")

    # MessageWhiz takes its time over the estimate: the review page says so and fills in when it is done.
    sandbox.faults(latency_ms=3000, path="/Broadcast/estimate")
    page.get_by_role("button", name="Preview and estimate").click()
    page.wait_for_url(re.compile(r"/broadcasts/\d+/review/"))
    assert page.get_by_text("Estimating…").is_visible()
    assert not page.locator(".confirm").is_visible()
    page.wait_for_selector("text=Estimated cost", timeout=30_000)
    sandbox.faults()
    assert page.get_by_text("Hi Ann, 20% off in Kyiv today").is_visible()
    assert "Send 3 messages" in page.locator(".confirm").inner_text()
    shot(page, "07-review")

    page.get_by_role("button", name="Send", exact=True).click()
    page.wait_for_url(re.compile(r"/broadcasts/\d+/$"))
    page.evaluate("window.notReloaded = true")
    broadcast = Broadcast.objects.get(name="Autumn sale")
    figure = lambda label: page.locator(".stat", has_text=label).locator(".stat-value").inner_text()  # noqa: E731

    # The worker submits it; DLRs from the sandbox arrive; figures and charts follow without a reload.
    def delivered():
        deliver_callbacks(sandbox)
        return figure("Delivered") == "3"

    wait_until(page, delivered, "3 delivery reports on the page", seconds=60)
    assert figure("Submitted") == "3"
    assert "Delivered · 100.0%" in page.locator("#figures").inner_text()
    page.wait_for_function("() => Chart.getChart(document.getElementById('timeline-chart'))"
                           "?.data.datasets[0].data.reduce((a, b) => a + b, 0) === 3", timeout=30_000)
    charts = page.evaluate(CHARTS)
    assert charts["funnel-chart"] == {"labels": ["Submitted", "Delivered", "Clicked"],
                                      "datasets": [{"label": None, "data": [3, 3, 0]}]}
    assert charts["breakdown-chart"] == {"labels": ["Delivered"], "datasets": [{"label": None, "data": [3]}]}
    timeline = {s["label"]: sum(s["data"]) for s in charts["timeline-chart"]["datasets"]}
    assert timeline == {"Delivered": 3, "Failed": 0, "Other": 0}
    assert page.locator("#timeline-empty").is_hidden()
    assert page.evaluate("window.notReloaded") is True
    [remote] = sandbox.state("broadcasts")
    broadcast.refresh_from_db()
    assert (broadcast.state, broadcast.remote_id, broadcast.delivered) == (Broadcast.State.SUBMITTED, remote["id"], 3)
    shot(page, "08-broadcast")


def test_xlsx_import(signed_in, live_server, workspace, worker, tmp_path):
    book = Workbook()
    sheet = book.active
    sheet.append(["Phone", "Name"])
    sheet.append([380501234567, "Ann"])  # a number cell, as Excel stores phone numbers
    sheet.append([380501234568.0, "Bob"])
    path = tmp_path / "contacts.xlsx"
    book.save(path)
    worker.start()
    import_file(signed_in, live_server, path, "From Excel")
    phones = sorted(RecipientList.objects.get(name="From Excel").recipients.values_list("phone", flat=True))
    assert phones == ["380501234567", "380501234568"]


def test_scheduled_send(signed_in, live_server, workspace, worker, sandbox, tmp_path):
    page = signed_in
    path = tmp_path / "c.csv"
    path.write_text(CSV)
    worker.start()
    import_file(page, live_server, path, "Customers")
    compose(page, live_server, "Weekend", "See you on Saturday")
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

    # Its time comes: the beat job (run here by the worker) hands it to MessageWhiz, which starts it then.
    send_at = (timezone.now() + timedelta(minutes=2)).replace(second=0, microsecond=0)
    Broadcast.objects.filter(pk=broadcast.pk).update(send_at=send_at)
    submit_due_broadcasts.delay()
    wait_until(page, lambda: sandbox.state("broadcasts"), "the broadcast to reach MessageWhiz")
    [remote] = sandbox.state("broadcasts")
    assert remote["name"].startswith("Weekend") and remote["send_now"] is False
    assert remote["send_date"][:16] == f"{send_at:%Y-%m-%dT%H:%M}"  # UTC
    page.reload()
    assert page.locator("h1 .badge").inner_text().lower() == "submitted"
    broadcast.refresh_from_db()
    assert (broadcast.state, broadcast.remote_id) == (Broadcast.State.SUBMITTED, remote["id"])
