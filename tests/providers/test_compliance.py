"""Compliance through a generic provider over real HTTP (the stand-in): quiet hours in each
recipient's local time with a fake clock across DST, STOP/START from every inbound path, a
re-import that does not re-subscribe, frequency caps, and the consent ledger behind it all."""

import json
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from callbacks.selectors import mismatches
from campaigns import policy
from campaigns.dispatch import dispatch_run
from campaigns.models import Broadcast, Message
from campaigns.tasks import submit_broadcast
from messaging.models import SendingPolicy
from recipients.consent import consent_erase, consent_export_csv, erased_hash, suppressions_rebuild
from recipients.models import ConsentEvent, Recipient, RecipientList, Suppression, UnsubscribeNumber
from recipients.services import recipient_list_add_numbers

pytestmark = pytest.mark.django_db(transaction=True)

# Ten zones (and one number whose prefix spans every +1 zone, from Guam to Hawaii).
NUMBERS = {
    "12125550100": ("America/New_York",),
    "13125550100": ("America/Chicago",),
    "13035550100": ("America/Denver",),
    "12135550100": ("America/Los_Angeles",),
    "18085550100": ("Pacific/Honolulu",),
    "442075550100": ("Europe/London",),
    "4930555010": ("Europe/Berlin",),
    "380441234567": ("Europe/Kyiv",),
    "911123456789": ("Asia/Calcutta",),
    "61255550100": ("Australia/Sydney",),
}
SPANNING = "15555550100"


class FakeClock:
    def __init__(self, at: datetime):
        self.at = at

    def __call__(self) -> datetime:
        return self.at


@pytest.fixture
def clock(monkeypatch):
    fake = FakeClock(datetime(2026, 1, 1, tzinfo=UTC))
    monkeypatch.setattr(policy, "clock", fake)
    return fake


def list_of(account, phones, name="Customers"):
    recipient_list = RecipientList.objects.create(account=account, name=name, recipient_count=len(phones))
    Recipient.objects.bulk_create(Recipient(recipient_list=recipient_list, phone=p, first_name="Ann") for p in phones)
    return recipient_list


def broadcast_to(account, recipient_list, **fields):
    broadcast = Broadcast.objects.create(account=account, name="Sale", body="Hi {{first_name}}", **fields)
    broadcast.recipient_lists.set([recipient_list])
    return broadcast


def sends(stub):
    return [r.json()["to"] for r in stub.requests]


@pytest.mark.parametrize("day", [
    datetime(2026, 3, 8, tzinfo=UTC),    # US clocks go forward
    datetime(2026, 3, 29, tzinfo=UTC),   # EU clocks go forward
    datetime(2026, 10, 25, tzinfo=UTC),  # EU clocks go back
    datetime(2026, 11, 1, tzinfo=UTC),   # US clocks go back
])
def test_no_message_leaves_outside_its_recipients_window_across_dst(stub, make_account, clock, day):
    account = make_account()
    SendingPolicy.objects.create(account=account, window_start=time(8), window_end=time(21))
    sent_at: dict[str, datetime] = {}

    def record(request):
        sent_at.setdefault(request.json()["to"], clock.at)
        return 200, {}, "{}"

    stub.responder = record
    zones = {**NUMBERS, SPANNING: policy.zone_names(SPANNING)}
    broadcast = broadcast_to(account, list_of(account, list(zones)))
    clock.at = day - timedelta(hours=6)
    submit_broadcast(broadcast.pk)
    held_seen = 0
    for step in range(1, 48 + 1):  # every hour for two days, as the sweep would run it
        clock.at = day - timedelta(hours=6) + timedelta(minutes=60 * step)
        dispatch_run(broadcast.pk)
        broadcast.refresh_from_db()
        held_seen = max(held_seen, broadcast.held)
        if broadcast.state == Broadcast.State.COMPLETED:
            break

    assert broadcast.state == Broadcast.State.COMPLETED
    assert sorted(sends(stub)) == sorted(zones)  # each exactly once
    outside = [(phone, zone, at.astimezone(ZoneInfo(zone)).isoformat())
               for phone, at in sent_at.items() for zone in zones[phone]
               if not time(8) <= at.astimezone(ZoneInfo(zone)).time() < time(21)]
    assert outside == []
    assert held_seen > 0 and broadcast.held == 0


