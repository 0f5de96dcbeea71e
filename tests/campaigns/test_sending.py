"""Broadcasts reach MessageWhiz exactly once, with the documented request body."""

import pytest

from campaigns.models import Broadcast, Message
from campaigns.sending import SubmissionProblem, broadcast_submit, remote_tag
from campaigns.tasks import submit_broadcast
from tests.conftest import run_like_a_worker

S = Broadcast.State


def submitted_body(sandbox):
    [request] = sandbox.requests(method="POST", path="^/api/3/Broadcast$")
    return request["json"]


def run_task(broadcast, attempts=10):
    """Run the submit task as a worker would, including its retries."""
    run_like_a_worker(lambda: submit_broadcast.apply(args=[broadcast.pk], throw=True), attempts)
    broadcast.refresh_from_db()
    return broadcast


def test_base_broadcast_exact_body_and_messages(make_broadcast, sandbox, audience):
    broadcast = run_task(make_broadcast())
    assert broadcast.state == S.SUBMITTED, broadcast.last_error
    body = submitted_body(sandbox)
    assert body == {
        "name": f"Autumn sale [{remote_tag(broadcast)}]",
        "campaign_id": audience["campaign"].remote_id,
        "broadcast_type": 11,
        "sender_ids": str(audience["sender"].remote_id),
        "recipient_list_ids": str(audience["list"].remote_id),
        "message_body": "Hi {{first_name}}, 20% off today",
        "utc_offset": 0,
    }
    assert broadcast.remote_id == sandbox.state("broadcasts")[0]["id"]
    assert sorted(Message.objects.filter(broadcast=broadcast).values_list("phone", flat=True)) == audience["numbers"]
    assert broadcast.recipients_count == 3
    assert [e.to_state for e in broadcast.events.all()] == [S.SUBMITTING, S.SUBMITTED]


def test_unsubscribed_numbers_get_no_message(make_broadcast, sandbox, unsubscribed):
    broadcast = make_broadcast()
    broadcast.unsubscribe_lists.set([unsubscribed])
    broadcast = run_task(broadcast)
    assert submitted_body(sandbox)["unsubscriber_list_ids"] == str(unsubscribed.remote_id)
    assert "380501234569" not in set(Message.objects.filter(broadcast=broadcast).values_list("phone", flat=True))
    assert broadcast.recipients_count == 2


def test_single_message_body(make_broadcast, sandbox, audience):
    broadcast = run_task(make_broadcast(type=Broadcast.Type.SINGLE, recipient="380501234567",
                                        custom_parameter="order-42"))
    body = submitted_body(sandbox)
    assert body["broadcast_type"] == 10
    assert body["recipient"] == "380501234567"
    assert body["sender_id"] == audience["sender"].remote_id
    assert body["custom_parameter"] == "order-42"
    assert broadcast.state == S.SUBMITTED


def test_smart_manual_body(make_broadcast, sandbox):
    run_task(make_broadcast(type=Broadcast.Type.SMART, eb_type="manual", first_segment_size=2))
    body = submitted_body(sandbox)
    assert (body["broadcast_type"], body["eb_type"], body["first_segment_size"]) == (12, "manual", 2)


def test_smart_ctr_body(make_broadcast, sandbox):
    from datetime import UTC, datetime

    run_task(make_broadcast(type=Broadcast.Type.SMART, eb_type="CTR", first_segment_size=2, next_segment_size=1,
                            conversion_threshold=50, exp_date=datetime(2027, 1, 1, 12, tzinfo=UTC)))
    body = submitted_body(sandbox)
    assert body["eb_type"] == "CTR"
    assert body["recipient_cap"] == "no limit"
    assert body["conversion_threshold"] == 50
    assert body["exp_date"].startswith("2027-01-01")


def test_scheduled_send_converts_local_time_to_send_date_and_offset(make_broadcast, sandbox):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    kyiv = ZoneInfo("Europe/Kyiv")
    broadcast = make_broadcast(send_at=datetime(2027, 7, 6, 10, 0, tzinfo=kyiv), time_zone="Europe/Kyiv")
    run_task(broadcast)
    body = submitted_body(sandbox)
    assert body["send_date"] == "2027-07-06T07:00:00.000Z"  # 10:00 in Kyiv in summer is UTC+3
    assert body["utc_offset"] == 180


def test_missing_pieces_are_reported_and_nothing_is_sent(make_broadcast, sandbox, audience):
    audience["sender"].remote_id = None
    audience["sender"].save()
    broadcast = make_broadcast()
    with pytest.raises(SubmissionProblem, match="ShopCo"):
        broadcast_submit(broadcast)
    broadcast.refresh_from_db()
    assert broadcast.state == S.DRAFT
    assert "not in MessageWhiz yet" in broadcast.last_error
    assert sandbox.requests(method="POST", path="^/api/3/Broadcast") == []


def test_refusal_fails_the_broadcast_with_the_reason(make_broadcast, sandbox, audience):
    audience["campaign"].remote_id = 999999
    audience["campaign"].save()
    broadcast = run_task(make_broadcast())
    assert broadcast.state == S.FAILED
    assert broadcast.last_error


def test_timeout_after_the_request_left_never_makes_a_second_broadcast(make_broadcast, sandbox, settings):
    settings.MESSAGEWHIZ_READ_TIMEOUT = 0.5
    sandbox.faults(fail_next=[{"hang": 2, "apply": True}])
    broadcast = run_task(make_broadcast())
    assert broadcast.state == S.SUBMITTED
    assert len(sandbox.state("broadcasts")) == 1
    assert broadcast.remote_id == sandbox.state("broadcasts")[0]["id"]
    assert len(sandbox.requests(method="POST", path="^/api/3/Broadcast$")) == 1
    assert Message.objects.filter(broadcast=broadcast).count() == 3


def test_server_error_is_retried_after_checking(make_broadcast, sandbox):
    sandbox.faults(fail_next=[{"status": 503}])
    broadcast = run_task(make_broadcast())
    assert broadcast.state == S.SUBMITTED
    assert len(sandbox.state("broadcasts")) == 1
    assert sandbox.requests(method="GET", path="^/api/3/Broadcast/List$")  # reconciled before re-sending


def test_a_second_run_of_the_task_changes_nothing(make_broadcast, sandbox):
    broadcast = run_task(make_broadcast())
    run_task(broadcast)
    assert len(sandbox.state("broadcasts")) == 1
    assert broadcast.events.count() == 2


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif("sqlite" in __import__("os").environ.get("DATABASE_URL", "sqlite"),
                    reason="needs a database shared between processes (CI runs this on PostgreSQL)")
def test_worker_killed_mid_submission_never_makes_a_second_broadcast(make_broadcast, sandbox):
    import os
    import signal
    import time

    from django.db import connections

    broadcast = make_broadcast()
    sandbox.faults(fail_next=[{"hang": 10, "apply": True}])  # created remotely, answer held back
    connections.close_all()
    pid = os.fork()
    if pid == 0:  # the worker
        try:
            submit_broadcast.apply(args=[broadcast.pk])
        finally:
            os._exit(0)
    deadline = time.monotonic() + 10
    while not sandbox.state("broadcasts") and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)  # the worker dies while waiting for the answer
    os.waitpid(pid, 0)
    broadcast.refresh_from_db()
    assert broadcast.state == S.SUBMITTING

    broadcast = run_task(broadcast)  # the broker redelivers the unacknowledged task
    assert broadcast.state == S.SUBMITTED
    assert len(sandbox.state("broadcasts")) == 1
    assert broadcast.remote_id == sandbox.state("broadcasts")[0]["id"]
