"""Broadcast pages show pre-aggregated figures, filter and export messages, and cancel."""

import io
import re

import pytest
from django.db import connection
from django.urls import reverse
from openpyxl import load_workbook

from campaigns.models import Broadcast, Campaign, Message
from campaigns.selectors import broadcast_messages, messages_in_index_order
from campaigns.states import broadcast_transition
from messaging.models import GenericProviderConfig, ProviderAccount

from .test_sending import run_task


def test_list_and_detail_render_with_figures(admin_client, make_broadcast, sandbox):
    broadcast = run_task(make_broadcast())
    Broadcast.objects.filter(pk=broadcast.pk).update(delivered=2, clicks_unique=1)
    page = admin_client.get(reverse("campaigns:broadcast_list")).content.decode()
    assert "Autumn sale" in page and "Submitted" in page
    detail = admin_client.get(reverse("campaigns:broadcast_detail", args=[broadcast.pk])).content.decode()
    assert '"funnel-data"' in detail and '["Delivered", 2]' in detail
    assert "380501234567" in detail
    assert 'hx-trigger="every 5s"' in detail  # in flight: figures refresh themselves
    # The per-minute chart counts delivery reports only, and says so.
    assert "No delivery reports yet." in detail
    assert "Messages refused or left unanswered when they were sent are in the status breakdown" in detail


def test_the_report_chart_of_a_provider_without_reports_says_none_will_come(admin_client, db):
    account = ProviderAccount.objects.create(name="Message Central", kind=ProviderAccount.Kind.GENERIC)
    GenericProviderConfig.objects.create(account=account, endpoint="https://example.com/sms", dlr_enabled=False)
    broadcast = Broadcast.objects.create(account=account, name="Flash sale", body="Hi", state="completed")
    detail = admin_client.get(reverse("campaigns:broadcast_detail", args=[broadcast.pk])).content.decode()
    assert "This provider sends no delivery reports." in detail and "No delivery reports yet." not in detail


def test_messages_filter_and_exports(admin_client, make_broadcast, sandbox):
    broadcast = run_task(make_broadcast())
    Message.objects.filter(broadcast=broadcast, phone="380501234568").update(status="delivered", error="=cmd|x")
    page = admin_client.get(reverse("campaigns:broadcast_detail", args=[broadcast.pk]) + "?status=delivered")
    assert page.content.decode().count("<td>38050123456") == 1
    csv_body = b"".join(admin_client.get(
        reverse("campaigns:broadcast_export", args=[broadcast.pk, "csv"]) + "?status=delivered").streaming_content)
    lines = csv_body.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("phone,name,sender,text,status")
    assert len(lines) == 2 and "'=cmd|x" in lines[1]
    xlsx = admin_client.get(reverse("campaigns:broadcast_export", args=[broadcast.pk, "xlsx"]) + "?phone=38050123456")
    assert xlsx.status_code == 200
    assert xlsx["Content-Disposition"] == f'attachment; filename="broadcast-{broadcast.pk}-messages.xlsx"'
    sheet = load_workbook(io.BytesIO(b"".join(xlsx.streaming_content))).active
    rows = [(row[0], row[4]) for row in sheet.iter_rows(values_only=True)]
    assert rows == [("phone", "status"), ("380501234567", "submitted"), ("380501234568", "delivered"),
                    ("380501234569", "submitted")]
    assert admin_client.get(reverse("campaigns:broadcast_export", args=[broadcast.pk, "exe"])).status_code == 404


def test_export_links_carry_the_filters_encoded(admin_client, make_broadcast, sandbox):
    broadcast = run_task(make_broadcast())
    url = reverse("campaigns:broadcast_detail", args=[broadcast.pk])
    page = admin_client.get(url, {"status": "delivered", "phone": "+380 50&x=1"}).content.decode()
    export = reverse("campaigns:broadcast_export", args=[broadcast.pk, "csv"])
    assert f'href="{export}?status=delivered&amp;phone=%2B380+50%26x%3D1"' in page
    assert f'href="{export}"' in admin_client.get(url).content.decode()  # no filters, no query string


