"""The dispatch engine against the provider stand-in: rate cap, retries, failures, crash and restart,
pause/resume/cancel. Timings are measured at the stub, loosely (this is not a benchmark)."""

import os
import threading
import time
import uuid
from bisect import bisect_right
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.db import OperationalError, connection
from django.utils import timezone

from campaigns import dispatch
from campaigns.models import Broadcast, Message
from campaigns.tasks import dispatch_broadcast, dispatch_sweep, submit_broadcast
from messaging.providers.generic.aio import AsyncSender
from messaging.providers.generic.request import Record, RequestTemplate
from tests.conftest import free_port
from tests.providers.stub import DEFAULT, DROP, send_all

pytestmark = pytest.mark.django_db(transaction=True)


def refs_at_stub(stub) -> Counter:
    return Counter(r.json()["ref"] for r in stub.requests)


def statuses(broadcast) -> Counter:
    return Counter(Message.objects.filter(broadcast=broadcast).values_list("status", flat=True))


def test_rate_cap_is_honoured(stub, make_account, make_broadcast):
    account = make_account(rate_limit=40, max_concurrency=50)
    broadcast, _ = make_broadcast(account, 90)
    submit_broadcast(broadcast.pk)
    times = sorted(r.at for r in stub.requests)
    assert len(times) == 90
    assert busiest_second(times) <= 42  # 40 per second, +1 at the window's edge, +1 for scheduling slack
    assert times[-1] - times[0] >= 89 / 40 * 0.95


def busiest_second(times) -> int:
    times = sorted(times)
    return max(bisect_right(times, t + 1 - 1e-9) - i for i, t in enumerate(times))


@pytest.mark.parametrize("book", ["redis", "file"])
def test_rate_cap_is_shared_by_every_worker_sending_for_the_account(stub, make_account, settings, book):
    """Two workers, each with its own sender and event loop, dispatching for the same account."""
    if book == "redis" and not os.environ.get("REDIS_URL"):
        pytest.skip("REDIS_URL is not set")
    settings.REDIS_URL = os.environ["REDIS_URL"] if book == "redis" else ""
    account = make_account(rate_limit=40, max_concurrency=50)
    template = RequestTemplate(account.generic)
    senders = [AsyncSender(account.generic) for _ in range(2)]
    try:
        with ThreadPoolExecutor(2) as workers:
            answers = workers.map(lambda sender: send_all(
                sender, [(i, template.single(Record(f"38050{i:07d}", "Hi", str(uuid.uuid4()))), 1) for i in range(45)],
                timeout=30), senders)
            assert [outcome.kind for outcomes in answers for outcome in outcomes.values()] == ["sent"] * 90
    finally:
        for sender in senders:
            sender.close()
    assert len(stub.times) == 90
    assert busiest_second(stub.times) <= 42  # the account's 40 per second, not 40 per worker
    assert max(stub.times) - min(stub.times) >= 89 / 40 * 0.95


def test_concurrency_is_bounded(stub, make_account, make_broadcast):
    stub.latency = 0.05
    account = make_account(max_concurrency=30)
    broadcast, _ = make_broadcast(account, 200)
    submit_broadcast(broadcast.pk)
    assert len(stub.requests) == 200
    assert 15 <= stub.peak_in_flight <= 30


def test_transient_errors_are_retried_then_sent_once(stub, make_account, make_broadcast):
    account = make_account()
    broadcast, _ = make_broadcast(account, 5)
    stub.script = [(503, {}, "down"), (429, {"Retry-After": "0"}, "slow down"), (500, {}, "oops")]
    submit_broadcast(broadcast.pk)
    broadcast.refresh_from_db()
    assert len(stub.requests) == 8
    ok = Counter(r.json()["ref"] for r in stub.requests[3:])
    assert len(ok) == 5
    assert statuses(broadcast) == {"submitted": 5}
    assert broadcast.sent == 5 and broadcast.failed == 0


def test_permanent_failure_is_recorded_with_the_providers_answer(stub, make_account, make_broadcast):
    account = make_account()
    broadcast, phones = make_broadcast(account, 4)
    stub.responder = lambda r: (400, {}, '{"error": "invalid number"}') if r.json()["to"] == phones[1] else None
    submit_broadcast(broadcast.pk)
    broadcast.refresh_from_db()
    failed = Message.objects.get(broadcast=broadcast, phone=phones[1])
    assert failed.status == "failed" and "invalid number" in failed.error and "400" in failed.error
    assert len(stub.requests) == 4  # a 4xx is not retried
    assert (broadcast.sent, broadcast.failed) == (4, 1)


