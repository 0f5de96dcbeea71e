"""Every `*_iter` walks its list endpoint with start/limit until an empty page (the sandbox caps
pages at 25 whatever `limit` says, as a real server may)."""

import re

import pytest

from messaging.messagewhiz.client import MessageWhizClient
from messaging.messagewhiz.errors import MessageWhizError

ITERATORS = [
    ("campaign_iter", "campaigns", "/api/3/campaign"),
    ("recipient_list_iter", "recipient_lists", "/api/3/RecipientList"),
    ("sender_iter", "senders", "/api/3/sender"),
    ("sender_list_iter", "sender_lists", "/api/3/senderList"),
    ("broadcast_iter", "broadcasts", "/api/3/Broadcast/List"),
    ("unsubscribe_list_iter", "unsubscribe_lists", "/api/3/unsubscribeList"),
    ("link_iter", "links", "/api/3/link"),
    ("link_list_iter", "link_lists", "/api/3/LinkList"),
    ("spinner_iter", "word_spinners", "/api/3/spinner"),
    ("template_iter", "templates", "/api/3/template"),
    ("trigger_iter", "triggers", "/api/3/trigger"),
]


@pytest.mark.parametrize(("method", "collection", "path"), ITERATORS)
def test_iter_reads_every_page(client, sandbox, method, collection, path):
    sandbox.seed(collection, [{"name": f"Item {n:02}", "url": f"https://example.com/{n}"} for n in range(23)])

    items = list(getattr(client, method)(page_size=10))

    assert sorted(item["name"] for item in items) == [f"Item {n:02}" for n in range(23)]
    assert len({item["id"] for item in items}) == 23
    assert all(isinstance(item["id"], int) for item in items)
    pages = sandbox.requests(method="GET", path=f"^{re.escape(path)}$")
    assert [(page["query"]["start"], page["query"]["limit"]) for page in pages] == [
        ("0", "10"), ("10", "10"), ("20", "10"), ("23", "10"),
    ]


@pytest.mark.parametrize(("method", "collection", "path"), ITERATORS)
def test_iter_reads_past_pages_the_server_shortened(client, sandbox, method, collection, path):
    """The sandbox answers at most 25 items to limit=100: a short page is not the end."""
    sandbox.seed(collection, [{"name": f"Item {n:02}", "url": f"https://example.com/{n}"} for n in range(60)])

    items = list(getattr(client, method)())

    assert len({item["id"] for item in items}) == 60
    pages = sandbox.requests(method="GET", path=f"^{re.escape(path)}$")
    assert [(page["query"]["start"], page["query"]["limit"]) for page in pages] == [
        ("0", "100"), ("25", "100"), ("50", "100"), ("60", "100"),
    ]


def test_iter_stops_at_the_first_empty_page(client, sandbox):
    sandbox.seed("campaigns", [{"name": f"Seeded {n:02}"} for n in range(20)])

    assert len(list(client.campaign_iter(page_size=10))) == 20
    assert len(sandbox.requests(method="GET", path="^/api/3/campaign$")) == 3


def test_iter_passes_filters_through(client, sandbox):
    sandbox.seed("senders", [{"name": "Keep", "enabled": False}, {"name": "Other", "enabled": False}])

    assert [s["name"] for s in client.sender_iter(enabled=False, filter={"name": "Keep"})] == ["Keep"]
    page = sandbox.requests(method="GET", path="^/api/3/sender$")[0]
    assert page["query"] == {"start": "0", "limit": "100", "enabled": "false", "filter": "name=Keep"}


def test_iter_refuses_to_loop_on_a_server_that_ignores_start(stub):
    page = {"json": {"errorCode": 0, "result": [{"id": 1}, {"id": 2}]}}
    stub.script = [page, page, page]
    with MessageWhizClient(stub.url, "k") as mw, pytest.raises(MessageWhizError, match="not advancing"):
        list(mw.template_iter(page_size=2))
    assert len(stub.seen) == 2
