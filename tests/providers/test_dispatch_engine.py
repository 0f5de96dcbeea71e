"""The dispatch engine against the provider stand-in: rate cap, retries, failures, crash and restart,
pause/resume/cancel. Timings are measured at the stub, loosely (this is not a benchmark)."""

import os
import signal
import threading
import time
import uuid
from bisect import bisect_right
from collections import Counter

import pytest
from django.db import OperationalError, connection

from campaigns import dispatch
from campaigns.models import Broadcast, Message
from campaigns.tasks import dispatch_broadcast, dispatch_sweep, submit_broadcast
from messaging.providers.generic.aio import AsyncSender
from messaging.providers.generic.request import Record, RequestTemplate
from tests.providers.stub import DROP

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
        futures = [sender.submit((f"{n}-{i}", template.single(Record(f"38050{i:07d}", "Hi", str(uuid.uuid4()))), 1)
                                 for i in range(45)) for n, sender in enumerate(senders)]
        assert all(outcome.kind == "sent" for future in futures for outcome in future.result(timeout=30).values())
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


class Crash(BaseException):
    """Stands for the worker process dying: nothing of ours catches it."""


@pytest.fixture
def crash_after(stub, settings):
    settings.DISPATCH_CHUNK = 20
    settings.DISPATCH_LEASE_SECONDS = 1
    main = threading.main_thread().ident
    previous = signal.getsignal(signal.SIGUSR1)

    def die(*_):
        raise Crash

    signal.signal(signal.SIGUSR1, die)

    def arm(n: int):
        seen = [0]

        def arrive(request):
            seen[0] += 1
            if seen[0] == n:
                signal.pthread_kill(main, signal.SIGUSR1)

        stub.on_request = arrive

    yield arm
    signal.signal(signal.SIGUSR1, previous)


def test_crash_and_restart_sends_nothing_twice_and_loses_nothing(stub, make_account, make_broadcast, crash_after):
    stub.latency = 0.01
    account = make_account(max_concurrency=30)
    broadcast, _ = make_broadcast(account, 100)
    crash_after(50)
    with pytest.raises(Crash):
        submit_broadcast(broadcast.pk)
    stub.on_request = None
    before = statuses(broadcast)
    assert before["queued"] > 0  # it died mid-way

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
    after = Counter(status for status, _ in messages.values())
    assert set(after) <= {"submitted", "unknown"} and sum(after.values()) == 100  # none lost
    # Sent and confirmed: the provider has each exactly once.
    assert all(received[ref] == 1 for ref, (status, _) in messages.items() if status == "submitted")
    # Claimed by the dead worker, outcome unknown: flagged for reconciliation, not resent blindly.
    unknown = [ref for ref, (status, error) in messages.items() if status == "unknown"]
    assert unknown and all(messages[ref][1] == dispatch.RECONCILE_NOTE for ref in unknown)
    assert len(unknown) <= 2 * 20  # at most the chunks that were in flight
    assert broadcast.state == Broadcast.State.COMPLETED
    assert (broadcast.sent, broadcast.unknown) == (100, len(unknown))


def test_crash_with_a_deduplicating_provider_resends_the_unconfirmed(stub, make_account, make_broadcast, crash_after):
    stub.latency = 0.01
    account = make_account(max_concurrency=30, dedupes_message_id=True)
    broadcast, _ = make_broadcast(account, 100)
    crash_after(50)
    with pytest.raises(Crash):
        submit_broadcast(broadcast.pk)
    stub.on_request = None
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
    assert dispatch._lease_take(broadcast.pk)
    assert dispatch_broadcast(broadcast.pk) == "busy"
    assert stub.requests == []


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
    account = make_account()
    broadcast, _ = make_broadcast(account, 50)
    # Pause while it sends, as a user clicking Pause would.
    stub.on_request = lambda r: in_thread(lambda: dispatch.dispatch_pause(broadcast)) if len(stub.requests) == 5 \
        else None
    submit_broadcast(broadcast.pk)
    broadcast.refresh_from_db()
    assert broadcast.dispatch_state == "paused" and broadcast.state == "submitted"
    sent_while_running = len(stub.requests)
    assert 10 <= sent_while_running < 50
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
