"""Factories and a small client for the callback endpoints.

`hook` posts to an account's callback URLs and `hook.settle()` brings the database up to date:
with the Redis buffer on (`buffered` mode, only when REDIS_URL is set, as in CI) it drains the
stream the way `manage.py drain_callbacks` does; without it there is nothing to wait for.
"""

import itertools
import json
import os
import uuid
from urllib.parse import urlsplit

import pytest
from django.conf import settings as django_settings
from django.core.handlers.wsgi import WSGIRequest
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import Client
from django.test.client import ClientHandler
from django.urls import reverse

from callbacks import buffer, selectors
from callbacks import wsgi as callbacks_wsgi
from campaigns.models import Broadcast, Message
from campaigns.models.broadcasts import STATUS_RANK
from messaging.models import ProviderAccount

REDIS_URL = os.environ.get("REDIS_URL", "")
ON_POSTGRES = django_settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
postgres_only = pytest.mark.skipif(not ON_POSTGRES, reason="needs PostgreSQL (DATABASE_URL); SQLite serialises writers")

_phones = itertools.count(380501000000)
_remote_ids = itertools.count(7_000_001)


@pytest.fixture(autouse=True)
def _fresh_token_cache():
    selectors.token_cache_clear()
    yield
    selectors.token_cache_clear()


class ServedLikeGunicorn(ClientHandler):
    """The callback endpoints answered by callbacks.wsgi, the way config/wsgi.py routes them under
    gunicorn (no middleware); every other URL by Django as usual."""

    def __call__(self, environ):
        if callbacks_wsgi.ROUTE.fullmatch(environ["PATH_INFO"]) is None:
            return super().__call__(environ)
        # As ClientHandler: the test's database connection must survive the request signals.
        request_started.disconnect(close_old_connections)
        request_finished.disconnect(close_old_connections)
        try:
            response = callbacks_wsgi.serve(environ, lambda status, headers: None)
            response.close()
            response.wsgi_request = WSGIRequest(environ)  # what the test client looks at afterwards
        finally:
            request_started.connect(close_old_connections)
            request_finished.connect(close_old_connections)
        return response


@pytest.fixture
def client():
    client = Client()
    client.handler = ServedLikeGunicorn()
    return client


@pytest.fixture
def account(db):
    return ProviderAccount.objects.create(name="MessageWhiz main", api_key="mw-secret-api-key-0042")


@pytest.fixture
def make_broadcast(account):
    def make(*, recipients=0, remote_id="auto", **fields):
        return Broadcast.objects.create(
            account=fields.pop("account", account), name=fields.pop("name", "Spring sale"),
            remote_id=next(_remote_ids) if remote_id == "auto" else remote_id,
            state=Broadcast.State.SUBMITTED, recipients_count=recipients, sent=recipients, **fields,
        )

    return make


@pytest.fixture
def make_message(account):
    """A message as campaigns creates it: SUBMITTED, counted in its broadcast's `sent`."""

    def make(broadcast=None, *, status=Message.Status.SUBMITTED, **fields):
        return Message.objects.create(
            account=broadcast.account if broadcast else fields.pop("account", account), broadcast=broadcast,
            phone=fields.pop("phone", None) or str(next(_phones)), status=status, status_rank=STATUS_RANK[status],
            **fields,
        )

    return make


@pytest.fixture
def make_messages(make_broadcast, make_message):
    """A broadcast with n submitted messages."""

    def make(n, **broadcast_fields):
        broadcast = make_broadcast(recipients=n, **broadcast_fields)
        return broadcast, [make_message(broadcast, provider_message_id=f"mw-{uuid.uuid4().hex[:12]}")
                           for _ in range(n)]

    return make


class Hook:
    def __init__(self, client, account, buffered: bool):
        self.client, self.account, self.buffered = client, account, buffered

    def url(self, name="dlr", token=None) -> str:
        return reverse(f"callbacks:{name}", kwargs={"token": token or self.account.callback_token})

    def post(self, name, body=None, *, raw=None, token=None, content_type="application/json", **extra):
        data = raw if raw is not None else json.dumps(body)
        return self.client.post(self.url(name, token), data=data, content_type=content_type, **extra)

    def ok(self, name, body):
        response = self.post(name, body)
        assert response.status_code == 200, response.content
        assert response.json() == {"ok": True}
        return response

    def settle(self) -> None:
        if self.buffered:
            while buffer.drain_once(consumer="test", block_ms=0):
                pass


def _use_stream(settings):
    # A database of its own: tests elsewhere clear the Redis cache (FLUSHDB of REDIS_URL's
    # database) while these run in parallel.
    settings.CALLBACK_REDIS_URL = urlsplit(REDIS_URL)._replace(path="/15").geturl()
    settings.CALLBACK_STREAM = f"test:callbacks:{uuid.uuid4().hex}"
    return settings.CALLBACK_STREAM


@pytest.fixture(params=["direct", "buffered"])
def mode(request, settings):
    """Both ways a callback reaches the database: applied in the request, or through Redis."""
    if request.param == "buffered":
        if not REDIS_URL:
            pytest.skip("REDIS_URL is not set")
        key = _use_stream(settings)
        redis_client = buffer.client()
        yield "buffered"
        redis_client.delete(key)
    else:
        settings.REDIS_URL = settings.CALLBACK_REDIS_URL = ""
        yield "direct"


@pytest.fixture
def direct(settings):
    settings.REDIS_URL = settings.CALLBACK_REDIS_URL = ""


@pytest.fixture
def buffered(settings):
    if not REDIS_URL:
        pytest.skip("REDIS_URL is not set")
    key = _use_stream(settings)
    redis_client = buffer.client()
    yield key
    redis_client.delete(key)


@pytest.fixture
def hook(client, account, mode):
    return Hook(client, account, buffered=mode == "buffered")


@pytest.fixture
def direct_hook(client, account, direct):
    """For what does not depend on how events are stored (authentication, validation)."""
    return Hook(client, account, buffered=False)