def test_retries_give_up_after_the_last_attempt(stub, make_account, make_broadcast):
    account = make_account()
    broadcast, _ = make_broadcast(account, 1)
    stub.default = (502, {}, "bad gateway")
    submit_broadcast(broadcast.pk)
    broadcast.refresh_from_db()
    assert len(stub.requests) == 5
    assert statuses(broadcast) == {"failed": 1}
    assert broadcast.failed == 1


def test_lost_answer_is_not_resent_unless_the_provider_dedupes(stub, make_account, make_broadcast):
    account = make_account()
    broadcast, phones = make_broadcast(account, 3)
    stub.responder = lambda r: DROP if r.json()["to"] == phones[0] else None
    submit_broadcast(broadcast.pk)
    broadcast.refresh_from_db()
    assert len(stub.requests) == 3
    lost = Message.objects.get(broadcast=broadcast, phone=phones[0])
    assert lost.status == "unknown" and lost.error == dispatch.AMBIGUOUS_NOTE
    assert (broadcast.sent, broadcast.unknown) == (3, 1)

    stub.reset()
    deduping = make_account(name="Deduping", dedupes_message_id=True)
    broadcast, phones = make_broadcast(deduping, 2)
    dropped = []
    stub.responder = lambda r: (dropped.append(1) or DROP) if r.json()["to"] == phones[0] and not dropped else None
    submit_broadcast(broadcast.pk)
    assert statuses(broadcast) == {"submitted": 2}
    assert refs_at_stub(stub).most_common(1)[0][1] == 2  # the provider got it twice and dedupes by id


def test_a_short_outage_delays_messages_and_fails_none(stub, make_account, make_broadcast):
    """The provider answers 503 for two seconds: longer than a message's quick retries last. The
    messages wait (claims given back, one probe at a time) and all go out once it is back."""
    account = make_account()
    broadcast, _ = make_broadcast(account, 20)
    back_at = time.time() + 2
    taken = Counter()

    def provider(request):
        if time.time() < back_at:
            return 503, {"Retry-After": "0"}, "down for maintenance"
        taken[request.json()["ref"]] += 1
        return None

    stub.responder = provider
    submit_broadcast(broadcast.pk)
    broadcast.refresh_from_db()
    assert statuses(broadcast) == {"submitted": 20} and broadcast.failed == 0
    assert len(taken) == 20 and max(taken.values()) == 1
    refused = len(stub.requests) - 20
    assert refused <= 20 * 5 + 5 * 5  # the first wave's quick retries, then single probes
    assert broadcast.state == Broadcast.State.COMPLETED and broadcast.last_error == ""


def test_a_long_outage_pauses_the_broadcast_with_the_reason(admin_client, stub, make_account, make_broadcast,
                                                            settings):
    settings.DISPATCH_OUTAGE_SECONDS = 1.5
    stub.default = (503, {"Retry-After": "0"}, "down for maintenance")
    account = make_account()
    broadcast, _ = make_broadcast(account, 10)
    submit_broadcast(broadcast.pk)
    broadcast.refresh_from_db()
    assert broadcast.dispatch_state == "paused" and "down for maintenance" in broadcast.last_error
    assert statuses(broadcast) == {"queued": 10} and broadcast.failed == 0
    assert not Message.objects.filter(broadcast=broadcast, submitted_at__isnull=False).exists()
    page = admin_client.get(f"/broadcasts/{broadcast.pk}/sending/").content.decode()
    assert "down for maintenance" in page and 'value="resume"' in page

    stub.default = DEFAULT
    assert dispatch.dispatch_resume(broadcast)
    broadcast.refresh_from_db()
    assert statuses(broadcast) == {"submitted": 10} and broadcast.last_error == ""


