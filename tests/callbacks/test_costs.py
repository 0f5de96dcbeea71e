"""Cost per country from MessageWhiz's DLR prices: broadcast (with its derived broadcasts),
campaign and period pages, their CSV/XLSX exports, currencies kept apart, permissions."""

import csv
import io
from decimal import Decimal

import openpyxl
import pytest
from django.contrib.auth.models import Permission, User
from django.urls import reverse
from django.utils import timezone

from campaigns.costs import broadcast_costs, campaign_costs
from campaigns.models import Broadcast, Campaign, Message
from campaigns.sending import messages_create
from messaging.models import ProviderAccount
from recipients.models import Recipient, RecipientList

from .payloads import webhook_entry

# Numbers of six countries, two of them sharing +44 with Great Britain and one +1 with the US.
NUMBERS = {"447400123401": "GB", "447400123402": "GB", "447781123456": "GG", "12025550101": "US",
           "14165550101": "CA", "380501234567": "UA"}


def sent_broadcast(account, numbers, **fields) -> Broadcast:
    """A broadcast whose messages were created as a MessageWhiz submission creates them."""
    recipients = RecipientList.objects.create(account=account, name=f"List {len(numbers)}")
    Recipient.objects.bulk_create(Recipient(recipient_list=recipients, phone=n) for n in numbers)
    broadcast = Broadcast.objects.create(account=account, name=fields.pop("name", "Spring"), remote_id=fields.pop(
        "remote_id"), state=Broadcast.State.SUBMITTED, submitted_at=timezone.now(), **fields)
    broadcast.recipient_lists.set([recipients])
    count = messages_create(broadcast, status=Message.Status.SUBMITTED)
    Broadcast.objects.filter(pk=broadcast.pk).update(recipients_count=count, sent=count)
    return broadcast


def report(hook, broadcast, prices: dict, states: dict | None = None):
    """One DLR-to-webhook batch: `prices` by phone (task_state 2, delivered, unless `states` says)."""
    messages = Message.objects.filter(broadcast=broadcast).select_related("broadcast")
    hook.ok("dlr_batch", {"dlrs": [webhook_entry(m, (states or {}).get(m.phone, 2), price=prices[m.phone])
                                   for m in messages if m.phone in prices]})
    hook.settle()


def download(client, url) -> tuple[list, list]:
    """(CSV rows, XLSX rows) of an export, header first."""
    text = b"".join(client.get(url + ".csv").streaming_content).decode("utf-8-sig")
    book = openpyxl.load_workbook(io.BytesIO(b"".join(client.get(url + ".xlsx").streaming_content)))
    return list(csv.reader(io.StringIO(text))), [list(row) for row in book.active.iter_rows(values_only=True)]


def test_messages_know_their_country(account, db):
    broadcast = sent_broadcast(account, NUMBERS, remote_id=8_000_001)
    assert dict(Message.objects.filter(broadcast=broadcast).values_list("phone", "country")) == NUMBERS


