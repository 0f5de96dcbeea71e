"""Outbound webhooks, over real HTTP to a receiver on 127.0.0.1 (bench/webhook_sink.py).

Signing is checked with the `standardwebhooks` package (an independent implementation of the
spec), retries, the breaker, batching and redelivery by what the receiver gets and the delivery
log shows, and a worker killed mid-request by what reaches the receiver afterwards.
"""

import json
import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.contrib.auth.models import Permission
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone
from standardwebhooks import Webhook

from messaging.models import AuditEvent, ProviderAccount, WebhookAttempt, WebhookEndpoint, WebhookMessage
from messaging.webhooks import delivery, signing
from messaging.webhooks.events import emit, emit_many
from recipients.consent import consent_record
from recipients.models import ConsentEvent

BASE_DIR = Path(__file__).resolve().parent.parent.parent
ON_POSTGRES = connection.vendor == "postgresql"
M = WebhookMessage.State
pytestmark = pytest.mark.django_db(transaction=True)


def emit_committed(n: int, event_type: str = "optout.created") -> None:
    with transaction.atomic():
        emit_many(event_type, [{"phone": f"+38050{i:07d}"} for i in range(n)])


def bodies(sink) -> list:
    return [json.loads(r["body"]) for r in sink.requests]


def wait_until_due(seconds: float = 5.0) -> None:
    """Sleep until the next retry of any pending row is due."""
    due = WebhookMessage.objects.filter(state=M.PENDING).order_by("next_attempt_at").values_list(
        "next_attempt_at", flat=True).first()
    if due:
        time.sleep(min(seconds, max(0.0, (due - timezone.now()).total_seconds()) + 0.05))


# --- signing -------------------------------------------------------------------------------------
def test_signatures_verify_with_the_standard_webhooks_library(db):
    secret = signing.secret_generate()
    assert secret.startswith("whsec_") and len(signing.secret_key(secret)) == 32
    body = b'{"id":"evt_1","type":"optout.created","data":{"phone":"+380501234567"}}'
    headers = signing.headers([signing.secret_key(secret)], "evt_1", int(time.time()), body)
    assert Webhook(secret).verify(body, headers)["id"] == "evt_1"
    with pytest.raises(Exception, match="signature"):
        Webhook(signing.secret_generate()).verify(body, headers)
    with pytest.raises(Exception, match="signature"):
        Webhook(secret).verify(body + b" ", headers)


def test_after_a_rotation_both_secrets_verify_for_the_window(endpoint, sink, client, admin_user):
    old = sink.secret
    client.force_login(admin_user)
    response = client.post(reverse("webhooks:rotate", args=[endpoint.pk]), follow=True)
    page = response.content.decode()
    new = page.split('<code class="secret">')[1].split("</code>")[0]
    assert new.startswith("whsec_") and new != old
    assert new not in client.get(reverse("webhooks:detail", args=[endpoint.pk])).content.decode()  # once
    client.post(reverse("webhooks:test", args=[endpoint.pk]))
    [request] = sink.requests
    assert Webhook(new).verify(request["body"], request["headers"])["type"] == "webhook.test"
    assert Webhook(old).verify(request["body"], request["headers"])["type"] == "webhook.test"
    # The audit trail says it was rotated, never what to.
    trail = json.dumps(list(AuditEvent.objects.values("action", "changes", "detail")))
    assert '"rotate"' in trail and old not in trail and new not in trail


# --- retries, log, redelivery ---------------------------------------------------------------------
def test_failures_retry_with_growing_jittered_pauses_and_the_log_shows_every_attempt(endpoint, sink, settings):
    settings.WEBHOOK_RETRY_BASE_SECONDS = 1
    sink.answers = [500, 503]
    emit_committed(1)  # the kick after the commit makes the first attempt
    [message] = WebhookMessage.objects.all()
    assert (message.state, message.attempts) == (M.PENDING, 1)

    def pause_after_last_attempt() -> float:
        message.refresh_from_db()
        return (message.next_attempt_at - WebhookAttempt.objects.latest("created_at").created_at).total_seconds()

    assert 0.5 <= pause_after_last_attempt() <= 2  # the base, half of it random (+ the request's time)
    delivery.drain(linger=0)
    assert len(sink.requests) == 1  # not due yet: nothing sent early
    wait_until_due()
    delivery.drain(linger=0)
    pause = pause_after_last_attempt()
    assert message.attempts == 2 and 1.0 <= pause <= 3  # twice the base, half of it random
    wait_until_due()
    delivery.drain(linger=0)
    message.refresh_from_db()
    assert (message.state, message.attempts) == (M.DELIVERED, 3)
    log = list(WebhookAttempt.objects.order_by("created_at").values_list("response_status", "webhook_id"))
    assert log == [(500, message.event_id), (503, message.event_id), (204, message.event_id)]
    assert [r["headers"]["webhook-id"] for r in sink.requests] == [message.event_id] * 3
    attempt = WebhookAttempt.objects.first()
    assert attempt.request_body == message.body and attempt.duration_ms > 0
    assert attempt.request_headers["webhook-signature"].startswith("v1,")


