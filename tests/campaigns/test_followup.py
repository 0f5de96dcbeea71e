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