def test_dlr_prices_roll_up_per_country_broadcast_and_campaign(hook, admin_client, account):
    campaign = Campaign.objects.create(account=account, name="Spring")
    broadcast = sent_broadcast(account, NUMBERS, remote_id=8_000_002, campaign=campaign)
    # A later window's part of the same broadcast (a derived broadcast): its figures roll up here.
    later = sent_broadcast(account, ["447400123403"], remote_id=8_000_003, name="Spring, later", parent=broadcast,
                           role=Broadcast.Role.WINDOW, campaign=campaign)
    other = sent_broadcast(account, ["447400123404"], remote_id=8_000_004, name="Autumn",
                           campaign=Campaign.objects.create(account=account, name="Autumn"))
    report(hook, broadcast, {"447400123401": 0.0412, "447400123402": 0.0412, "447781123456": 0.1,
                             "12025550101": 0.0075, "14165550101": 0.0081, "380501234567": 0.33},
           states={"447400123402": 5, "380501234567": 8})  # undelivered, rejected: charged all the same
    report(hook, later, {"447400123403": 0.0412})
    report(hook, other, {"447400123404": 7})

    rows = {row["country"]: row for row in broadcast_costs(broadcast)}
    assert {c: (r["messages"], r["delivered"], r["cost"], r["currency"], r["unpriced"]) for c, r in rows.items()} == {
        "GB": (3, 2, Decimal("0.1236"), "EUR", 0), "GG": (1, 1, Decimal("0.1000"), "EUR", 0),
        "US": (1, 1, Decimal("0.0075"), "EUR", 0), "CA": (1, 1, Decimal("0.0081"), "EUR", 0),
        "UA": (1, 0, Decimal("0.3300"), "EUR", 0)}
    broadcast.refresh_from_db()
    later.refresh_from_db()
    assert sum(r["cost"] for r in rows.values()) == broadcast.cost + later.cost == Decimal("0.5692")
    assert campaign_costs(campaign) == broadcast_costs(broadcast)  # "Autumn" is another campaign's

    detail = admin_client.get(reverse("campaigns:broadcast_detail", args=[broadcast.pk])).content.decode()
    assert f'hx-get="{reverse("campaigns:broadcast_costs", args=[broadcast.pk])}"' in detail  # loaded after the page
    page = admin_client.get(reverse("campaigns:broadcast_costs", args=[broadcast.pk])).content.decode()
    assert "<td>0.12 EUR</td><td>EUR</td>" in page  # Great Britain, with its currency
    assert "Total in EUR" in page and "0.57 EUR" in page
    campaign_page = admin_client.get(reverse("campaigns:campaign_costs", args=[campaign.pk])).content.decode()
    assert "Guernsey" in campaign_page and "Total in EUR" in campaign_page

    url = reverse("campaigns:broadcast_costs_export", args=[broadcast.pk, "csv"])[:-len(".csv")]
    text_rows, sheet_rows = download(admin_client, url)
    header = ["currency", "country", "country_name", "messages", "parts", "delivered", "cost", "unpriced"]
    assert text_rows[0] == sheet_rows[0] == header
    by_country = {row[1]: row for row in sheet_rows[1:]}
    assert {c: (r[3], r[5], Decimal(str(r[6])), r[0]) for c, r in by_country.items()} == {
        c: (r["messages"], r["delivered"], r["cost"], "EUR") for c, r in rows.items()}
    assert isinstance(by_country["GB"][6], float | int)  # a number in the workbook, not text
    assert {row[1]: (int(row[3]), Decimal(row[6])) for row in text_rows[1:]} == {
        c: (r["messages"], r["cost"]) for c, r in rows.items()}
    campaign_url = reverse("campaigns:campaign_costs_export", args=[campaign.pk, "csv"])[:-len(".csv")]
    assert download(admin_client, campaign_url) == (text_rows, sheet_rows)


def test_a_message_without_a_price_is_unknown_not_free(hook, admin_client, account):
    broadcast = sent_broadcast(account, ["447400123401", "447400123402"], remote_id=8_000_005)
    message = Message.objects.select_related("broadcast").get(broadcast=broadcast, phone="447400123402")
    report(hook, broadcast, {"447400123401": 0.04})
    hook.ok("dlr_batch", {"dlrs": [{**webhook_entry(message, 2), "price": "n/a"}]})
    hook.settle()
    [row] = broadcast_costs(broadcast)
    assert (row["messages"], row["delivered"], row["cost"], row["unpriced"]) == (2, 2, Decimal("0.0400"), 1)
    page = admin_client.get(reverse("campaigns:broadcast_costs", args=[broadcast.pk])).content.decode()
    assert "+ 1 without a known price" in page