def test_an_unreachable_provider_pauses_the_broadcast_and_fails_nothing(make_account, make_broadcast, settings):
    settings.DISPATCH_OUTAGE_SECONDS = 1
    account = make_account(endpoint=f"http://127.0.0.1:{free_port()}/sms")  # nothing listens there
    broadcast, _ = make_broadcast(account, 5)
    submit_broadcast(broadcast.pk)
    broadcast.refresh_from_db()
    assert broadcast.dispatch_state == "paused" and "Could not reach the provider" in broadcast.last_error
    assert statuses(broadcast) == {"queued": 5} and broadcast.failed == 0


def test_a_gateway_timeout_is_not_resent_unless_the_provider_dedupes(stub, make_account, make_broadcast):
    stub.script = [(504, {}, "gateway timeout")]
    broadcast, _ = make_broadcast(make_account(), 1)
    submit_broadcast(broadcast.pk)
    assert statuses(broadcast) == {"unknown": 1} and len(stub.requests) == 1

    stub.reset()
    stub.script = [(504, {}, "gateway timeout")]
    broadcast, _ = make_broadcast(make_account(name="Deduping", dedupes_message_id=True), 1)
    submit_broadcast(broadcast.pk)
    assert statuses(broadcast) == {"submitted": 1} and len(stub.requests) == 2


def test_a_long_retry_after_hands_over_instead_of_outliving_the_run(stub, make_account, make_broadcast, settings):
    """Retry-After: 30 near the end of a run: the message goes back and the next run sends it,
    rather than the task waiting into its time limit (which would look like a crash)."""
    settings.DISPATCH_RUN_SECONDS = 2
    stub.script = [(429, {"Retry-After": "30"}, "slow down")]
    broadcast, _ = make_broadcast(make_account(), 1)
    started = time.monotonic()
    submit_broadcast(broadcast.pk)  # eager: the next run starts at once instead of after 30 s
    assert time.monotonic() - started < 10
    assert statuses(broadcast) == {"submitted": 1} and len(stub.requests) == 2


def test_batches_keep_to_the_rate_cap(stub, make_account, make_broadcast):
    account = make_account(rate_limit=40, max_concurrency=50, batch_enabled=True, batch_size=1000,
                           batch_record_template='{"to": "$$To", "ref": "$$MessageID"}',
                           batch_envelope='{"messages": "$$Records"}')
    broadcast, _ = make_broadcast(account, 90)
    submit_broadcast(broadcast.pk)
    times = sorted(r.at for r in stub.requests for _ in r.json()["messages"])
    assert len(times) == 90 and statuses(broadcast) == {"submitted": 90}
    assert busiest_second(times) <= 42  # 40 per second, +5%
    assert times[-1] - times[0] >= 88 / 40 * 0.95


class Crash(BaseException):
    """Stands for the worker process dying: nothing of ours catches it."""


@pytest.fixture
def crash_after(stub, settings):
    """`crash_after(n)`: the sending worker dies once the stub has seen n requests, at its next
    database statement, as a process killed there would: its open transaction rolls back, what it
    had not recorded is lost, and it runs nothing more (no lease released) until the returned
    `restart()` stands for a new worker. (A signal landing inside a statement would leave the
    database connection mid-command, which a dead process never has to clean up.)"""
    settings.DISPATCH_CHUNK = 20
    settings.DISPATCH_LEASE_SECONDS = 1
    dead = threading.Event()

    def die_when_dead(execute, sql, params, many, context):
        if dead.is_set():
            raise Crash
        return execute(sql, params, many, context)

    def arm(n: int):
        seen = [0]

        def arrive(request):
            seen[0] += 1
            if seen[0] == n:
                dead.set()

        stub.on_request = arrive

        def restart():
            stub.on_request = None
            dead.clear()

        return restart

    with connection.execute_wrapper(die_when_dead):
        yield arm


