"""Callback bodies as a production server hands them over: gunicorn on loopback, over real HTTP.

Django's test client (and its live server) cannot send a chunked body, which is what these are
about: a chunked report read as empty would be refused and lost, and a NUL in a user's reply
made every retry a 503 on PostgreSQL.
"""

import json
import os
import subprocess
import sys
from urllib.parse import quote

import pytest
import requests
from django.db import connection

from callbacks.models import CallbackEvent
from campaigns.models import Message
from messaging.models import GenericProviderConfig, InboundMessage, ProviderAccount
from tests.conftest import BASE_DIR, free_port, wait_for_http

pytestmark = pytest.mark.django_db(transaction=True)


def _database_url() -> str:
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    auth = quote(db["USER"]) + (f":{quote(db['PASSWORD'])}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def gunicorn():
    """The app under gunicorn (as the Procfile runs it), on the test database."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "CALLBACK_REDIS_URL")}
    env.update(DATABASE_URL=_database_url(), SECRET_KEY="test-only-not-a-secret", DEBUG="false",
               SECURE_SSL_REDIRECT="false", ALLOWED_HOSTS="127.0.0.1", CELERY_TASK_ALWAYS_EAGER="true")
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{port}",
                             "--workers", "1", "--threads", "2", "--timeout", "30"],
                            cwd=BASE_DIR, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for_http(f"{url}/callbacks/x/ping", timeout=30, proc=proc)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def generic(db):
    account = ProviderAccount.objects.create(name="Generic", kind=ProviderAccount.Kind.GENERIC, api_key="")
    GenericProviderConfig.objects.create(
        account=account, endpoint="https://sms.example.com/send", dlr_enabled=True, dlr_ref_field="ref",
        dlr_status_field="state", dlr_error_field="error", dlr_status_map={"DELIVRD": "delivered", "FAIL": "failed"},
        channel=GenericProviderConfig.Channel.WHATSAPP)
    return account


def chunked(data: bytes, size: int = 7):
    """A generator body: requests sends it with Transfer-Encoding: chunked and no Content-Length."""
    for start in range(0, len(data), size):
        yield data[start:start + size]


def test_a_chunked_report_is_read_and_applied(gunicorn, generic, make_message):
    message = make_message(None, account=generic)
    body = json.dumps({"ref": str(message.client_ref), "state": "DELIVRD"}).encode()
    response = requests.post(f"{gunicorn}/providers/cb/{generic.callback_token}/dlr/", data=chunked(body),
                             headers={"Content-Type": "application/json"}, timeout=10)
    assert response.status_code == 200, response.text
    assert Message.objects.get(pk=message.pk).status == Message.Status.DELIVERED
    assert CallbackEvent.objects.get().body == body.decode()


def test_a_chunked_messagewhiz_report_is_read_too(gunicorn, account, make_message):
    message = make_message(provider_message_id="mw-1")
    body = json.dumps({"message_id": "mw-1", "status": "DELIVRD"}).encode()
    response = requests.post(f"{gunicorn}/callbacks/{account.callback_token}/dlr/", data=chunked(body),
                             headers={"Content-Type": "application/json"}, timeout=10)
    assert response.status_code == 200, response.text
    assert Message.objects.get(pk=message.pk).status == Message.Status.DELIVERED


def test_a_chunked_body_over_the_cap_is_a_413(gunicorn, generic):
    # 1 MiB is the generic endpoints' cap; nothing says so up front, so it is found while reading.
    body = b'{"ref": "' + b"x" * (1024 * 1024) + b'", "state": "DELIVRD"}'
    response = requests.post(f"{gunicorn}/providers/cb/{generic.callback_token}/dlr/", data=chunked(body, 65536),
                             headers={"Content-Type": "application/json"}, timeout=30)
    assert response.status_code == 413
    assert not CallbackEvent.objects.exists()


def test_nul_in_an_inbound_message_is_dropped_not_retried_forever(gunicorn, generic):
    url = f"{gunicorn}/providers/cb/{generic.callback_token}/inbound/"
    body = json.dumps({"from": "918889500122", "text": "ST\u0000OP", "uuid": "in-\u00001"})
    for _ in range(2):  # a provider's retry is a duplicate, not another 5xx
        response = requests.post(url, data=body.encode(), headers={"Content-Type": "application/json"}, timeout=10)
        assert response.status_code == 200, response.text
    stored = InboundMessage.objects.get()
    assert (stored.text, stored.provider_message_id, stored.opted_out) == ("STOP", "in-1", True)


def test_nul_bytes_in_a_chunked_form_report_are_dropped(gunicorn, generic, make_message):
    message = make_message(None, account=generic)
    form = f"ref={message.client_ref}&state=FAIL&error=no%00route\x00".encode()
    response = requests.post(f"{gunicorn}/providers/cb/{generic.callback_token}/dlr/", data=chunked(form),
                             headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=10)
    assert response.status_code == 200, response.text
    message.refresh_from_db()
    assert (message.status, message.error) == (Message.Status.FAILED, "noroute")
    assert "\x00" not in CallbackEvent.objects.get().body

