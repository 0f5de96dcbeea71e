"""Broadcasts reach MessageWhiz exactly once, with the documented request body."""

import os
import signal
import threading
import time

import pytest
from django.db import connection, connections
from django.urls import reverse
from django.utils import timezone

from callbacks.models import CallbackEvent
from campaigns.models import Broadcast, Message
from campaigns.sending import (
    MAX_ATTEMPTS,
    SubmissionProblem,
    broadcast_submit,
    remote_name,
    remote_tag,
    submission_due_ids,
)
from campaigns.tasks import submit_broadcast, submit_due_broadcasts

S = Broadcast.State
ON_SQLITE = "sqlite" in os.environ.get("DATABASE_URL", "sqlite")


def submitted_body(sandbox):
    [request] = sandbox.requests(method="POST", path="^/api/3/Broadcast$")
    return request["json"]


def posts(sandbox):
    return sandbox.requests(method="POST", path="^/api/3/Broadcast$")


def wait_out_lease(broadcast):
    broadcast.refresh_from_db()
    time.sleep(max(0.0, (broadcast.submission_lease - timezone.now()).total_seconds()) + 0.05)


def run_task(broadcast, attempts=10):
    """Run the submit task as a worker would, then beat's sweep whenever the next attempt is due."""
    submit_broadcast.apply(args=[broadcast.pk], throw=True)
    for _ in range(attempts):
        broadcast.refresh_from_db()
        if broadcast.state != S.SUBMITTING:
            return broadcast
        wait_out_lease(broadcast)
        submit_due_broadcasts.apply(throw=True)
    raise AssertionError(f"still submitting after {attempts} attempts: {broadcast.last_error}")


@pytest.fixture
def short_timeouts(settings):
    """A request gives up after half a second, so a lease runs out in 1.5 s (waited for in real time)."""
    settings.MESSAGEWHIZ_CONNECT_TIMEOUT, settings.MESSAGEWHIZ_READ_TIMEOUT = 0.25, 0.5


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


def test_deleting_a_sent_broadcast_deletes_its_messages_only(make_broadcast, sandbox, audience):
    # The message table has no foreign-key constraints: the ORM's cascade is what removes them.
    kept, deleted = run_task(make_broadcast(name="Kept")), run_task(make_broadcast(name="Deleted"))
    assert Message.objects.filter(broadcast=deleted).count() == 3
    Broadcast.objects.filter(pk=deleted.pk).delete()
    assert not Message.objects.filter(broadcast_id=deleted.pk).exists()
    assert Message.objects.filter(broadcast=kept).count() == 3


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


def test_smart_manual_body_and_honest_counts(make_broadcast, sandbox):
    broadcast = run_task(make_broadcast(type=Broadcast.Type.SMART, eb_type="manual", first_segment_size=2))
    body = submitted_body(sandbox)
    assert (body["broadcast_type"], body["eb_type"], body["first_segment_size"]) == (12, "manual", 2)
    # MessageWhiz sends the first segment only: nobody counts as sent before a report says so.
    assert (broadcast.recipients_count, broadcast.sent) == (3, 0)
    assert set(Message.objects.filter(broadcast=broadcast).values_list("status", flat=True)) == {"queued"}
    [segment] = broadcast.segments.all()
    assert (segment.size, segment.remote_id) == (2, sandbox.state("segments")[0]["id"])


def test_a_broadcast_held_for_its_trigger_counts_nothing_as_sent(make_broadcast, sandbox, mw_account, mw):
    from campaigns.models import Trigger

    from .conftest import synced

    remote = mw.trigger_create(name="Opened the app")
    trigger = synced(Trigger, mw_account, remote, name="Opened the app")
    broadcast = run_task(make_broadcast(trigger=trigger, delay=5))
    assert submitted_body(sandbox)["trigger_id"] == remote["id"]
    assert (broadcast.state, broadcast.recipients_count, broadcast.sent) == (S.SUBMITTED, 3, 0)
    assert set(Message.objects.filter(broadcast=broadcast).values_list("status", flat=True)) == {"queued"}


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
    # The sandbox reads send_date as local time in utc_offset: with 180 it started at 04:00 UTC.
    assert body["utc_offset"] == 0
    assert sandbox.state("segments")[-1]["send_time"] == "2027-07-06 07:00:00"


