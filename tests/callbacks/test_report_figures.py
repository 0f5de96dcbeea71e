"""Price and part count do not depend on the order reports arrive in: each comes from the most
final report that carries it (equal ranks: the larger value), and the recount agrees."""

import random
from decimal import Decimal

import pytest

from callbacks import services
from campaigns.models import Message

from .payloads import dlr, event, figures, webhook_entry

pytestmark = pytest.mark.django_db(transaction=True)
MESSAGES = 12


def reports_for(messages) -> list[dict]:
    """Every message gets an en-route estimate (more parts, dearer), its delivery report, a repeat
    of it without figures, and a second final word; a webhook batch reports some of them again."""
    bodies = []
    for i, m in enumerate(messages):
        bodies += [
            dlr(m, "ENROUTE", price=0.0620 + i / 10000, parts_count=2),
            dlr(m, "DELIVRD", price=0.0500 + i / 10000, parts_count=1),
            {key: value for key, value in dlr(m, "DELIVRD").items() if key not in ("price", "parts_count")},
            dlr(m, "UNDELIV", price=0.0400, parts_count=1),  # same rank as DELIVRD: the larger price stays
        ]
    bodies.append({"dlrs": [webhook_entry(m, 0, price=0.09) for m in messages[:4]]})  # en route, dearer
    return bodies


def outcome(broadcast, messages) -> tuple:
    rows = dict(Message.objects.filter(broadcast=broadcast).values_list("pk", "price"))
    parts = dict(Message.objects.filter(broadcast=broadcast).values_list("pk", "parts"))
    counters = figures(broadcast)  # also: the recount from the raw events equals the counters
    return tuple(rows[m.pk] for m in messages), tuple(parts[m.pk] for m in messages), counters["cost"]


@pytest.mark.parametrize("path", ["one request each", "drained in one batch"])
def test_any_arrival_order_gives_the_same_price_parts_and_cost(account, make_messages, path):
    seen = set()
    rng = random.Random(18)
    for _ in range(8):
        broadcast, messages = make_messages(MESSAGES)
        bodies = reports_for(messages)
        rng.shuffle(bodies)
        events = [event(account.pk, body) for body in bodies]
        if path == "one request each":
            for one in events:
                services.events_record([one])
        else:
            services.events_record(events)
        seen.add(outcome(broadcast, messages))
    assert len(seen) == 1
    [(prices, parts, cost)] = seen
    assert prices == tuple(Decimal("0.0500") + Decimal(i) / 10000 for i in range(MESSAGES))
    assert parts == (1,) * MESSAGES
    assert cost == sum(prices)