def test_backoff_is_capped(settings):
    settings.WEBHOOK_RETRY_BASE_SECONDS, settings.WEBHOOK_RETRY_MAX_SECONDS = 10, 7200
    waits = [delivery.backoff(n) for n in range(1, 20)]
    assert 5 <= waits[0] <= 10 and 10 <= waits[1] <= 20
    assert all(3600 <= w <= 7200 for w in waits[12:])


def test_after_the_window_an_event_fails_and_redelivery_sends_it_again(endpoint, sink, settings, client,
                                                                        django_user_model):
    settings.WEBHOOK_RETRY_WINDOW_SECONDS, settings.WEBHOOK_RETRY_BASE_SECONDS = 1, 0.2
    sink.answers = [500] * 50
    emit_committed(1)
    deadline = time.monotonic() + 5
    while WebhookMessage.objects.get().state == M.PENDING and time.monotonic() < deadline:
        wait_until_due()
        delivery.drain(linger=0)
    message = WebhookMessage.objects.get()
    assert message.state == M.FAILED and message.attempts >= 2
    sink.answers = []

    user = django_user_model.objects.create_user("dev", password="x" * 16)
    user.user_permissions.add(*Permission.objects.filter(codename__in=["view_webhookendpoint",
                                                                       "change_webhookendpoint"]))
    client.force_login(user)
    page = client.get(reverse("webhooks:detail", args=[endpoint.pk]) + "?state=failed").content.decode()
    assert message.event_id in page and "Redeliver" in page
    response = client.post(reverse("webhooks:redeliver", args=[endpoint.pk, message.pk]))
    assert response.status_code == 302
    message.refresh_from_db()
    assert message.state == M.DELIVERED
    assert sink.requests[-1]["status"] == 204
    assert json.loads(sink.requests[-1]["body"])["id"] == message.event_id  # the same event, the same id


def test_consecutive_failures_pause_the_endpoint_and_a_probe_resumes_it(make_endpoint, sink, settings):
    settings.WEBHOOK_BREAKER_FAILURES, settings.WEBHOOK_BREAKER_PAUSE_SECONDS = 3, 2
    settings.WEBHOOK_CONCURRENCY, settings.WEBHOOK_RETRY_BASE_SECONDS = 1, 0.01
    endpoint = make_endpoint()
    sink.answers = [500] * 3
    emit_committed(10)
    assert len(sink.requests) == 3  # then the breaker opened: the other 7 were not tried
    endpoint.refresh_from_db()
    assert endpoint.paused_until > timezone.now() and endpoint.consecutive_failures == 3
    assert WebhookMessage.objects.filter(attempts=0, lease_until__isnull=True).count() == 7
    delivery.drain(linger=0)
    assert len(sink.requests) == 3  # paused
    time.sleep(max(0.0, (endpoint.paused_until - timezone.now()).total_seconds()) + 0.1)
    delivery.drain(linger=0.3)  # one probe succeeds, then the rest go
    assert len(sink.requests) == 13
    assert WebhookMessage.objects.filter(state=M.DELIVERED).count() == 10
    endpoint.refresh_from_db()
    assert (endpoint.paused_until, endpoint.consecutive_failures) == (None, 0)


def test_a_failed_probe_pauses_for_twice_as_long(make_endpoint, sink, settings):
    settings.WEBHOOK_BREAKER_FAILURES, settings.WEBHOOK_BREAKER_PAUSE_SECONDS = 1, 0.3
    settings.WEBHOOK_RETRY_BASE_SECONDS = 0.01
    make_endpoint()
    sink.answers = [500, 500, 500]
    emit_committed(2)
    time.sleep(0.35)
    delivery.drain(linger=0)
    assert len(sink.requests) == 3  # one probe, which failed
    endpoint = WebhookEndpoint.objects.get()
    probe = WebhookAttempt.objects.latest("created_at")
    pause = (endpoint.paused_until - probe.created_at).total_seconds() - probe.duration_ms / 1000
    assert 0.6 <= pause <= 0.8 and endpoint.pauses == 2