def test_ctr_expiry_means_the_same_instant_however_messagewhiz_reads_it(make_broadcast, sandbox):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    kyiv = ZoneInfo("Europe/Kyiv")
    expires = datetime(2027, 7, 8, 18, 0, tzinfo=kyiv)
    run_task(make_broadcast(type=Broadcast.Type.SMART, eb_type="CTR", first_segment_size=2, next_segment_size=1,
                            conversion_threshold=50, exp_date=expires,
                            send_at=datetime(2027, 7, 6, 10, 0, tzinfo=kyiv), time_zone="Europe/Kyiv"))
    body = submitted_body(sandbox)
    assert (body["exp_date"], body["utc_offset"]) == ("2027-07-08 15:00:00", 0)
    assert sandbox.state("broadcasts")[-1]["expires_at"] == expires.timestamp()


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


def test_a_long_name_is_shortened_so_the_key_still_fits(make_broadcast, sandbox):
    broadcast = run_task(make_broadcast(name=("Spring sale " * 30)[:255]))
    assert broadcast.state == S.SUBMITTED, broadcast.last_error
    name = submitted_body(sandbox)["name"]
    assert len(name) <= 255
    assert name.startswith("Spring sale Spring") and name.endswith(f" [{remote_tag(broadcast)}]")


def test_timeout_after_the_request_left_never_makes_a_second_broadcast(make_broadcast, sandbox, short_timeouts):
    sandbox.faults(fail_next=[{"hang": 2, "apply": True}])
    broadcast = make_broadcast()
    submit_broadcast.apply(args=[broadcast.pk], throw=True)
    broadcast.refresh_from_db()
    assert broadcast.state == S.SUBMITTING
    assert "No answer from MessageWhiz" in broadcast.last_error
    assert submission_due_ids() == []  # not before the request can no longer be in flight

    broadcast = run_task(broadcast)
    assert broadcast.state == S.SUBMITTED
    assert len(sandbox.state("broadcasts")) == 1
    assert broadcast.remote_id == sandbox.state("broadcasts")[0]["id"]
    assert len(posts(sandbox)) == 1
    assert Message.objects.filter(broadcast=broadcast).count() == 3


def test_server_error_is_retried_after_checking(make_broadcast, sandbox, short_timeouts):
    sandbox.faults(fail_next=[{"status": 503}])
    broadcast = run_task(make_broadcast())
    assert broadcast.state == S.SUBMITTED
    assert len(sandbox.state("broadcasts")) == 1
    assert len(posts(sandbox)) == 2
    assert sandbox.requests(method="GET", path="^/api/3/Broadcast/List$")  # reconciled before re-sending
    assert broadcast.submission_attempts == 2


def test_a_second_run_of_the_task_changes_nothing(make_broadcast, sandbox):
    broadcast = run_task(make_broadcast())
    run_task(broadcast)
    assert len(sandbox.state("broadcasts")) == 1
    assert broadcast.events.count() == 2


@pytest.mark.django_db(transaction=True)
def test_a_second_task_while_the_first_waits_for_its_answer_sends_nothing(make_broadcast, sandbox, settings):
    """A double click on "confirm", or beat re-queueing for a backlogged worker."""
    settings.MESSAGEWHIZ_READ_TIMEOUT = 5
    sandbox.faults(fail_next=[{"hang": 1.5, "apply": True}])
    broadcast = make_broadcast()

    def second_task():
        try:
            wait_for(lambda: posts(sandbox))
            submit_broadcast(broadcast.pk)
        finally:
            connection.close()

    other = threading.Thread(target=second_task)
    other.start()
    submit_broadcast(broadcast.pk)
    other.join()
    broadcast.refresh_from_db()
    assert broadcast.state == S.SUBMITTED
    assert len(posts(sandbox)) == 1 and len(sandbox.state("broadcasts")) == 1
    assert sandbox.requests(method="GET", path="^/api/3/Broadcast/List$") == []  # it did not even look
    assert [e.to_state for e in broadcast.events.all()] == [S.SUBMITTING, S.SUBMITTED]