def test_too_many_messages_for_xlsx_point_to_csv(admin_client, make_broadcast, sandbox, monkeypatch):
    from campaigns import broadcast_views

    broadcast = run_task(make_broadcast())
    monkeypatch.setattr(broadcast_views, "XLSX_MAX_ROWS", 2)
    export = reverse("campaigns:broadcast_export", args=[broadcast.pk, "xlsx"])
    response = admin_client.get(export + "?phone=3805", follow=True)
    assert response.redirect_chain == [(reverse("campaigns:broadcast_detail", args=[broadcast.pk]) + "?phone=3805",
                                        302)]
    assert "An XLSX file holds at most 2 messages and this export has more: download it as CSV" in \
        response.content.decode()
    assert admin_client.get(export + "?phone=380501234567").status_code == 200  # one message fits


def test_phone_prefix_filter_reads_a_range(admin_client, make_broadcast, sandbox):
    broadcast = run_task(make_broadcast())
    Message.objects.bulk_create(Message(account=broadcast.account, broadcast=broadcast, phone=phone)
                                for phone in ("380989999999", "380990000000", "381000000000"))
    url = reverse("campaigns:broadcast_detail", args=[broadcast.pk])

    def phones(prefix):
        page = admin_client.get(url, {"phone": prefix}).content.decode()
        return re.findall(r"<td>(\d{12})</td>", page)

    assert phones("38099") == ["380990000000"]  # [38099, 381): the last digits carry
    assert phones("380 50-123-4568") == ["380501234568"]
    assert phones("38") == ["380501234567", "380501234568", "380501234569", "380989999999", "380990000000",
                            "381000000000"]
    assert phones("999") == []
    assert len(phones("٣٨٠")) == 6  # only ASCII digits count: no filter, and no error


def test_cancel_from_the_page(admin_client, make_broadcast):
    broadcast = make_broadcast()
    admin_client.post(reverse("campaigns:broadcast_cancel", args=[broadcast.pk]))
    broadcast.refresh_from_db()
    assert broadcast.state == Broadcast.State.CANCELLED


def test_cancel_of_a_submitted_broadcast_is_explained(admin_client, make_broadcast, sandbox):
    broadcast = run_task(make_broadcast())
    page = admin_client.post(reverse("campaigns:broadcast_cancel", args=[broadcast.pk]), follow=True)
    assert "can&#x27;t become cancelled" in page.content.decode()


def test_paging_a_filtered_table_keeps_the_filter_and_caps_the_count(admin_client, make_broadcast, sandbox,
                                                                     monkeypatch):
    from campaigns import broadcast_views

    broadcast = run_task(make_broadcast())
    Message.objects.bulk_create(Message(account=broadcast.account, broadcast=broadcast, phone=f"38067{i:07d}",
                                        status=Message.Status.DELIVERED) for i in range(120))
    url = reverse("campaigns:broadcast_detail", args=[broadcast.pk])
    page = admin_client.get(url + "?status=delivered&phone=38067").content.decode()
    assert "Page 1 of 3<" in page and 'href="?status=delivered&amp;phone=38067&amp;page=2"' in page
    second = admin_client.get(url + "?status=delivered&phone=38067&page=3").content.decode()
    assert second.count("<td>38067") == 20 and "<td>3805012345" not in second

    monkeypatch.setattr(broadcast_views, "FILTERED_COUNT_CAP", 100)
    page = admin_client.get(url + "?status=delivered").content.decode()
    assert "Page 1 of 2+<" in page  # 100 counted, more exist: the export has them all


def test_campaign_page_shows_its_figures_and_broadcasts(admin_client, make_broadcast, audience):
    first, second = make_broadcast(name="Autumn sale"), make_broadcast(name="Autumn reminder")
    Broadcast.objects.filter(pk=first.pk).update(state="submitted", sent=100, delivered=90, failed=4)
    Broadcast.objects.filter(pk=second.pk).update(state="submitted", sent=50, delivered=45, failed=1)
    other = Campaign.objects.create(account=audience["campaign"].account, name="Spring")
    Broadcast.objects.filter(pk=make_broadcast(name="Spring sale").pk).update(campaign=other)
    campaign = audience["campaign"]
    url = reverse("campaigns:campaign_detail", args=[campaign.pk])

    listing = admin_client.get(reverse("campaigns:broadcast_list")).content.decode()
    assert f'<a href="{url}">Autumn</a>' in listing
    page = admin_client.get(url).content.decode()
    stats = dict(zip(re.findall(r'stat-label">([^<]+)<', page), re.findall(r'stat-value">([^<]+)<', page),
                     strict=True))
    assert (stats["Sent"], stats["Delivered"], stats["Failed"]) == ("150", "135", "5")
    assert "Autumn sale" in page and "Autumn reminder" in page and "Spring sale" not in page
    edit = admin_client.get(reverse("campaigns:campaign_edit", args=[campaign.pk])).content.decode()
    assert f'href="{url}">Broadcasts and figures</a>' in edit
    assert admin_client.get(url, {"page": "x"}).status_code == 200
    assert admin_client.get(reverse("campaigns:campaign_detail", args=[999999])).status_code == 404


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's planner")
def test_a_page_of_messages_is_read_from_the_index_without_sorting(make_broadcast, sandbox):
    broadcast = run_task(make_broadcast())
    with connection.cursor() as cursor:
        # As when the statistics do not know a new broadcast: the index looks dearer than fetch-and-sort.
        cursor.execute("SET LOCAL random_page_cost = 1000")
    for status, phone in (("submitted", ""), ("submitted", "38050"), ("", "38050")):
        with messages_in_index_order():
            plan = broadcast_messages(broadcast, status=status, phone=phone)[:50].explain()
        assert "Sort" not in plan and "Index" in plan, plan