def test_crash_and_restart_sends_nothing_twice_and_loses_nothing(stub, make_account, make_broadcast, crash_after):
    stub.latency = 0.02
    account = make_account(max_concurrency=6)  # far fewer on the wire than claimed ahead (chunks of 20)
    broadcast, _ = make_broadcast(account, 120)
    restart = crash_after(40)
    with pytest.raises(Crash):
        submit_broadcast(broadcast.pk)
    restart()
    reached_before = set(refs_at_stub(stub))
    at_crash = dict(Message.objects.filter(broadcast=broadcast).values_list("client_ref", "status"))
    in_flight = {str(ref) for ref, status in at_crash.items() if status == "sending"}
    assert Counter(at_crash.values())["queued"] > 0  # it died mid-way
    assert Message.objects.filter(broadcast=broadcast, status="queued", submitted_at__isnull=False).exists()

    assert dispatch_broadcast(broadcast.pk) == "busy"  # redelivered at once: the dead worker's lease holds
    assert dispatch.dispatch_stalled_ids() == []
    time.sleep(1.1)  # the lease runs out; the sweep restarts the broadcast
    assert dispatch.dispatch_stalled_ids() == [broadcast.pk]
    dispatch_sweep()

    broadcast.refresh_from_db()
    received = refs_at_stub(stub)
    assert max(received.values()) == 1  # nothing sent twice
    messages = {str(ref): (status, error) for ref, status, error in
                Message.objects.filter(broadcast=broadcast).values_list("client_ref", "status", "error")}
    unknown = {ref for ref, (status, _) in messages.items() if status == "unknown"}
    # Only what was on its way when the worker died is left to reconcile, flagged, never resent:
    # the requests on the wire and at most the two small batches marked just before going out.
    assert unknown == in_flight and all(messages[ref][1] == dispatch.RECONCILE_NOTE for ref in unknown)
    # Of those, the ones the provider had not seen yet: at most the two small batches marked just
    # before going out and the requests still travelling (how many answers came back but were not
    # recorded yet depends on how busy the machine is, so the total is not bounded here).
    assert unknown and len(unknown - reached_before) <= 2 * 3 + 6
    # Everything else reached the provider exactly once, the claimed-but-unsent ones after the restart.
    assert all(status == "submitted" and received[ref] == 1 for ref, (status, _) in messages.items()
               if ref not in unknown)
    assert set(messages) - unknown - reached_before <= set(received)
    assert broadcast.state == Broadcast.State.COMPLETED
    assert (broadcast.sent, broadcast.unknown) == (120, len(unknown))


def test_messages_waiting_for_the_rate_cap_are_not_unknown_after_a_crash(stub, make_account, make_broadcast,
                                                                          crash_after):
    """Under a rate cap most claimed messages wait for their turn: a crash must give those back
    to be sent, not leave them "unknown" (only what was on its way to the socket may be)."""
    stub.latency = 0.01
    account = make_account(rate_limit=50, max_concurrency=20)  # hand-over batches of 10, 20 ahead of the wire
    broadcast, _ = make_broadcast(account, 60)
    restart = crash_after(15)
    with pytest.raises(Crash):
        submit_broadcast(broadcast.pk)
    restart()
    reached_before = set(refs_at_stub(stub))
    sending = {str(ref) for ref in Message.objects.filter(broadcast=broadcast, status="sending")
               .values_list("client_ref", flat=True)}
    assert len(sending - reached_before) <= 1  # at most one between its go and the socket
    time.sleep(1.1)
    dispatch_sweep()
    received = refs_at_stub(stub)
    unknown = {str(ref) for ref in Message.objects.filter(broadcast=broadcast, status="unknown")
               .values_list("client_ref", flat=True)}
    assert unknown == sending and max(received.values()) == 1
    assert statuses(broadcast)["submitted"] == 60 - len(unknown) and len(received) >= 60 - 1


def test_crash_with_a_deduplicating_provider_resends_the_unconfirmed(stub, make_account, make_broadcast, crash_after):
    stub.latency = 0.01
    account = make_account(max_concurrency=30, dedupes_message_id=True)
    broadcast, _ = make_broadcast(account, 100)
    restart = crash_after(50)
    with pytest.raises(Crash):
        submit_broadcast(broadcast.pk)
    restart()
    time.sleep(1.1)
    dispatch_broadcast(broadcast.pk)
    broadcast.refresh_from_db()
    assert statuses(broadcast) == {"submitted": 100}
    assert set(refs_at_stub(stub)) == {str(r) for r in Message.objects.filter(broadcast=broadcast)
                                        .values_list("client_ref", flat=True)}
    assert broadcast.sent == 100


def test_a_second_worker_does_not_send_while_the_first_holds_the_lease(stub, make_account, make_broadcast, settings):
    account = make_account()
    broadcast, _ = make_broadcast(account, 3, dispatch_state="paused")
    Broadcast.objects.filter(pk=broadcast.pk).update(state="submitted", dispatch_state="running")
    assert dispatch._Lease.take(broadcast.pk)
    assert dispatch_broadcast(broadcast.pk) == "busy"
    assert stub.requests == []