@pytest.mark.parametrize("created", [True, False], ids=["created-remotely", "never-created"])
def test_after_the_last_attempt_messagewhiz_is_asked_once_more(make_broadcast, sandbox, created):
    broadcast = make_broadcast()
    # Its attempts are used up; the last one's answer was lost.
    Broadcast.objects.filter(pk=broadcast.pk).update(state=S.SUBMITTING, submission_attempts=MAX_ATTEMPTS,
                                                     submission_lease=timezone.now(),
                                                     last_error="No answer from MessageWhiz")
    if created:
        sandbox.seed("broadcasts", [{"name": remote_name(broadcast)}])
    submit_due_broadcasts.apply(throw=True)
    broadcast.refresh_from_db()
    assert posts(sandbox) == []  # never sent again
    if created:
        assert (broadcast.state, broadcast.remote_id) == (S.SUBMITTED, sandbox.state("broadcasts")[0]["id"])
    else:
        assert broadcast.state == S.FAILED
        assert broadcast.last_error == (f"MessageWhiz did not confirm the broadcast after {MAX_ATTEMPTS} attempts "
                                        "(last: No answer from MessageWhiz)")


def test_a_check_that_cannot_reach_messagewhiz_waits_rather_than_fails(make_broadcast, sandbox, short_timeouts,
                                                                         settings):
    settings.MESSAGEWHIZ_MAX_RETRIES = 0
    sandbox.faults(fail_next=[{"hang": 2, "apply": True}])
    broadcast = make_broadcast()
    submit_broadcast.apply(args=[broadcast.pk], throw=True)
    wait_out_lease(broadcast)
    sandbox.faults(path="^/api/3/Broadcast/List", error_rate=1.0)
    submit_due_broadcasts.apply(throw=True)
    broadcast.refresh_from_db()
    assert broadcast.state == S.SUBMITTING
    assert "Could not ask MessageWhiz" in broadcast.last_error
    assert submission_due_ids() == []  # backing off

    sandbox.faults()
    broadcast = run_task(broadcast)
    assert broadcast.state == S.SUBMITTED and len(posts(sandbox)) == 1


