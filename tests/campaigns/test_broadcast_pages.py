"""Broadcast pages show pre-aggregated figures, filter and export messages, and cancel."""

from django.urls import reverse

from campaigns.models import Broadcast, Message

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


def test_messages_filter_and_exports(admin_client, make_broadcast, sandbox):
    broadcast = run_task(make_broadcast())
    Message.objects.filter(broadcast=broadcast, phone="380501234568").update(status="delivered", error="=cmd|x")
    page = admin_client.get(reverse("campaigns:broadcast_detail", args=[broadcast.pk]) + "?status=delivered")
    assert page.content.decode().count("<td>38050123456") == 1
    csv_body = b"".join(admin_client.get(
        reverse("campaigns:broadcast_export", args=[broadcast.pk, "csv"]) + "?status=delivered").streaming_content)
    lines = csv_body.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("phone,status")
    assert len(lines) == 2 and "'=cmd|x" in lines[1]
    xlsx = admin_client.get(reverse("campaigns:broadcast_export", args=[broadcast.pk, "xlsx"]))
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    assert admin_client.get(reverse("campaigns:broadcast_export", args=[broadcast.pk, "exe"])).status_code == 404


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