def test_a_stalled_worker_can_neither_send_nor_free_the_lease_of_the_worker_that_took_over(stub, make_account,
                                                                                          make_broadcast):
    account = make_account()
    broadcast, _ = make_broadcast(account, 3, dispatch_state="paused")
    dispatch._messages_create_queued(broadcast)
    Broadcast.objects.filter(pk=broadcast.pk).update(state="submitted", dispatch_state="running", recipients_count=3)
    stalled = dispatch._Lease.take(broadcast.pk)
    Broadcast.objects.filter(pk=broadcast.pk).update(dispatch_lease=timezone.now() - timedelta(seconds=1))
    current = dispatch._Lease.take(broadcast.pk)
    assert current is not None

    assert not stalled.renew()
    stalled.release()
    assert dispatch_broadcast(broadcast.pk) == "busy"  # still held by the worker that took over
    assert dispatch._claim(broadcast.pk, 10, stalled) == []  # and the stalled one can claim nothing
    assert stub.requests == []

    current.release()
    assert dispatch_broadcast(broadcast.pk) == "done" and len(stub.requests) == 3


def test_a_worker_whose_lease_is_taken_over_stops_sending_at_once(stub, make_account, make_broadcast, settings):
    settings.DISPATCH_CHUNK = 10
    stub.latency = 0.01
    account = make_account(max_concurrency=4)
    broadcast, _ = make_broadcast(account, 200)
    # Another worker takes the broadcast over while this one sends (its lease had run out).
    stub.on_request = lambda r: in_thread(lambda: Broadcast.objects.filter(pk=broadcast.pk).update(
        dispatch_owner="another-worker")) if len(stub.requests) == 10 else None
    submit_broadcast(broadcast.pk)
    assert 10 <= len(stub.requests) <= 10 + 4 + 2 * 2  # what was on its way, nothing more
    broadcast.refresh_from_db()
    assert broadcast.dispatch_owner == "another-worker" and broadcast.dispatch_lease is not None
    assert statuses(broadcast)["queued"] >= 180


@pytest.mark.parametrize("batch", [False, True], ids=["one-per-request", "batched"])
def test_a_report_for_a_claimed_message_leaves_it_unsent_and_the_rest_goes_out(client, stub, make_account,
                                                                               make_broadcast, settings, batch):
    """A deduplicating provider's late report for a message reconciliation queued again arrives
    while the message waits in the sender's backlog: it is not sent again, nor is anything else
    held up (its batch-mates go in a request of their own)."""
    settings.REDIS_URL = settings.CALLBACK_REDIS_URL = ""  # the report is applied as it arrives
    stub.latency = 0.05
    batching = {"batch_enabled": True, "batch_size": 3, "batch_envelope": '{"messages": "$$Records"}',
                "batch_record_template": '{"to": "$$To", "ref": "$$MessageID"}'} if batch else {}
    account = make_account(max_concurrency=2, dedupes_message_id=True, dlr_enabled=True, dlr_ref_field="ref",
                           dlr_status_field="state", dlr_status_map={"DELIVRD": "delivered"}, **batching)
    broadcast, _ = make_broadcast(account, 12)
    reported = []

    def report():
        waiting = Message.objects.filter(broadcast=broadcast, status="queued", submitted_at__isnull=False)
        message = waiting.order_by("-pk").first()  # the last one claimed: far from going out yet
        if message is None:  # nothing claimed is waiting yet: report on a later request
            return
        response = client.post(f"/providers/cb/{account.callback_token}/dlr/", content_type="application/json",
                               data={"ref": str(message.client_ref), "state": "DELIVRD"})
        if response.status_code == 503:  # SQLite's shared in-memory test database: "table is locked"
            raise OperationalError(response.content)
        reported.append(str(message.client_ref))

    stub.on_request = lambda r: in_thread(report) if not reported else None
    submit_broadcast(broadcast.pk)

    broadcast.refresh_from_db()
    [late] = reported
    received = Counter(m["ref"] for r in stub.requests for m in (r.json()["messages"] if batch else [r.json()]))
    refs = {str(ref) for ref in Message.objects.filter(broadcast=broadcast).values_list("client_ref", flat=True)}
    assert set(received) == refs - {late} and max(received.values()) == 1
    assert statuses(broadcast) == {"submitted": 11, "delivered": 1}
    # All sent, 11 reports still to come: not completed yet.
    assert (broadcast.state, broadcast.dispatch_state) == (Broadcast.State.SUBMITTED, "done")
    assert broadcast.dispatch_lease is None
    assert (broadcast.sent, broadcast.delivered) == (12, 1)


