"""MessageWhiz broadcasts whose recipients span closed sending windows go out in parts, against the
sandbox over HTTP with a fake clock: one broadcast now to a list of the open recipients only, and a
scheduled child broadcast per later opening with a list of its own, at the right instant across
DST; nobody gets a message outside 08:00 to 21:00 their time; retries make nothing twice; opted-out
and capped numbers are in no uploaded list."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from campaigns import policy
from campaigns.models import Broadcast, SendRecord
from campaigns.tasks import submit_broadcast
from messaging.models import SendingPolicy
from recipients.consent import consent_record
from recipients.models import ConsentEvent, Recipient, RecipientList
from tests.campaigns.conftest import synced

pytestmark = pytest.mark.django_db(transaction=True)
S = Broadcast.State

ZONES = {  # the test's own reading of where each number is
    "380501234567": "Europe/Kyiv", "380501234568": "Europe/Kyiv",
    "12125550101": "America/New_York", "12125550102": "America/New_York",
    "13105550101": "America/Los_Angeles", "13105550102": "America/Los_Angeles",
    "81312345678": "Asia/Tokyo", "81312345679": "Asia/Tokyo",
}
KYIV, NEW_YORK, LOS_ANGELES, TOKYO = ([n for n, z in ZONES.items() if z == zone] for zone in
                                      ("Europe/Kyiv", "America/New_York", "America/Los_Angeles", "Asia/Tokyo"))


def utc(*args):
    return datetime(*args, tzinfo=UTC)


# (fake now, who is open then, {opening instant: who waits for it})
DAYS = {
    # US spring forward (2026-03-08): New York opens at 08:00 EDT = 12:00 UTC, Los Angeles at 08:00 PDT = 15:00.
    "us-dst-start": (utc(2026, 3, 8, 6), KYIV + TOKYO, {utc(2026, 3, 8, 12): NEW_YORK,
                                                         utc(2026, 3, 8, 15): LOS_ANGELES}),
    # EU spring forward (2026-03-29): 07:00 EEST in Kyiv, which opens at 05:00 UTC (06:00 the day before).
    "eu-dst-start": (utc(2026, 3, 29, 4), TOKYO, {utc(2026, 3, 29, 5): KYIV, utc(2026, 3, 29, 12): NEW_YORK,
                                                   utc(2026, 3, 29, 15): LOS_ANGELES}),
    # US fall back (2026-11-01): New York opens at 08:00 EST = 13:00 UTC, Los Angeles at 08:00 PST = 16:00.
    "us-dst-end": (utc(2026, 11, 1, 7), KYIV + TOKYO, {utc(2026, 11, 1, 13): NEW_YORK,
                                                        utc(2026, 11, 1, 16): LOS_ANGELES}),
}


@pytest.fixture
def clock(monkeypatch):
    at = {"now": utc(2026, 6, 1, 12)}
    monkeypatch.setattr(policy, "clock", lambda: at["now"])
    return at


@pytest.fixture
def world(mw_account, mw):
    """An 08:00 to 21:00 policy, a campaign, a sender and a list of 8 numbers in four zones (with
    first names), in the sandbox and mirrored here."""
    from campaigns.models import Campaign
    from messaging.models import Sender

    SendingPolicy.objects.create(account=mw_account)
    campaign = synced(Campaign, mw_account, mw.campaign_create(name="Spring"), name="Spring")
    sender = synced(Sender, mw_account, mw.sender_create(name="ShopCo"), name="ShopCo")
    remote = mw.recipient_list_create(name="World", numbers=list(ZONES))
    world_list = synced(RecipientList, mw_account, {"id": remote["recipient_list_id"]}, name="World",
                        recipient_count=len(ZONES))
    Recipient.objects.bulk_create(Recipient(recipient_list=world_list, phone=n, first_name=f"N{i}")
                                  for i, n in enumerate(ZONES))

    def make(**fields):
        broadcast = Broadcast.objects.create(account=mw_account, campaign=campaign, name="Spring sale",
                                             body="Hi {{first_name}}", **fields)
        broadcast.senders.set([sender])
        broadcast.recipient_lists.set([world_list])
        return broadcast

    return {"make": make, "list": world_list}


def broadcast_posts(sandbox):
    return sandbox.requests(method="POST", path="^/api/3/Broadcast$")


def list_numbers(mw, remote_id):
    return sorted(str(r["phone_number"]) for r in mw.recipient_list_recipients(remote_id))


def submit(broadcast):
    submit_broadcast.apply(args=[broadcast.pk], throw=True)
    broadcast.refresh_from_db()
    return broadcast


def parts(broadcast):
    return list(broadcast.children.filter(role=Broadcast.Role.WINDOW).order_by("send_at"))


def send_the_parts(parent, clock):
    """What beat does: each part handed over shortly before its time."""
    for part in parts(parent):
        clock["now"] = part.send_at - timedelta(minutes=5)
        assert submit(part).state == S.SUBMITTED, part.last_error


def assert_nobody_messaged_outside_their_window(sandbox, sent_at):
    """Every message the sandbox holds, at the instant its broadcast was told to go: 08:00 to 21:00
    in the recipient's zone."""
    ours = {b.remote_id: b for b in Broadcast.objects.exclude(remote_id=None)}
    messages = sandbox.state("messages")
    assert messages
    for message in messages:
        broadcast = ours[message["broadcast_id"]]
        instant = broadcast.send_at or sent_at[broadcast.pk]
        local = instant.astimezone(ZoneInfo(ZONES[str(message["recipient"])]))
        assert 8 <= local.hour < 21, (message["recipient"], local)


