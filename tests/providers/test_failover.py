"""Provider health: a failing provider opens its account's circuit breaker, traffic moves to the
next route, a probe after the cool-down closes it again, and with every route open messages wait.

Over real HTTP: the generic provider stand-in (tests/providers/stub.py) for HTTP providers, the
MessageWhiz sandbox's `_sandbox/faults` for MessageWhiz singles.
"""

import multiprocessing
import threading
import time
from collections import Counter

import pytest

from campaigns.models import Broadcast, BroadcastRoute, Message
from campaigns.singles import SingleProblem, single_send
from campaigns.tasks import submit_broadcast
from messaging import breaker
from messaging.models import FailoverRoute, ProviderAccount

pytestmark = pytest.mark.django_db(transaction=True)

DOWN = (503, {}, "down for maintenance")


class Provider:
    """Two providers behind the stand-in, told apart by path, each up or down; remembers which
    phones each one took (answered 200)."""

    def __init__(self, stub):
        self.down = {"/a": False, "/b": False}
        self.taken: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        stub.responder = self.answer

    def answer(self, request):
        if self.down[request.path]:
            return DOWN
        with self.lock:
            self.taken.append((request.path, request.json()["to"]))
        return None  # the stand-in's default 200


@pytest.fixture
def routes(stub, make_account):
    def make(*, cooldown=60, min_requests=4):
        primary = make_account("Primary", endpoint=f"{stub.url}/a", max_concurrency=2)
        backup = make_account("Backup", endpoint=f"{stub.url}/b", max_concurrency=2)
        ProviderAccount.objects.filter(pk__in=[primary.pk, backup.pk]).update(
            breaker_cooldown=cooldown, breaker_min_requests=min_requests, breaker_error_rate=50)
        FailoverRoute.objects.create(account=primary, route=backup, position=0)
        primary.refresh_from_db()
        backup.refresh_from_db()
        return primary, backup, Provider(stub)

    return make


def test_a_failing_provider_opens_its_breaker_and_the_broadcast_moves_to_the_next_route(
        client, admin_user, routes, make_broadcast):
    primary, backup, provider = routes()
    provider.down["/a"] = True
    broadcast, phones = make_broadcast(primary, 30)

    submit_broadcast(broadcast.pk)

    broadcast.refresh_from_db()
    assert broadcast.state == Broadcast.State.COMPLETED
    assert (broadcast.sent, broadcast.failed) == (30, 0)
    assert sorted(provider.taken) == sorted(("/b", phone) for phone in phones)  # each once, all by the backup
    assert set(Message.objects.filter(broadcast=broadcast).values_list("account", flat=True)) == {backup.pk}
    assert dict(BroadcastRoute.objects.filter(broadcast=broadcast).values_list("account", "sent")) == {backup.pk: 30}
    assert breaker.health(primary).state == breaker.OPEN

    client.force_login(admin_user)
    page = client.get(f"/broadcasts/{broadcast.pk}/").content.decode()
    assert "Routes" in page and "Backup" in page and "failover" in page


def test_after_the_cool_down_one_probe_closes_the_breaker_and_traffic_comes_back(routes, make_broadcast):
    primary, _, provider = routes(cooldown=1)
    provider.down["/a"] = True
    first, _ = make_broadcast(primary, 12)
    submit_broadcast(first.pk)
    assert breaker.health(primary).state == breaker.OPEN

    provider.down["/a"] = False
    time.sleep(1.2)
    assert breaker.route_state(primary) == breaker.PROBE
    second = Broadcast.objects.create(account=primary, name="Later", body="Hi")
    second.recipient_lists.set(first.recipient_lists.all())
    submit_broadcast(second.pk)

    second.refresh_from_db()
    assert (second.sent, second.failed) == (12, 0)
    assert set(Message.objects.filter(broadcast=second).values_list("account", flat=True)) == {primary.pk}
    assert breaker.health(primary).state == breaker.CLOSED


def test_half_open_lets_exactly_one_probe_through(stub, routes, make_broadcast):
    """A provider still failing after the cool-down gets one request (no retries, no second
    sender), and its breaker opens again for another cool-down."""
    primary, backup, provider = routes(cooldown=1)
    provider.down["/a"] = True
    first, _ = make_broadcast(primary, 12)
    submit_broadcast(first.pk)
    time.sleep(1.2)
    before = sum(1 for r in stub.requests if r.path == "/a")

    second = Broadcast.objects.create(account=primary, name="Later", body="Hi")
    second.recipient_lists.set(first.recipient_lists.all())
    submit_broadcast(second.pk)

    second.refresh_from_db()
    assert (second.sent, second.failed) == (12, 0)
    assert sum(1 for r in stub.requests if r.path == "/a") == before + 1
    assert set(Message.objects.filter(broadcast=second).values_list("account", flat=True)) == {backup.pk}
    assert breaker.route_state(primary) == breaker.WAIT


def _take_probe(account, start, results):
    start.wait()
    results.put(breaker.probe_take(account))


def test_half_open_probe_is_taken_by_one_process_only(make_account):
    """Four processes ask at the same moment: one gets the probe."""
    account = make_account()
    ProviderAccount.objects.filter(pk=account.pk).update(breaker_min_requests=2, breaker_cooldown=1)
    account.refresh_from_db()
    assert breaker.record(account, [(1, 1, 30.0), (1, 1, 40.0)]) == breaker.OPEN
    time.sleep(1.1)
    context = multiprocessing.get_context("fork")
    start, results = context.Event(), context.Queue()
    workers = [context.Process(target=_take_probe, args=(account, start, results)) for _ in range(4)]
    for worker in workers:
        worker.start()
    start.set()
    tokens = [results.get(timeout=20) for _ in workers]
    for worker in workers:
        worker.join(10)
    assert sum(1 for token in tokens if token) == 1
    assert breaker.route_state(account) == breaker.WAIT