def test_held_messages_wait_while_the_broadcast_stays_sending_and_go_at_the_opening(stub, make_account, clock):
    account = make_account()
    SendingPolicy.objects.create(account=account)
    broadcast = broadcast_to(account, list_of(account, ["12125550100", "380441234567"]))
    clock.at = datetime(2026, 6, 1, 10, 0, tzinfo=UTC)  # 06:00 in New York, 13:00 in Kyiv
    submit_broadcast(broadcast.pk)
    broadcast.refresh_from_db()
    assert sends(stub) == ["380441234567"]
    assert broadcast.state == Broadcast.State.SUBMITTED and broadcast.dispatch_state == "running"
    assert broadcast.held == 1
    message = Message.objects.get(broadcast=broadcast, phone="12125550100")
    assert message.not_before == datetime(2026, 6, 1, 12, 0, tzinfo=UTC)  # 08:00 EDT
    from campaigns.dispatch import dispatch_stalled_ids

    assert broadcast.pk in dispatch_stalled_ids()  # the every-minute sweep keeps waking it

    clock.at = datetime(2026, 6, 1, 11, 59, tzinfo=UTC)
    assert dispatch_run(broadcast.pk) == "held"
    assert len(stub.requests) == 1
    clock.at = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    assert dispatch_run(broadcast.pk) == "done"
    assert sorted(sends(stub)) == ["12125550100", "380441234567"]
    broadcast.refresh_from_db()
    assert broadcast.state == Broadcast.State.COMPLETED and broadcast.held == 0


def test_a_broadcast_tightens_the_window_and_country_overrides_and_days_apply(stub, make_account, clock):
    account = make_account()
    SendingPolicy.objects.create(account=account, days="01234",  # weekdays only
                                 country_windows={"GB": {"start": "10:00", "end": "18:00"}})
    broadcast = broadcast_to(account, list_of(account, ["442075550100", "4930555010"]), window_start=time(9))
    clock.at = datetime(2026, 6, 1, 8, 30, tzinfo=UTC)  # Monday: 09:30 London, 10:30 Berlin
    submit_broadcast(broadcast.pk)
    assert sends(stub) == ["4930555010"]
    assert Message.objects.get(phone="442075550100").not_before == datetime(2026, 6, 1, 9, 0, tzinfo=UTC)

    saturday = broadcast_to(account, list_of(account, ["4930555010"], name="Weekend"))
    clock.at = datetime(2026, 6, 6, 10, 0, tzinfo=UTC)
    submit_broadcast(saturday.pk)
    assert Message.objects.get(broadcast=saturday).not_before == datetime(2026, 6, 8, 6, 0, tzinfo=UTC)  # Monday


def test_a_recipients_own_time_zone_overrides_the_numbers(stub, make_account, clock):
    account = make_account()
    SendingPolicy.objects.create(account=account)
    recipient_list = list_of(account, ["380441234567"])
    Recipient.objects.filter(recipient_list=recipient_list).update(timezone="America/Los_Angeles")
    clock.at = datetime(2026, 6, 1, 10, 0, tzinfo=UTC)  # 13:00 in Kyiv, 03:00 in Los Angeles
    submit_broadcast(broadcast_to(account, recipient_list).pk)
    assert stub.requests == []


def inbound(client, account, phone, text, uid):
    return client.post(f"/providers/cb/{account.callback_token}/inbound/", content_type="application/json",
                       data=json.dumps({"from": phone, "text": text, "uuid": uid}))


@pytest.mark.parametrize("text", ["STOP", " stop! ", "Arrêt", "СТОП", "Stopp.", "baja", "UNSUBSCRIBE"])
def test_stop_suppresses_messages_already_queued_before_the_next_claim(client, stub, make_account, clock, text):
    account = make_account()
    SendingPolicy.objects.create(account=account)
    phones = ["12125550100", "12125550101", "12125550102"]
    broadcast = broadcast_to(account, list_of(account, phones))
    clock.at = datetime(2026, 6, 1, 10, 0, tzinfo=UTC)  # before 08:00 in New York: all queued and held
    submit_broadcast(broadcast.pk)
    assert stub.requests == []

    assert inbound(client, account, phones[1], text, "in-1").status_code == 200
    clock.at = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    dispatch_run(broadcast.pk)

    assert sorted(sends(stub)) == [phones[0], phones[2]]
    broadcast.refresh_from_db()
    assert broadcast.opted_out == 1 and broadcast.state == Broadcast.State.COMPLETED
    assert Message.objects.get(phone=phones[1]).status == Message.Status.OPTED_OUT
    event = ConsentEvent.objects.get(phone=phones[1])
    assert (event.kind, event.source, event.evidence["text"]) == ("opt_out", "keyword", text.strip())
    assert Suppression.objects.get(phone=phones[1]).event == event  # the ledger explains it
    assert mismatches([broadcast.pk]) == []  # "sent" still equals a recount