@pytest.mark.parametrize("day", DAYS)
def test_a_broadcast_spanning_closed_windows_goes_in_parts_at_each_opening(world, sandbox, mw, clock, day,
                                                                          admin_client):
    now, open_now, later = DAYS[day]
    clock["now"] = now
    parent = submit(world["make"]())

    assert parent.state == S.SUBMITTED, parent.last_error
    [post] = broadcast_posts(sandbox)
    assert post["json"]["recipient_list_ids"] == str(parent.part_list.remote_id)
    assert post["json"].get("send_date") is None
    assert list_numbers(mw, parent.part_list.remote_id) == sorted(open_now)
    assert parent.recipients_count == len(open_now)
    assert list(parent.recipient_lists.all()) == [parent.part_list]
    assert parent.part_list.recipients.get(phone=open_now[0]).first_name  # fields travel with the number

    children = parts(parent)
    assert [c.send_at for c in children] == list(later)
    for child, numbers in zip(children, later.values(), strict=True):
        assert child.state == S.SCHEDULED and child.parent_id == parent.pk
        assert child.held == len(numbers)
        assert list_numbers(mw, child.part_list.remote_id) == sorted(numbers)  # uploaded before it goes

    send_the_parts(parent, clock)
    posts = broadcast_posts(sandbox)
    assert len(posts) == 1 + len(later)
    for child, request in zip(children, posts[1:], strict=True):
        child.refresh_from_db()
        assert request["json"]["send_date"] == child.send_at.strftime("%Y-%m-%dT%H:%M:%S.000Z")
        assert request["json"]["utc_offset"] in (0, "0")
        assert request["json"]["recipient_list_ids"] == str(child.part_list.remote_id)
        assert (child.recipients_count, child.held) == (len(later[child.send_at]), 0)
    assert_nobody_messaged_outside_their_window(sandbox, {parent.pk: now})
    page = admin_client.get(reverse("campaigns:broadcast_detail", args=[parent.pk])).content.decode()
    assert f'<span class="stat-value">{len(ZONES)}</span><span class="stat-label">Submitted</span>' in page


def test_nobody_open_at_the_send_time_moves_the_broadcast_to_the_first_opening(world, sandbox, mw, clock):
    clock["now"] = utc(2026, 3, 8, 4, 30)  # 06:30 in Kyiv, 23:30 the day before in New York
    broadcast = world["make"]()
    remote = mw.recipient_list_create(name="Kyiv and New York", numbers=KYIV + NEW_YORK)
    own = synced(RecipientList, world["list"].account, {"id": remote["recipient_list_id"]}, name="Kyiv and New York",
                 recipient_count=4)
    Recipient.objects.bulk_create(Recipient(recipient_list=own, phone=n) for n in KYIV + NEW_YORK)
    broadcast.recipient_lists.set([own])

    broadcast = submit(broadcast)
    assert broadcast.state == S.SCHEDULED
    assert broadcast.send_at == utc(2026, 3, 8, 6)  # 08:00 in Kyiv
    assert broadcast_posts(sandbox) == []
    assert [c.send_at for c in parts(broadcast)] == [utc(2026, 3, 8, 12)]

    clock["now"] = utc(2026, 3, 8, 5, 55)
    assert submit(broadcast).state == S.SUBMITTED
    [post] = broadcast_posts(sandbox)
    assert post["json"]["send_date"] == "2026-03-08T06:00:00.000Z"
    assert list_numbers(mw, broadcast.part_list.remote_id) == sorted(KYIV)