# --- batching -------------------------------------------------------------------------------------
def test_batching_sends_json_arrays_and_a_failed_batch_goes_again_whole(make_endpoint, sink, settings):
    settings.WEBHOOK_RETRY_BASE_SECONDS = 1  # not due again before the first run has sent the rest
    make_endpoint(batch=True, batch_size=4)
    sink.answers = [500]
    emit_committed(10)
    wait_until_due()
    delivery.drain(linger=0)
    sent = [(r["headers"]["webhook-id"], tuple(e["id"] for e in json.loads(r["body"]))) for r in sink.requests]
    assert sorted(len(ids) for _, ids in sent) == [2, 4, 4, 4]
    assert sent[0] in sent[1:]  # the failed batch again: same webhook-id, same events
    assert len({webhook_id for webhook_id, _ in sent}) == 3
    assert all(Webhook(sink.secret).verify(r["body"], r["headers"]) for r in sink.requests)
    assert sink.stats()["unique_events"] == 10
    assert WebhookMessage.objects.filter(state=M.DELIVERED).count() == 10


# --- guarding the target ---------------------------------------------------------------------------
def test_a_private_target_is_refused_unless_allowed(sink, client, admin_user, settings, webhook_settings):
    settings.OUTBOUND_ALLOW_PRIVATE_NETWORKS = False
    client.force_login(admin_user)
    form = {"name": "Internal", "url": sink.url, "event_types": ["optout.created"], "enabled": "on",
            "batch_size": 500}
    response = client.post(reverse("webhooks:create"), form)
    assert response.status_code == 200 and "loopback" in response.content.decode()
    assert not WebhookEndpoint.objects.exists()

    # Saved while it was allowed; since then the guard checks the address actually connected to.
    settings.OUTBOUND_ALLOWED_HOSTS = [f"127.0.0.1:{sink.port}"]
    assert client.post(reverse("webhooks:create"), form).status_code == 302
    settings.OUTBOUND_ALLOWED_HOSTS = []
    emit_committed(1)
    assert sink.requests == []
    [attempt] = WebhookAttempt.objects.all()
    assert attempt.response_status is None and "refused" in attempt.error


# --- pages -----------------------------------------------------------------------------------------
def test_the_secret_is_shown_once_and_the_pages_need_their_permissions(sink, client, django_user_model,
                                                                          webhook_settings):
    admin = django_user_model.objects.create_user("admin1", password="x" * 16)
    admin.user_permissions.add(*Permission.objects.filter(codename__endswith="_webhookendpoint"))
    client.force_login(admin)
    form = {"name": "Warehouse", "url": sink.url, "event_types": ["message.delivered", "link.clicked"],
            "enabled": "on", "batch": "on", "batch_size": 100}
    response = client.post(reverse("webhooks:create"), form, follow=True)
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.secret in response.content.decode()
    pages = [reverse("webhooks:detail", args=[endpoint.pk]), reverse("webhooks:edit", args=[endpoint.pk]),
             reverse("webhooks:list")]
    client.post(reverse("webhooks:test", args=[endpoint.pk]))
    pages.append(reverse("webhooks:attempt", args=[endpoint.pk, WebhookAttempt.objects.get().pk]))
    for url in pages:
        page = client.get(url)
        assert page.status_code == 200 and endpoint.secret not in page.content.decode()
        assert signing.secret_key(endpoint.secret).hex() not in page.content.decode()

    reader = django_user_model.objects.create_user("reader", password="x" * 16)
    reader.user_permissions.add(Permission.objects.get(codename="view_webhookendpoint"))
    client.force_login(reader)
    for url in pages:
        assert client.get(url).status_code == (403 if "/edit/" in url else 200)
    message = WebhookMessage.objects.get()
    for url in (reverse("webhooks:rotate", args=[endpoint.pk]), reverse("webhooks:test", args=[endpoint.pk]),
                reverse("webhooks:redeliver", args=[endpoint.pk, message.pk]), reverse("webhooks:create")):
        assert client.post(url).status_code == 403

    outsider = django_user_model.objects.create_user("outsider", password="x" * 16)
    client.force_login(outsider)
    assert all(client.get(url).status_code == 403 for url in pages)