@pytest.mark.parametrize("text", ["stop please", "don't stop", "STOP STOP"])
def test_only_the_whole_message_is_a_keyword(client, make_account, text):
    account = make_account()
    inbound(client, account, "12125550100", text, "in-1")
    assert not Suppression.objects.exists()


def test_start_resubscribes_and_a_reimport_does_not(client, stub, make_account, clock, monkeypatch):
    from messaging.tasks import push_mirror

    monkeypatch.setattr(push_mirror, "delay", lambda *args: None)  # a generic account's list stays here
    account = make_account()
    recipient_list = list_of(account, ["380441234567"])
    inbound(client, account, "380441234567", "STOP", "in-1")
    recipient_list_add_numbers(recipient_list=recipient_list, numbers="+380441234567\n+380441234568")
    submit_broadcast(broadcast_to(account, recipient_list).pk)
    assert sends(stub) == ["380441234568"]

    inbound(client, account, "380441234567", "Start", "in-2")
    assert not Suppression.objects.filter(phone="380441234567").exists()
    assert not UnsubscribeNumber.objects.filter(phone="380441234567").exists()
    submit_broadcast(broadcast_to(account, recipient_list).pk)
    assert sorted(sends(stub)) == ["380441234567", "380441234568", "380441234568"]
    kinds = list(ConsentEvent.objects.filter(phone="380441234567").values_list("kind", "source"))
    assert kinds == [("opt_out", "keyword"), ("opt_in", "keyword")]
    # The re-import's proof is kept for the number that had none.
    assert ConsentEvent.objects.get(phone="380441234568").source == "manual"


def test_stop_on_whatsapp_and_on_a_messagewhiz_account_suppresses_and_reaches_messagewhiz(
        client, make_account, mw_account, sandbox):
    whatsapp = make_account(name="WA", channel="whatsapp")
    messagewhiz = mw_account
    assert inbound(client, whatsapp, "12125550100", "STOP", "w-1").status_code == 200
    assert inbound(client, messagewhiz, "12125550101", "QUIT", "m-1").status_code == 200
    assert policy.single_refusal(account=whatsapp, phone="12125550100") == \
        "This number has opted out of messages from this account."
    assert policy.single_refusal(account=messagewhiz, phone="12125550101")
    # The MessageWhiz account's opt-outs are mirrored into its opt-out list, pushed to MessageWhiz.
    mirror = SendingPolicy.objects.get(account=messagewhiz).optout_list
    mirror.refresh_from_db()
    assert mirror.sync_state == "synced" and mirror.member_count == 1
    remote = [u for u in sandbox.state("unsubscribe_lists") if u["id"] == mirror.remote_id]
    assert remote and "12125550101" in json.dumps(remote)

    assert inbound(client, messagewhiz, "12125550101", "START", "m-2").status_code == 200
    mirror.refresh_from_db()
    assert mirror.member_count == 0 and mirror.sync_state == "synced"
    remote = [u for u in sandbox.state("unsubscribe_lists") if u["id"] == mirror.remote_id]
    assert remote and "12125550101" not in json.dumps(remote)
    assert policy.single_refusal(account=messagewhiz, phone="12125550101") is None


def test_frequency_cap_counts_across_broadcasts_and_skips_numbers_over_it(stub, make_account, clock):
    account = make_account()
    SendingPolicy.objects.create(account=account, cap_messages=2, cap_hours=24)
    recipient_list = list_of(account, ["380441234567", "380441234568"])
    clock.at = datetime(2026, 6, 1, 10, 0, tzinfo=UTC)
    for _ in range(2):
        submit_broadcast(broadcast_to(account, recipient_list).pk)
    assert len(stub.requests) == 4
    third = broadcast_to(account, recipient_list)
    submit_broadcast(third.pk)
    third.refresh_from_db()
    assert len(stub.requests) == 4
    assert third.capped == 2 and third.state == Broadcast.State.COMPLETED
    assert set(Message.objects.filter(broadcast=third).values_list("status", flat=True)) == {"capped"}
    assert third.sent == 0 and mismatches([third.pk]) == []

    clock.at += timedelta(hours=24, minutes=1)  # the rolling window moved on
    submit_broadcast(broadcast_to(account, recipient_list).pk)
    assert len(stub.requests) == 6