def test_retried_tasks_make_no_part_or_list_twice(world, sandbox, mw, clock):
    clock["now"] = DAYS["us-dst-start"][0]
    remote_lists_before = len(mw.recipient_list_list(limit=100))
    # The first upload of the broadcast's own list is made, but its answer is lost.
    sandbox.faults(path="(?i)recipientlist", fail_next=[{"status": 503, "apply": True}])
    parent = submit(world["make"]())
    assert parent.state == S.DRAFT
    assert "on its way to MessageWhiz" in parent.last_error
    assert broadcast_posts(sandbox) == []

    sandbox.faults()
    parent = submit(parent)  # the retry finds the split made and the list there
    assert parent.state == S.SUBMITTED, parent.last_error
    submit(parent)  # a redelivered task
    assert len(parts(parent)) == 2
    send_the_parts(parent, clock)
    for part in parts(parent):
        submit(part)  # redelivered again
    assert len(broadcast_posts(sandbox)) == 3
    assert len(mw.recipient_list_list(limit=100)) == remote_lists_before + 3
    assert RecipientList.objects.count() == 1 + 3


def test_opted_out_and_capped_numbers_are_in_no_uploaded_list(world, sandbox, mw, clock, mw_account):
    clock["now"] = start = DAYS["us-dst-start"][0]
    SendingPolicy.objects.filter(account=mw_account).update(cap_messages=1, cap_hours=24)
    consent_record(account=mw_account, phones=[KYIV[0], NEW_YORK[0]], kind=ConsentEvent.Kind.OPT_OUT,
                   source=ConsentEvent.Source.MANUAL, evidence={"note": "asked on the phone"})
    SendRecord.objects.create(account=mw_account, phone=TOKYO[0], sent_at=clock["now"] - timedelta(hours=2))

    parent = submit(world["make"]())
    assert parent.state == S.SUBMITTED, parent.last_error
    assert (parent.opted_out, parent.capped) == (2, 1)
    uploaded = []
    for broadcast in [parent, *parts(parent)]:
        uploaded += list_numbers(mw, broadcast.part_list.remote_id)
    assert sorted(uploaded) == sorted(set(ZONES) - {KYIV[0], NEW_YORK[0], TOKYO[0]})

    # A number reaching the cap before its part goes is left out of a fresh list for that part.
    SendRecord.objects.create(account=mw_account, phone=LOS_ANGELES[0], sent_at=utc(2026, 3, 8, 14))
    send_the_parts(parent, clock)
    la = parts(parent)[-1]
    assert la.capped == 1
    assert list_numbers(mw, la.part_list.remote_id) == [LOS_ANGELES[1]]
    assert_nobody_messaged_outside_their_window(sandbox, {parent.pk: start})


def test_a_smart_broadcast_spanning_closed_windows_is_refused_with_the_reason(world, sandbox, clock):
    clock["now"] = DAYS["us-dst-start"][0]
    smart = submit(world["make"](type=Broadcast.Type.SMART, eb_type=Broadcast.SmartType.MANUAL, first_segment_size=2))
    assert smart.state == S.DRAFT
    assert "A smart broadcast is not split" in smart.last_error
    assert "2 on Sun 8 Mar at 08:00 their time" in smart.last_error
    assert broadcast_posts(sandbox) == [] and not smart.children.exists()


def test_review_and_broadcast_pages_show_the_parts_and_cancel_cancels_the_waiting_ones(
        world, sandbox, clock, admin_client):
    clock["now"] = DAYS["us-dst-start"][0]
    broadcast = world["make"]()
    page = admin_client.get(reverse("campaigns:broadcast_review", args=[broadcast.pk])).content.decode()
    assert "4 recipients receive it now" in page
    assert "2 go automatically on Sun 8 Mar at 08:00 their time (a scheduled part)" in page

    submit(broadcast)
    page = admin_client.get(reverse("campaigns:broadcast_detail", args=[broadcast.pk])).content.decode()
    assert "Scheduled parts" in page
    assert page.count("(part at 2026-03-08") == 2
    assert '<span class="stat-value">4</span><span class="stat-label">Held for quiet hours</span>' in page

    smart = world["make"](type=Broadcast.Type.SMART, eb_type=Broadcast.SmartType.MANUAL, first_segment_size=2)
    page = admin_client.get(reverse("campaigns:broadcast_review", args=[smart.pk])).content.decode()
    assert "A smart broadcast is not split" in page

    admin_client.post(reverse("campaigns:broadcast_cancel", args=[broadcast.pk]))
    assert [p.state for p in parts(broadcast)] == [S.CANCELLED, S.CANCELLED]
    broadcast.refresh_from_db()
    assert broadcast.state == S.SUBMITTED