def test_bad_input_is_a_field_error(client, admin_user, webhook_settings):
    client.force_login(admin_user)
    response = client.post(reverse("webhooks:create"), {"name": "", "url": "ftp://x", "batch_size": 0})
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert set(errors) == {"name", "url", "event_types", "batch_size"}
    assert not WebhookEndpoint.objects.exists()


# --- what emits ------------------------------------------------------------------------------------
def test_consent_events_are_emitted_with_the_ledger_and_not_without_it(endpoint, sink):
    account = ProviderAccount.objects.create(name="Generic", kind=ProviderAccount.Kind.GENERIC)
    consent_record(account=account, phones=["+380501111111"], kind=ConsentEvent.Kind.OPT_OUT,
                   source=ConsentEvent.Source.MANUAL)
    [event] = bodies(sink)
    assert (event["type"], event["data"]["phone"], event["data"]["account_id"]) == (
        "optout.created", "+380501111111", account.pk)
    with pytest.raises(RuntimeError), transaction.atomic():
        consent_record(account=account, phones=["+380502222222"], kind=ConsentEvent.Kind.OPT_IN,
                       source=ConsentEvent.Source.MANUAL)
        raise RuntimeError("the caller's transaction fails after the ledger was written")
    assert WebhookMessage.objects.count() == 1 and len(sink.requests) == 1


def test_unknown_event_types_are_refused(db):
    with pytest.raises(ValueError, match="unknown webhook event type"):
        emit("message.exploded", {})


# --- a worker killed mid-delivery --------------------------------------------------------------------
DRAIN = """
import django, sys
django.setup()
from messaging.tasks import deliver_webhooks
deliver_webhooks.apply()
"""


def worker_env() -> dict:
    db = connection.settings_dict
    url = urlsplit(os.environ["DATABASE_URL"])._replace(path=f"/{db['NAME']}").geturl()
    return {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "config.settings",
            "OUTBOUND_ALLOW_PRIVATE_NETWORKS": "true", "WEBHOOK_LEASE_SECONDS": "2", "WEBHOOK_CONCURRENCY": "4",
            "WEBHOOK_DRAIN_LINGER_SECONDS": "0"}


@pytest.mark.skipif(not ON_POSTGRES, reason="needs a database shared between processes (CI runs this on PostgreSQL)")
@pytest.mark.parametrize("batch", [False, True])
def test_a_worker_killed_mid_delivery_loses_nothing_and_repeats_only_under_the_same_webhook_id(
        make_endpoint, sink, settings, batch):
    settings.WEBHOOK_KICK_INTERVAL = 3600  # no delivery from this process until the end
    make_endpoint(batch=batch, batch_size=5)
    emit_committed(40)
    # The receiver takes the first requests, then holds the next ones: the worker dies waiting.
    sink.answers = [204] * 3 + [("hang", 30)]
    worker = subprocess.Popen([sys.executable, "-c", DRAIN], cwd=BASE_DIR, env=worker_env(),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while len(sink.requests) < 4 and time.monotonic() < deadline and worker.poll() is None:
        time.sleep(0.05)
    assert len(sink.requests) >= 4, worker.stdout.read() if worker.poll() is not None else "no requests"
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait()
    assert WebhookMessage.objects.filter(state=M.SENDING).exists()  # held by the dead worker

    time.sleep(2.1)  # the dead worker's lease runs out
    second = subprocess.run([sys.executable, "-c", DRAIN], cwd=BASE_DIR, env=worker_env(), capture_output=True,
                            timeout=120)
    assert second.returncode == 0, second.stdout + second.stderr
    assert WebhookMessage.objects.filter(state=M.DELIVERED).count() == 40
    stats = sink.stats()
    assert stats["unique_events"] == 40 and stats["bad_signatures"] == 0
    # A webhook-id always stands for the same events, so a receiver de-duplicating on it is exact.
    contents = defaultdict(set)
    for request in sink.requests:
        data = json.loads(request["body"])
        contents[request["headers"]["webhook-id"]].add(tuple(e["id"] for e in (data if batch else [data])))
    assert all(len(bodies) == 1 for bodies in contents.values())
    assert len(sink.requests) > len(contents)  # and there were repeats (the requests the worker died in)
    assert timezone.now() - WebhookMessage.objects.earliest("created_at").created_at < timedelta(minutes=5)