def test_ledger_exports_per_number_rebuilds_the_suppression_and_erasure_keeps_it(client, make_account,
                                                                                  admin_user):
    account = make_account()
    inbound(client, account, "380441234567", "STOP", "in-1")
    inbound(client, account, "380441234567", "START", "in-2")
    inbound(client, account, "380441234567", "STOP", "in-3")
    rows = consent_export_csv(phone="380441234567").splitlines()
    assert rows[0] == "time,account,number,kind,source,actor,evidence"
    assert [r.split(",")[3] for r in rows[1:]] == ["opt_out", "opt_in", "opt_out"]

    Suppression.objects.all().delete()
    assert suppressions_rebuild(account=account) == 1

    assert consent_erase(phone="380441234567", actor=admin_user) == 3
    assert not ConsentEvent.objects.filter(phone="380441234567").exists()
    assert ConsentEvent.objects.filter(phone=erased_hash("380441234567")).count() == 3
    assert "STOP" not in json.dumps(list(ConsentEvent.objects.values_list("evidence", flat=True)))
    # Still never messaged again, though the ledger no longer names the number.
    assert policy.single_refusal(account=account, phone="380441234567")
    assert suppressions_rebuild(account=account) == 1


def test_review_shows_who_receives_it_now_and_who_tomorrow_at_their_opening(admin_client, make_account, clock):
    account = make_account()
    SendingPolicy.objects.create(account=account)
    broadcast = broadcast_to(account, list_of(account, ["380441234567", "380441234568", "12125550100"]))
    clock.at = datetime(2026, 6, 1, 17, 0, tzinfo=UTC)  # 20:00 in Kyiv, 13:00 in New York
    page = admin_client.get(f"/broadcasts/{broadcast.pk}/review/").content.decode()
    assert "Europe/Kyiv</strong>: 2 recipients will receive it now" in page
    assert "America/New_York</strong>: 1 recipient will receive it now" in page
    clock.at = datetime(2026, 6, 1, 18, 30, tzinfo=UTC)  # 21:30 in Kyiv
    page = admin_client.get(f"/broadcasts/{broadcast.pk}/review/").content.decode()
    assert "Europe/Kyiv</strong>: 0 recipients will receive it now, 2 tomorrow at 08:00 their time" in page


def test_dlt_ids_reach_the_provider_and_review_warns_when_an_indian_message_lacks_them(admin_client, stub,
                                                                                       make_account):
    from campaigns.models import Template

    account = make_account(body_template='{"to": "$$To", "text": "$$Body", "dlt_template_id": "$$DltTemplateId", '
                                         '"pe_id": "$$DltEntityId"}')
    recipient_list = list_of(account, ["919812345678"])
    bare = broadcast_to(account, recipient_list)
    page = admin_client.get(f"/broadcasts/{bare.pk}/review/").content.decode()
    assert "1 recipient in India (+91): the message lacks its DLT template id and DLT entity id" in page

    template = Template.objects.create(account=account, name="OTP", body="Hi {{first_name}}",
                                       dlt_template_id="1107161234567890123", dlt_entity_id="1101234567890123456")
    registered = Broadcast.objects.create(account=account, name="Registered", template=template)
    registered.recipient_lists.set([recipient_list])
    page = admin_client.get(f"/broadcasts/{registered.pk}/review/").content.decode()
    assert "lacks its DLT" not in page
    submit_broadcast(registered.pk)
    [request] = stub.requests
    assert request.json() == {"to": "919812345678", "text": "Hi Ann", "dlt_template_id": "1107161234567890123",
                              "pe_id": "1101234567890123456"}


def test_a_broadcast_widens_the_window_only_with_the_permission(stub, make_account, clock, django_user_model):
    from django.contrib.auth.models import Permission

    account = make_account()
    SendingPolicy.objects.create(account=account)
    marketer = django_user_model.objects.create_user("marketer")
    clock.at = datetime(2026, 6, 1, 4, 30, tzinfo=UTC)  # 07:30 in Kyiv
    early = broadcast_to(account, list_of(account, ["380441234567"]), window_start=time(7), created_by=marketer)
    submit_broadcast(early.pk)
    assert stub.requests == []  # 07:00 is wider than the account's 08:00: ignored without the permission

    marketer.user_permissions.add(Permission.objects.get(codename="widen_sending_window"))
    allowed = broadcast_to(account, list_of(account, ["380441234568"], name="Early"), window_start=time(7),
                           created_by=django_user_model.objects.get(pk=marketer.pk))
    submit_broadcast(allowed.pk)
    assert sends(stub) == ["380441234568"]