def test_costs_page_keeps_currencies_apart_and_filters_by_date(hook, client, admin_client, account, settings):
    dollars = ProviderAccount.objects.create(name="MessageWhiz US", api_key="mw-us-key", currency="USD")
    euros = sent_broadcast(account, ["447400123401", "380501234567"], remote_id=8_000_006)
    usd = sent_broadcast(dollars, ["12025550101", "447400123409"], remote_id=8_000_007)
    old = sent_broadcast(account, ["447400123408"], remote_id=8_000_008)
    Broadcast.objects.filter(pk=old.pk).update(submitted_at=timezone.now() - timezone.timedelta(days=40))
    report(hook, euros, {"447400123401": 1.25, "380501234567": 2})
    report(hook, old, {"447400123408": 100})
    usd_hook = type(hook)(hook.client, dollars, hook.buffered)
    report(usd_hook, usd, {"12025550101": 3, "447400123409": 4.5})

    response = admin_client.get(reverse("campaigns:costs"))
    totals = {t["currency"]: t["cost"] for t in response.context["cost_totals"]}
    assert totals == {"EUR": Decimal("3.2500"), "USD": Decimal("7.5000")}  # the 40-day-old broadcast is out
    page = response.content.decode()
    assert "Total in EUR" in page and "Total in USD" in page and "never added up" in page
    assert "10.75" not in page  # 3.25 EUR + 7.50 USD is no amount
    gb = {(r["currency"], r["country"]): r["cost"] for r in response.context["costs"]}
    assert gb[("EUR", "GB")] == Decimal("1.2500") and gb[("USD", "GB")] == Decimal("4.5000")

    today = timezone.localdate()
    query = f"?start={today - timezone.timedelta(days=60)}&end={today}"
    wider = admin_client.get(reverse("campaigns:costs") + query).context["cost_totals"]
    assert {t["currency"]: t["cost"] for t in wider} == {"EUR": Decimal("103.2500"), "USD": Decimal("7.5000")}
    csv_rows, xlsx_rows = download(admin_client, reverse("campaigns:costs_export", args=["csv"])[:-4])
    assert {(r[0], r[1]): Decimal(r[6]) for r in csv_rows[1:]} == gb
    assert {(r[0], r[1]): Decimal(str(r[6])) for r in xlsx_rows[1:]} == gb
    wide_csv = b"".join(admin_client.get(reverse("campaigns:costs_export", args=["csv"]) + query)
                        .streaming_content).decode("utf-8-sig")
    assert "EUR,GB,United Kingdom,2,,2,101.2500,0" in wide_csv  # MessageWhiz's batch reports carry no parts

    bad = admin_client.get(reverse("campaigns:costs") + f"?start={today}&end={today - timezone.timedelta(days=1)}")
    assert bad.status_code == 200 and "“From” must be on or before “To”." in bad.content.decode()
    assert admin_client.get(reverse("campaigns:costs") + "?start=soon&end=").status_code == 200
    assert admin_client.get(reverse("campaigns:costs_export", args=["csv"]) + "?start=x").status_code == 404
    assert admin_client.get(reverse("campaigns:costs_export", args=["pdf"])).status_code == 404


@pytest.mark.parametrize("name", ["campaigns:costs", "broadcast", "campaign", "broadcast table", "campaign table"])
def test_cost_pages_need_view_broadcast(client, account, db, name):
    broadcast = sent_broadcast(account, ["447400123401"], remote_id=8_000_009,
                               campaign=Campaign.objects.create(account=account, name="C"))
    url = {"campaigns:costs": reverse("campaigns:costs"),
           "broadcast": reverse("campaigns:broadcast_costs_export", args=[broadcast.pk, "csv"]),
           "campaign": reverse("campaigns:campaign_costs_export", args=[broadcast.campaign_id, "xlsx"]),
           "broadcast table": reverse("campaigns:broadcast_costs", args=[broadcast.pk]),
           "campaign table": reverse("campaigns:campaign_costs", args=[broadcast.campaign_id])}[name]
    user = User.objects.create_user("colleague", password="pw-not-secret-1")
    client.force_login(user)
    assert client.get(url).status_code == 403
    user.user_permissions.add(Permission.objects.get(codename="view_broadcast"))
    client.force_login(User.objects.get(pk=user.pk))
    assert client.get(url).status_code == 200


def test_older_messages_are_given_their_country(make_messages, db):
    from django.core.management import call_command

    _broadcast, messages = make_messages(3)
    Message.objects.filter(pk=messages[0].pk).update(phone="14165550101")
    Message.objects.filter(pk=messages[1].pk).update(phone="999123456789")  # no country
    out = io.StringIO()
    call_command("messages_countries", stdout=out)
    assert "2 messages given their country" in out.getvalue()
    assert [Message.objects.get(pk=m.pk).country for m in messages] == ["CA", "", "UA"]