def in_thread(action):
    """Run `action` as another request would: in its own thread, with its own connection."""

    def run():
        try:
            for _ in range(100):
                try:
                    return action()
                except OperationalError:  # SQLite's shared in-memory test database: "table is locked"
                    time.sleep(0.01)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()


def test_pause_resume_cancel(stub, make_account, make_broadcast, settings):
    settings.DISPATCH_CHUNK = 10
    stub.latency = 0.05  # two at a time: 50 messages take over a second, however busy the machine is
    account = make_account(max_concurrency=2)
    broadcast, _ = make_broadcast(account, 50)
    # Pause while it sends, as a user clicking Pause would.
    stub.on_request = lambda r: in_thread(lambda: dispatch.dispatch_pause(broadcast)) if len(stub.requests) == 5 \
        else None
    submit_broadcast(broadcast.pk)
    broadcast.refresh_from_db()
    assert broadcast.dispatch_state == "paused" and broadcast.state == "submitted"
    sent_while_running = len(stub.requests)
    assert 5 <= sent_while_running < 50
    progress = dispatch.dispatch_progress(broadcast)
    assert progress["sent"] == sent_while_running and progress["queued"] == 50 - sent_while_running

    stub.on_request = lambda r: in_thread(lambda: dispatch.dispatch_cancel(broadcast)) \
        if len(stub.requests) == sent_while_running + 3 else None
    assert dispatch.dispatch_resume(broadcast)
    broadcast.refresh_from_db()
    assert broadcast.dispatch_state == "cancelled" and broadcast.state == "completed"
    assert len(stub.requests) < 50
    assert statuses(broadcast)["queued"] == 50 - len(stub.requests)
    assert max(refs_at_stub(stub).values()) == 1


def test_a_pause_sends_nothing_of_the_claim_the_sender_holds(stub, make_account, make_broadcast):
    """Without a rate cap the sender holds a whole claim ahead; a pause lets out only the requests
    already on their way (two connections: the one being answered and the next), not the rest."""
    account = make_account(max_concurrency=2)
    broadcast, _ = make_broadcast(account, 50)
    stub.on_request = lambda r: in_thread(lambda: dispatch.dispatch_pause(broadcast)) if len(stub.requests) == 5 \
        else None
    submit_broadcast(broadcast.pk)
    broadcast.refresh_from_db()
    assert broadcast.dispatch_state == "paused"
    assert 5 <= len(stub.requests) <= 6
    assert statuses(broadcast) == {"submitted": len(stub.requests), "queued": 50 - len(stub.requests)}
    assert not Message.objects.filter(broadcast=broadcast, status="queued", submitted_at__isnull=False).exists()

    stub.on_request = None
    assert dispatch.dispatch_resume(broadcast)
    broadcast.refresh_from_db()
    assert broadcast.state == "completed" and broadcast.sent == 50
    assert sorted(refs_at_stub(stub).values()) == [1] * 50


def test_the_go_comes_from_its_own_thread_on_postgresql_only_outside_a_transaction(stub, make_account,
                                                                                 make_broadcast, monkeypatch):
    """PostgreSQL: admitted requests are marked SENDING by the starter thread (its own connection),
    so they never wait for the claims and records; elsewhere, by the run's own thread. Either way
    every message is sent once and recorded."""
    marked_by = []
    start = dispatch._start
    monkeypatch.setattr(dispatch, "_start", lambda *args: marked_by.append(threading.current_thread().name)
                        or start(*args))
    account = make_account(max_concurrency=10)
    broadcast, _ = make_broadcast(account, 60)
    submit_broadcast(broadcast.pk)
    expected = {"dispatch-start"} if connection.vendor == "postgresql" else {threading.current_thread().name}
    assert set(marked_by) == expected
    assert statuses(broadcast) == {"submitted": 60}
    assert sorted(refs_at_stub(stub).values()) == [1] * 60