def test_message_exports_carry_name_sender_text_and_typed_cells(admin_client, make_broadcast, sandbox, audience,
                                                                settings):
    from datetime import UTC, datetime
    from decimal import Decimal

    settings.TIME_ZONE = "Europe/Kyiv"
    audience["list"].recipients.filter(phone="380501234567").update(first_name="Olena", last_name="Kovalenko",
                                                                    custom="=HYPERLINK(1)")
    broadcast = run_task(make_broadcast(body="{{custom}} Hi {{first_name}}"))
    Message.objects.filter(broadcast=broadcast, phone="380501234567").update(
        price=Decimal("0.0123"), status="delivered", status_at=datetime(2031, 7, 6, 7, 0, tzinfo=UTC))
    xlsx = admin_client.get(reverse("campaigns:broadcast_export", args=[broadcast.pk, "xlsx"]))
    sheet = load_workbook(io.BytesIO(b"".join(xlsx.streaming_content))).active
    header, olena, *_ = sheet.iter_rows(values_only=True)
    row = dict(zip(header, olena, strict=True))
    assert header[:4] == ("phone", "name", "sender", "text")
    assert (row["name"], row["sender"], row["text"]) == ("Olena Kovalenko", "ShopCo", "'=HYPERLINK(1) Hi Olena")
    assert row["price"] == pytest.approx(0.0123)  # a number, not text
    assert row["status_at (Europe/Kyiv)"] == datetime(2031, 7, 6, 10, 0)  # an Excel date, Kyiv's wall clock
    assert isinstance(row["submitted_at (Europe/Kyiv)"], datetime)
    csv_body = b"".join(admin_client.get(
        reverse("campaigns:broadcast_export", args=[broadcast.pk, "csv"])).streaming_content).decode("utf-8-sig")
    assert "380501234567,Olena Kovalenko,ShopCo,'=HYPERLINK(1) Hi Olena,delivered" in csv_body


def test_the_polling_refreshes_badge_timeline_and_messages_until_final(admin_client, make_broadcast, sandbox):
    broadcast = run_task(make_broadcast())
    Message.objects.filter(broadcast=broadcast, phone="380501234567").update(status="delivered", price="3.3600")
    Broadcast.objects.filter(pk=broadcast.pk).update(cost="8715.8400")
    url = reverse("campaigns:broadcast_figures", args=[broadcast.pk])
    live = admin_client.get(url, {"status": "delivered", "page": "1"}).content.decode()
    assert 'id="state-badge" hx-swap-oob="true"' in live and ">Submitted</span>" in live
    assert 'id="timeline" hx-swap-oob="true"' in live and "Accepted by MessageWhiz" in live
    assert 'id="message-table" hx-swap-oob="true"' in live and "380501234567" in live
    assert "380501234568" not in live  # the table's own filter is kept
    assert f'hx-get="{url}?status=delivered&amp;page=1"' in live
    assert "8,715.84 EUR" in live and "3.36 EUR" in live  # costs carry the account's currency
    broadcast.refresh_from_db()
    broadcast_transition(broadcast, Broadcast.State.COMPLETED, reason="All reports in")
    live = admin_client.get(url).content.decode()
    assert "hx-get" not in live and ">Completed</span>" in live and "All reports in" in live