def test_with_every_route_open_messages_wait_and_all_go_once_after_recovery(routes, make_broadcast):
    primary, backup, provider = routes(cooldown=1, min_requests=2)
    ProviderAccount.objects.filter(pk=backup.pk).update(breaker_cooldown=1)
    provider.down.update({"/a": True, "/b": True})
    broadcast, phones = make_broadcast(primary, 20)
    notes = []

    def recover():
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            note = Broadcast.objects.filter(pk=broadcast.pk).values_list("last_error", flat=True).first()
            if note and "circuit breaker is open" in note:
                notes.append(note)
                time.sleep(1.5)
                provider.down["/b"] = False
                return
            time.sleep(0.1)

    helper = threading.Thread(target=recover)
    helper.start()
    submit_broadcast(broadcast.pk)
    helper.join()

    broadcast.refresh_from_db()
    assert notes, "the broadcast never said that every route was open"
    assert broadcast.state == Broadcast.State.COMPLETED
    assert (broadcast.sent, broadcast.failed, broadcast.unknown) == (20, 0, 0)
    taken = Counter(phone for _, phone in provider.taken)
    assert sorted(taken) == sorted(phones) and set(taken.values()) == {1}  # 0 lost, 0 duplicates
    assert Message.objects.filter(broadcast=broadcast).exclude(status="submitted").count() == 0
    assert broadcast.last_error == ""


def test_messagewhiz_singles_fail_over_and_come_back(mw_account, sandbox):
    backup = ProviderAccount.objects.create(name="Sandbox backup", base_url=sandbox.url, api_key=sandbox.api_key)
    ProviderAccount.objects.filter(pk=mw_account.pk).update(breaker_min_requests=3, breaker_cooldown=1)
    mw_account.refresh_from_db()
    FailoverRoute.objects.create(account=mw_account, route=backup)
    sandbox.faults(fail_next=[{"status": 503}] * 3, path="^/sms$")

    for _ in range(3):
        single_send(account=mw_account, sender="ShopCo", phone="380501234567", text="Hi")
    assert breaker.route_state(mw_account) == breaker.WAIT

    moved = single_send(account=mw_account, sender="ShopCo", phone="380501234568", text="Hi")
    assert moved.account_id == backup.pk and moved.status == "submitted"
    assert moved.broadcast.events.filter(reason__contains="through Sandbox backup: the circuit breaker of Sandbox "
                                                          "is open").exists()

    time.sleep(1.1)
    back = single_send(account=mw_account, sender="ShopCo", phone="380501234569", text="Hi")
    assert back.account_id == mw_account.pk and back.status == "submitted"
    assert breaker.health(mw_account).state == breaker.CLOSED


def test_messagewhiz_single_with_every_route_open_is_refused_before_anything_is_written(mw_account, sandbox):
    ProviderAccount.objects.filter(pk=mw_account.pk).update(breaker_min_requests=1)
    mw_account.refresh_from_db()
    sandbox.faults(fail_next=[{"status": 500}], path="^/sms$")
    single_send(account=mw_account, sender="ShopCo", phone="380501234567", text="Hi")
    count = Message.objects.count()
    with pytest.raises(SingleProblem, match="circuit breaker of every route is open"):
        single_send(account=mw_account, sender="ShopCo", phone="380501234568", text="Hi")
    assert Message.objects.count() == count


def test_health_panel_shows_breakers_error_rates_latency_and_report_coverage(
        client, django_user_model, settings, stub, make_account, make_broadcast):
    from django.contrib.auth.models import Permission

    primary = make_account("Primary", endpoint=f"{stub.url}/a", max_concurrency=2)
    backup = make_account("Backup", endpoint=f"{stub.url}/b", dlr_enabled=True, dlr_ref_field="ref",
                          dlr_status_field="state", dlr_status_map={"DELIVRD": "delivered"})
    ProviderAccount.objects.filter(pk=primary.pk).update(breaker_min_requests=4)
    FailoverRoute.objects.create(account=primary, route=backup)
    Provider(stub).down["/a"] = True
    broadcast, _ = make_broadcast(primary, 10)
    submit_broadcast(broadcast.pk)
    # The backup carried them: its reports (to its own callback URL) find them.
    for message in Message.objects.filter(broadcast=broadcast).order_by("phone")[:4]:
        response = client.post(f"/providers/cb/{backup.callback_token}/dlr/", content_type="application/json",
                               data={"ref": str(message.client_ref), "state": "DELIVRD"})
        assert response.status_code == 200
    if settings.CALLBACK_REDIS_URL:  # buffered, as in production: the drainer applies them
        from callbacks import buffer

        while buffer.drain_once(consumer="test", block_ms=0):
            pass
    broadcast.refresh_from_db()
    assert broadcast.delivered == 4

    user = django_user_model.objects.create_user("ops", password="pw", is_staff=True)
    client.force_login(user)
    assert client.get("/providers/health/").status_code == 403
    user.user_permissions.add(Permission.objects.get(codename="view_provideraccount"))
    client.force_login(django_user_model.objects.get(pk=user.pk))
    page = client.get("/providers/health/").content.decode()
    primary_row, backup_row = (page.split(f"<td>{name} ")[1].split("</tr>")[0] for name in ("Primary", "Backup"))
    assert "open" in primary_row and "100.0%" in primary_row and "1. Backup" in primary_row
    assert "closed" in backup_row and "0.0%" in backup_row and "≤ " in backup_row
    assert "40.0% <span class=\"muted\">(4 of 10)" in backup_row
