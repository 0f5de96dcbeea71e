"""Submitted broadcasts are followed until MessageWhiz reports them final."""

import time

from campaigns.followup import broadcasts_refresh
from campaigns.models import Broadcast

from .test_sending import run_task


def test_refresh_stores_provider_figures_and_completes(make_broadcast, sandbox, mw_account):
    sandbox.callbacks(delay_ms=0, statuses={"DELIVRD": 1.0})
    broadcast = run_task(make_broadcast())
    deadline = time.monotonic() + 10
    while broadcasts_refresh(account=mw_account) == 0 and time.monotonic() < deadline:
        sandbox.control("POST", "callbacks/drain")
        time.sleep(0.1)
    broadcast.refresh_from_db()
    assert broadcast.state == Broadcast.State.COMPLETED
    assert broadcast.provider_report["delivery"]["delivered"] == 3
    assert "uniqueClicks" in broadcast.provider_report["conversion"]
    assert [e.to_state for e in broadcast.events.all()][-1] == Broadcast.State.COMPLETED


def test_refresh_leaves_broadcasts_in_flight_submitted(make_broadcast, sandbox, mw_account):
    sandbox.callbacks(delay_ms=60_000)
    broadcast = run_task(make_broadcast())
    assert broadcasts_refresh(account=mw_account) == 0
    broadcast.refresh_from_db()
    assert broadcast.state == Broadcast.State.SUBMITTED
    assert broadcast.provider_report["delivery"].get("delivered", 0) == 0


def deliver_everything(sandbox):
    """Every message MessageWhiz has sent gets its final report, now."""
    deadline = time.monotonic() + 10
    while any(m["state"] in (None, 0, 1) and "planned" in m for m in sandbox.state("messages")):
        assert time.monotonic() < deadline, "the sandbox did not deliver"
        sandbox.control("POST", "callbacks/drain")
        time.sleep(0.05)


def test_a_smart_broadcast_stays_open_until_no_recipient_is_left(make_broadcast, sandbox, mw_account, audience):
    from campaigns.segments import segment_continue

    sandbox.callbacks(delay_ms=0, statuses={"DELIVRD": 1.0})
    broadcast = run_task(make_broadcast(type=Broadcast.Type.SMART, eb_type="manual", first_segment_size=2))
    deliver_everything(sandbox)
    assert broadcasts_refresh(account=mw_account) == 0  # its first segment is done; one recipient is left
    broadcast.refresh_from_db()
    assert (broadcast.state, broadcast.remote_state) == (Broadcast.State.SUBMITTED, 2)
    assert broadcast.provider_report["conversion"]["recipientCount"] == 2

    segment_continue(broadcast, size=1, body="Last call", senders=[audience["sender"]])
    deliver_everything(sandbox)
    assert broadcasts_refresh(account=mw_account) == 1
    broadcast.refresh_from_db()
    assert broadcast.state == Broadcast.State.COMPLETED
    assert broadcast.provider_report["delivery"]["delivered"] == 3


def test_a_ctr_broadcast_completes_once_it_has_expired(make_broadcast, sandbox, mw_account):
    from datetime import timedelta

    from django.utils import timezone

    sandbox.callbacks(delay_ms=0, statuses={"DELIVRD": 1.0})
    expires = timezone.now() + timedelta(seconds=2)
    broadcast = run_task(make_broadcast(type=Broadcast.Type.SMART, eb_type="CTR", first_segment_size=2,
                                        next_segment_size=1, conversion_threshold=50, exp_date=expires))
    deliver_everything(sandbox)
    assert broadcasts_refresh(account=mw_account) == 0  # nobody clicked yet: the next segment may still go
    time.sleep(max(0.0, (expires - timezone.now()).total_seconds()) + 0.05)
    assert broadcasts_refresh(account=mw_account) == 1
    broadcast.refresh_from_db()
    assert broadcast.state == Broadcast.State.COMPLETED


def test_a_trigger_broadcast_completes_after_its_trigger_fired(make_broadcast, sandbox, mw_account, mw):
    from campaigns.models import Trigger

    from .conftest import synced

    sandbox.callbacks(delay_ms=0, statuses={"DELIVRD": 1.0})
    remote = mw.trigger_create(name="Opened the app")
    trigger = synced(Trigger, mw_account, remote, name="Opened the app")
    broadcast = run_task(make_broadcast(trigger=trigger))
    sandbox.control("POST", "callbacks/drain")
    assert broadcasts_refresh(account=mw_account) == 0  # waiting for its trigger
    sandbox.control("POST", f"triggers/{remote['id']}/fire")
    deliver_everything(sandbox)
    assert broadcasts_refresh(account=mw_account) == 1
    broadcast.refresh_from_db()
    assert broadcast.state == Broadcast.State.COMPLETED
