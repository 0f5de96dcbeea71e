"""Fixtures for the outbound webhook tests: a real receiver on 127.0.0.1 and an endpoint pointing at it.

Loaded for the whole suite by tests/conftest.py (`pytest_plugins`).
"""

import pytest

from bench.webhook_sink import Sink
from messaging.models import WebhookEndpoint
from messaging.webhooks.delivery import endpoint_create
from messaging.webhooks.models import EVENT_TYPES


@pytest.fixture
def webhook_settings(settings):
    settings.WEBHOOK_KICK_INTERVAL = 0  # every commit queues its delivery run (eager: runs it)
    settings.WEBHOOK_DRAIN_LINGER_SECONDS = 0
    settings.WEBHOOK_RETRY_BASE_SECONDS = 10
    return settings


@pytest.fixture
def sink():
    """A receiver that keeps every request it gets (its secret is set by `endpoint`)."""
    return Sink(keep=True).start()


@pytest.fixture
def make_endpoint(db, sink, webhook_settings):
    def make(**fields):
        endpoint = WebhookEndpoint(name=fields.pop("name", "Warehouse"), url=fields.pop("url", sink.url),
                                   event_types=fields.pop("event_types", [name for name, _ in EVENT_TYPES]),
                                   **fields)
        sink.secret = endpoint_create(endpoint=endpoint)
        return endpoint

    return make


@pytest.fixture
def endpoint(make_endpoint):
    return make_endpoint()