def wait_for(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


class WorkerDied(BaseException):
    """Stands for the worker process being killed: nothing of ours catches it."""


@pytest.fixture
def die_when():
    """Kill the submission (in this process) once `condition` holds, e.g. while its request hangs."""
    main, previous = threading.main_thread().ident, signal.getsignal(signal.SIGUSR1)

    def die(*_):
        raise WorkerDied

    signal.signal(signal.SIGUSR1, die)

    def arm(condition):
        def watch():
            wait_for(condition)
            signal.pthread_kill(main, signal.SIGUSR1)

        threading.Thread(target=watch, daemon=True).start()

    yield arm
    signal.signal(signal.SIGUSR1, previous)


@pytest.mark.parametrize("reached", [True, False], ids=["created-remotely", "never-reached"])
def test_worker_killed_mid_request_is_recovered_by_the_sweep_once(make_broadcast, sandbox, settings, die_when,
                                                                   reached):
    # The lease (2.5 s) is waited for in real time; the request is killed long before its timeout.
    settings.MESSAGEWHIZ_CONNECT_TIMEOUT, settings.MESSAGEWHIZ_READ_TIMEOUT = 0.25, 1
    broadcast = make_broadcast()
    sandbox.faults(fail_next=[{"hang": 10, "apply": reached}])
    die_when(lambda: posts(sandbox))
    with pytest.raises(WorkerDied):
        submit_broadcast(broadcast.pk)
    broadcast.refresh_from_db()
    assert broadcast.state == S.SUBMITTING

    submit_broadcast(broadcast.pk)  # redelivered at once: the dead worker's request may be in flight
    assert len(posts(sandbox)) == 1
    assert sandbox.requests(method="GET", path="^/api/3/Broadcast/List$") == []
    assert submission_due_ids() == []

    wait_for(lambda: submission_due_ids() == [broadcast.pk])
    submit_due_broadcasts()  # beat's sweep
    broadcast.refresh_from_db()
    assert broadcast.state == S.SUBMITTED
    assert len(sandbox.state("broadcasts")) == 1
    assert broadcast.remote_id == sandbox.state("broadcasts")[0]["id"]
    assert len(posts(sandbox)) == (1 if reached else 2)
    assert Message.objects.filter(broadcast=broadcast).count() == 3


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(ON_SQLITE, reason="needs a database shared between processes (CI runs this on PostgreSQL)")
def test_worker_process_killed_mid_request_is_recovered_by_the_sweep_once(make_broadcast, sandbox, settings):
    settings.MESSAGEWHIZ_CONNECT_TIMEOUT, settings.MESSAGEWHIZ_READ_TIMEOUT = 0.25, 1
    broadcast = make_broadcast()
    sandbox.faults(fail_next=[{"hang": 10, "apply": True}])  # created remotely, answer held back
    connections.close_all()
    pid = os.fork()
    if pid == 0:  # the worker
        try:
            submit_broadcast.apply(args=[broadcast.pk])
        finally:
            os._exit(0)
    wait_for(lambda: sandbox.state("broadcasts"))
    os.kill(pid, signal.SIGKILL)  # the worker dies while waiting for the answer
    os.waitpid(pid, 0)
    broadcast.refresh_from_db()
    assert broadcast.state == S.SUBMITTING

    submit_broadcast(broadcast.pk)  # the broker redelivers the unacknowledged task at once: it waits
    assert sandbox.requests(method="GET", path="^/api/3/Broadcast/List$") == []
    wait_for(lambda: submission_due_ids() == [broadcast.pk])
    submit_due_broadcasts()
    broadcast.refresh_from_db()
    assert broadcast.state == S.SUBMITTED
    assert len(sandbox.state("broadcasts")) == 1 and len(posts(sandbox)) == 1
    assert broadcast.remote_id == sandbox.state("broadcasts")[0]["id"]


def test_reports_that_came_before_the_messages_are_applied_when_they_are_made(
        make_broadcast, sandbox, settings, client, mw_account, short_timeouts, django_capture_on_commit_callbacks):
    settings.REDIS_URL = settings.CALLBACK_REDIS_URL = ""  # callbacks stored and applied in the request
    sandbox.callbacks(delay_ms=0, statuses={"DELIVRD": 1.0})
    sandbox.faults(fail_next=[{"hang": 2, "apply": True}])  # MessageWhiz sends; its answer is lost
    broadcast = make_broadcast()
    submit_broadcast.apply(args=[broadcast.pk], throw=True)

    def delivered():
        sandbox.control("POST", "callbacks/drain")
        return [m for m in sandbox.state("messages") if m["state"] == 2]

    wait_for(lambda: len(delivered()) == 3)
    # Its "DLR to webhook" (the sandbox's fields) reaches us before we know the messages.
    dlrs = [{"segment_id": m["segment_id"], "_id": m["_id"], "broadcast_id": m["broadcast_id"],
             "recipient": m["recipient"], "price": m["price"], "task_state": m["state"]} for m in delivered()]
    url = reverse("callbacks:dlr_batch", kwargs={"token": mw_account.callback_token})
    assert client.post(url, {"dlrs": dlrs}, content_type="application/json").status_code == 200
    assert CallbackEvent.objects.filter(applied_at__isnull=True).exists()  # nothing to apply them to yet

    wait_out_lease(broadcast)
    with django_capture_on_commit_callbacks(execute=True):
        submit_due_broadcasts()  # finds it in MessageWhiz and makes the messages
    broadcast.refresh_from_db()
    assert broadcast.state == S.SUBMITTED
    assert (broadcast.sent, broadcast.delivered) == (3, 3)
    assert set(Message.objects.filter(broadcast=broadcast).values_list("status", flat=True)) == {"delivered"}
    assert not CallbackEvent.objects.filter(applied_at__isnull=True).exists()


def test_a_trigger_messagewhiz_keeps_disabled_is_refused_before_sending(make_broadcast, sandbox, mw_account, mw):
    from campaigns.models import Trigger
    from messaging.mirror import SyncState
    from messaging.sync.push import cannot_reenable

    remote_id = mw.trigger_create(name="Landed")["id"]
    trigger = Trigger.objects.create(account=mw_account, name="Landed", remote_id=remote_id,
                                     sync_state=SyncState.FAILED, sync_error=cannot_reenable("trigger"))
    broadcast = make_broadcast(trigger=trigger)
    with pytest.raises(SubmissionProblem, match="Trigger “Landed” is disabled in MessageWhiz"):
        broadcast_submit(broadcast)
    assert posts(sandbox) == []
