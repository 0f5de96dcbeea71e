"""Parallel posts over real HTTP: counters stay equal to a recount, nothing is lost or counted twice.

PostgreSQL only: SQLite serialises writers, so there is no race to lose (test_applying has the
any-order test that runs everywhere).
"""

import json
import random
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
import requests
from django.urls import reverse

from callbacks import buffer, selectors
from callbacks.models import CallbackEvent, Click

from .conftest import postgres_only
from .payloads import click, dlr, figures, webhook_entry

pytestmark = [postgres_only, pytest.mark.django_db(transaction=True)]

FINALS = ["DELIVRD", "UNDELIV", "EXPIRED", "REJECTD", "FAILED"]
BUCKET = {"DELIVRD": "delivered", "UNDELIV": "undelivered", "EXPIRED": "expired", "REJECTD": "rejected",
          "FAILED": "failed"}


def _workload(messages, seed=7):
    """Per message: ENROUTE, its final status (twice), a late ENROUTE, and clicks (some repeated),
    through all three URLs, shuffled."""
    rng = random.Random(seed)
    posts = []
    for index, message in enumerate(messages):
        final = FINALS[index % len(FINALS)]
        posts += [("dlr", dlr(message, "ENROUTE", price=0.25)), ("dlr", dlr(message, final, price=0.25)),
                  ("dlr", dlr(message, final, price=0.25)), ("dlr", dlr(message, "ENROUTE", price=0.25))]
        posts.append(("dlr_batch", {"dlrs": [webhook_entry(message, 2 if final == "DELIVRD" else 0, price=0.25)]}))
        if index % 4 == 0:
            posts += [("click", click(message)), ("dlr", click(message)), ("click", click(message, link="hkzt.me/2"))]
    rng.shuffle(posts)
    return posts


def _post_all(live_server, account, posts, threads=16):
    session_local = threading.local()

    def send(item):
        name, body = item
        session = getattr(session_local, "session", None) or requests.Session()
        session_local.session = session
        url = live_server.url + reverse(f"callbacks:{name}", kwargs={"token": account.callback_token})
        return session.post(url, data=json.dumps(body), headers={"Content-Type": "application/json"},
                            timeout=30).status_code

    with ThreadPoolExecutor(threads) as pool:
        return Counter(pool.map(send, posts))


def _expect(broadcast, messages):
    counters = figures(broadcast)  # also asserts counters == recount
    expected = Counter(BUCKET[FINALS[i % len(FINALS)]] for i in range(len(messages)))
    for name in BUCKET.values():
        assert counters[name] == expected[name], name
    clicked = len(range(0, len(messages), 4))
    assert (counters["clicks_total"], counters["clicks_unique"]) == (2 * clicked, clicked)
    assert counters["cost"] == Decimal("0.25") * len(messages)
    assert Click.objects.count() == 2 * clicked
    # The timeline's rows were added to by every applier at once, and still add up.
    timeline = selectors.broadcast_timeline(broadcast)
    assert sum(counts["delivered"] for _, counts in timeline["minutes"]) == counters["delivered"]
    assert sum(counts["failed"] for _, counts in timeline["minutes"]) == len(messages) - counters["delivered"]
    assert sum(link["clicks"] for link in timeline["links"]) == 2 * clicked
    assert sum(link["people"] for link in timeline["links"]) == 2 * clicked


def test_parallel_posts_applied_in_the_request(live_server, account, make_messages, direct):
    broadcast, messages = make_messages(60)
    posts = _workload(messages)
    assert _post_all(live_server, account, posts) == {200: len(posts)}
    assert CallbackEvent.objects.count() == len(posts)
    assert not CallbackEvent.objects.filter(applied_at__isnull=True).exists()
    _expect(broadcast, messages)


def test_parallel_posts_and_parallel_drainers(live_server, account, make_messages, buffered):
    broadcast, messages = make_messages(60)
    posts = _workload(messages, seed=11)
    assert _post_all(live_server, account, posts) == {200: len(posts)}
    assert buffer.backlog() == len(posts)

    def drain(name):
        from django.db import connection

        try:
            while buffer.drain_once(consumer=name, count=25, block_ms=0):
                pass
        finally:
            connection.close()

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(drain, [f"drainer-{n}" for n in range(4)]))
    assert buffer.backlog() == 0
    assert CallbackEvent.objects.count() == len(posts)
    assert not CallbackEvent.objects.filter(applied_at__isnull=True).exists()
    _expect(broadcast, messages)
