"""The sending policy on MessageWhiz's paths, against the sandbox over HTTP: broadcasts, singles,
pasted numbers and one-time passwords honour opt-outs, quiet hours and caps."""

from datetime import UTC, datetime

import pytest

from campaigns import policy
from campaigns.models import Broadcast, Campaign
from campaigns.otp import OtpProblem, otp_send
from campaigns.singles import SingleProblem, pasted_send, single_send
from campaigns.tasks import submit_broadcast
from messaging.models import SendingPolicy
from recipients.consent import consent_record
from recipients.models import ConsentEvent, Suppression

pytestmark = pytest.mark.django_db(transaction=True)
NIGHT_IN_KYIV = datetime(2026, 6, 1, 1, 0, tzinfo=UTC)  # 04:00 in Kyiv
DAY_IN_KYIV = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock(monkeypatch):
    at = {"now": DAY_IN_KYIV}
    monkeypatch.setattr(policy, "clock", lambda: at["now"])
    return at


def opt_out(account, phone):
    consent_record(account=account, phones=[phone], kind=ConsentEvent.Kind.OPT_OUT,
                   source=ConsentEvent.Source.MANUAL, evidence={"note": "asked on the phone"})


def broadcast_posts(sandbox):
    return sandbox.requests(method="POST", path="^/api/3/Broadcast$")


def test_a_broadcast_leaves_out_opted_out_numbers_through_the_mirrored_list(make_broadcast, sandbox, audience,
                                                                           mw_account):
    opt_out(mw_account, audience["numbers"][0])
    mirror = SendingPolicy.objects.get(account=mw_account).optout_list
    mirror.refresh_from_db()
    assert mirror.remote_id and mirror.sync_state == "synced"
    broadcast = make_broadcast()
    submit_broadcast.apply(args=[broadcast.pk], throw=True)
    broadcast.refresh_from_db()
    assert broadcast.state == Broadcast.State.SUBMITTED, broadcast.last_error
    [request] = broadcast_posts(sandbox)
    assert str(mirror.remote_id) in request["json"]["unsubscriber_list_ids"]


def test_a_broadcast_whose_recipients_are_all_outside_their_window_waits_for_its_opening(
        make_broadcast, sandbox, mw_account, clock):
    SendingPolicy.objects.create(account=mw_account)
    clock["now"] = NIGHT_IN_KYIV
    broadcast = make_broadcast()
    submit_broadcast.apply(args=[broadcast.pk], throw=True)
    broadcast.refresh_from_db()
    assert broadcast.state == Broadcast.State.SCHEDULED
    assert broadcast.send_at == datetime(2026, 6, 1, 5, 0, tzinfo=UTC)  # 08:00 in Kyiv
    assert "Nobody's sending window is open at the send time" in broadcast.events.last().reason
    assert broadcast_posts(sandbox) == []

    clock["now"] = DAY_IN_KYIV
    submit_broadcast.apply(args=[broadcast.pk], throw=True)
    broadcast.refresh_from_db()
    assert broadcast.state == Broadcast.State.SUBMITTED


def test_singles_refuse_opted_out_numbers_and_quiet_hours(mw_account, sandbox, clock):
    SendingPolicy.objects.create(account=mw_account)
    opt_out(mw_account, "380501234567")
    with pytest.raises(SingleProblem, match="opted out"):
        single_send(account=mw_account, sender="ShopCo", phone="+380501234567", text="Hi")
    clock["now"] = NIGHT_IN_KYIV
    with pytest.raises(SingleProblem, match="outside the recipient's sending hours"):
        single_send(account=mw_account, sender="ShopCo", phone="+380501234568", text="Hi")
    assert sandbox.requests(path="^/sms$") == []


def test_a_single_is_refused_over_the_frequency_cap(mw_account, sandbox, clock):
    SendingPolicy.objects.create(account=mw_account, cap_messages=1, cap_hours=24)
    single_send(account=mw_account, sender="ShopCo", phone="+380501234568", text="Hi")
    with pytest.raises(SingleProblem, match="cap"):
        single_send(account=mw_account, sender="ShopCo", phone="+380501234568", text="Hi again")
    assert len(sandbox.requests(path="^/sms$")) == 1


def test_pasted_numbers_skip_opted_out_ones_and_count_them(mw_account, sandbox):
    opt_out(mw_account, "380501234567")
    broadcast = pasted_send(account=mw_account, sender="ShopCo", numbers="+380501234567\n+380501234568",
                            text="Hi")
    [request] = sandbox.requests(method="POST", path="(?i)combinedsubmit")
    assert [str(r["phone_number"]) for r in request["json"]["recipients"]] == ["380501234568"]
    assert (broadcast.recipients_count, broadcast.opted_out) == (1, 1)


def test_a_one_time_password_ignores_quiet_hours_but_not_an_opt_out(mw_account, sandbox, mw, clock):
    from messaging.models import Sender
    from tests.campaigns.conftest import synced

    campaign = synced(Campaign, mw_account, mw.campaign_create(name="Login"), name="Login")
    sender = synced(Sender, mw_account, mw.sender_create(name="ShopCo"), name="ShopCo")
    SendingPolicy.objects.create(account=mw_account)
    clock["now"] = NIGHT_IN_KYIV
    code = "Code {{verification_code}}"
    otp_send(account=mw_account, campaign=campaign, sender=sender, phone="380501234568", body=code)
    opt_out(mw_account, "380501234567")
    with pytest.raises(OtpProblem, match="opted out"):
        otp_send(account=mw_account, campaign=campaign, sender=sender, phone="380501234567", body=code)
    assert Suppression.objects.count() == 1
