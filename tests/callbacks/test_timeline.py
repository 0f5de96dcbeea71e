"""The broadcast page's DLR timeline and clicks per link, kept up to date as events are applied."""

from django.urls import reverse

from .payloads import click, dlr, webhook_entry

MINUTE_1 = 1764324330000  # 2025-11-28T10:05:30Z, as the webhook's "updated" says it
MINUTE_2 = MINUTE_1 + 60_000


def test_status_changes_per_minute_and_clicks_per_link(hook, admin_client, make_messages):
    broadcast, (a, b, c) = make_messages(3)
    hook.ok("dlr_batch", {"dlrs": [webhook_entry(m, 0, updated=MINUTE_1) for m in (a, b, c)]})
    hook.ok("dlr_batch", {"dlrs": [webhook_entry(a, 2, updated=MINUTE_2), webhook_entry(b, 5, updated=MINUTE_2)]})
    hook.ok("dlr_batch", {"dlrs": [webhook_entry(a, 2, updated=MINUTE_2)]})  # a repeat changes nothing
    hook.ok("dlr", dlr(c, "EXPIRED", timestamp="2025-11-28T10:06:59Z"))
    hook.ok("dlr", dlr(c, "ENROUTE", timestamp="2025-11-28T10:07:00Z"))  # too late to change anything
    hook.ok("click", click(a, at="2025-11-28T10:08:00Z"))
    hook.ok("click", click(a, at="2025-11-28T10:09:00Z"))
    hook.ok("click", click(a, at="2025-11-28T10:09:00Z"))  # the same click again
    hook.ok("click", click(b, at="2025-11-28T10:09:00Z"))
    hook.ok("click", click(b, link="hkzt.me/other", at="2025-11-28T10:09:00Z"))
    hook.settle()

    data = admin_client.get(reverse("callbacks:broadcast_timeline", args=[broadcast.pk])).json()
    assert data == {
        "minutes": [["2025-11-28T10:05:00+00:00", {"delivered": 0, "failed": 0, "other": 3}],
                    ["2025-11-28T10:06:00+00:00", {"delivered": 1, "failed": 2, "other": 0}]],
        "links": [{"link_id": "hkzt.me/ZPFuT5", "clicks": 3, "people": 2, "conversion": 66.67, "name": None},
                  {"link_id": "hkzt.me/other", "clicks": 1, "people": 1, "conversion": 33.33, "name": None}],
    }


def test_clicks_on_a_known_link_are_shown_by_its_name(hook, admin_client, make_messages):
    from campaigns.models import Link

    broadcast, (a,) = make_messages(1)
    Link.objects.create(account=broadcast.account, remote_id=146746, name="Autumn landing", url="https://shop.example")
    hook.ok("click", click(a, link="146746", at="2025-11-28T10:08:00Z"))
    hook.settle()
    data = admin_client.get(reverse("callbacks:broadcast_timeline", args=[broadcast.pk])).json()
    assert [(link["link_id"], link["name"]) for link in data["links"]] == [("146746", "Autumn landing")]


def test_reading_the_timeline_does_not_count_messages(hook, admin_client, make_messages,
                                                       django_assert_max_num_queries):
    broadcast, messages = make_messages(30)
    hook.ok("dlr_batch", {"dlrs": [webhook_entry(m, 2, updated=MINUTE_1 + 60_000 * i)
                                   for i, m in enumerate(messages)]})
    hook.settle()
    url = reverse("callbacks:broadcast_timeline", args=[broadcast.pk])
    admin_client.get(url)  # the session and user are loaded once
    with django_assert_max_num_queries(5):  # session, user, broadcast, minutes, links
        data = admin_client.get(url).json()
    assert sum(counts["delivered"] for _, counts in data["minutes"]) == 30
    assert len(data["minutes"]) == 30


def test_a_broadcast_without_reports_has_an_empty_timeline(admin_client, make_broadcast):
    broadcast = make_broadcast()
    data = admin_client.get(reverse("callbacks:broadcast_timeline", args=[broadcast.pk])).json()
    assert data == {"minutes": [], "links": []}
