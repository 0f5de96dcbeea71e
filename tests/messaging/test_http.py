"""The HTTP seam's retry policy, observed from the server side and through the sleep hook."""

import logging
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from messaging.http import AmbiguousRequestError, HttpClient, TransportError, parse_retry_after
from tests.conftest import free_port
from tests.messaging.conftest import StubServer

OK = {"json": {"errorCode": 0, "result": True}}


def make_client(url, sleeps, **options):
    return HttpClient(url, headers={"apikey": "sekrit-key"}, timeout=(1, 2), sleep=sleeps.append,
                      **{"max_retries": 3, "backoff_base": 0.5, "backoff_cap": 4, **options})


def test_parse_retry_after():
    now = datetime(2024, 1, 1, 12, 0, tzinfo=UTC)
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("-5") == 0.0
    assert parse_retry_after(format_datetime(now + timedelta(seconds=90), usegmt=True), now=now) == 90.0
    assert parse_retry_after(format_datetime(now - timedelta(seconds=90), usegmt=True), now=now) == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_idempotent_request_retried_on_5xx_with_jittered_backoff(stub):
    sleeps = []
    stub.script = [{"status": 503}, {"status": 500}, {"status": 502}, OK]
    response = make_client(stub.url, sleeps).request("GET", "/api/3/campaign")
    assert response.status_code == 200
    assert len(stub.seen) == 4
    # Full jitter: each delay anywhere between 0 and base * 2**attempt.
    assert len(sleeps) == 3
    assert all(0 <= delay <= cap for delay, cap in zip(sleeps, [0.5, 1, 2], strict=True))


def test_gives_the_last_response_back_when_retries_run_out(stub):
    sleeps = []
    stub.script = [{"status": 503}] * 5
    response = make_client(stub.url, sleeps, max_retries=2).request("DELETE", "/api/3/campaign/1")
    assert response.status_code == 503
    assert len(stub.seen) == 3
    assert len(sleeps) == 2


def test_retry_after_http_date_is_honoured(stub):
    sleeps = []
    when = datetime.now(UTC) + timedelta(seconds=20)
    stub.script = [{"status": 429, "headers": {"Retry-After": format_datetime(when, usegmt=True)}}, OK]
    make_client(stub.url, sleeps).request("GET", "/api/3/sender")
    assert len(sleeps) == 1
    assert 17 <= sleeps[0] <= 20.5


def test_retry_after_is_a_minimum_spread_by_jitter(stub):
    sleeps = []
    stub.script = [{"status": 429, "headers": {"Retry-After": "2"}}] * 3 + [OK]
    make_client(stub.url, sleeps).request("GET", "/api/3/sender")
    assert len(sleeps) == 3
    assert all(2 <= delay <= 2.5 for delay in sleeps)  # never earlier, at most backoff_base later
    assert len(set(sleeps)) > 1  # workers told the same thing do not all come back at once


def test_retry_after_beyond_the_cap_is_handed_back_instead_of_slept(stub):
    sleeps = []
    stub.script = [{"status": 429, "headers": {"Retry-After": "3600"}}]
    response = make_client(stub.url, sleeps, max_retry_after=60).request("GET", "/api/3/sender")
    assert response.status_code == 429
    assert sleeps == []
    assert len(stub.seen) == 1


def test_post_that_creates_is_not_retried_on_503(stub):
    sleeps = []
    stub.script = [{"status": 503}, OK]
    response = make_client(stub.url, sleeps).request("POST", "/api/3/campaign", json={"name": "x"})
    assert response.status_code == 503
    assert len(stub.seen) == 1
    assert sleeps == []


def test_post_marked_safe_is_retried(stub):
    sleeps = []
    stub.script = [{"status": 503}, OK]
    response = make_client(stub.url, sleeps).request("POST", "/api/3/Broadcast/estimate", idempotent=True)
    assert response.status_code == 200
    assert len(stub.seen) == 2


def test_post_dropped_after_sending_is_ambiguous_and_not_resent(stub):
    sleeps = []
    stub.script = [{"drop": True}, OK]
    with pytest.raises(AmbiguousRequestError):
        make_client(stub.url, sleeps).request("POST", "/api/3/Broadcast", json={"name": "x"})
    assert len(stub.seen) == 1
    assert sleeps == []


def test_get_dropped_after_sending_is_retried(stub):
    sleeps = []
    stub.script = [{"drop": True}, OK]
    response = make_client(stub.url, sleeps).request("GET", "/api/3/campaign")
    assert response.status_code == 200
    assert len(stub.seen) == 2


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_redirects_are_not_followed(stub, status):
    sleeps = []
    elsewhere = StubServer()  # another port, as a hijacked or misconfigured Location would be
    try:
        stub.script = [{"status": status, "headers": {"Location": f"{elsewhere.url}/sms"}}]
        response = make_client(stub.url, sleeps).request(
            "POST", "/sms", json={"api_key": "sekrit-key", "to": "2605876689", "text": "hi"})
    finally:
        elsewhere.close()
    assert response.status_code == status  # handed back for the provider to classify
    assert elsewhere.seen == []  # neither the apikey header nor the body's api_key went there
    assert [seen["method"] for seen in stub.seen] == ["POST"]  # nor resent here as a GET
    assert sleeps == []


def test_post_that_could_not_connect_is_retried_then_a_plain_transport_error():
    sleeps = []
    client = make_client(f"http://127.0.0.1:{free_port()}", sleeps)  # nothing listens there
    with pytest.raises(TransportError):
        client.request("POST", "/api/3/Broadcast", json={"name": "x"})
    assert len(sleeps) == 3  # nothing left the machine, so resending was safe


def test_uploads_are_rewound_before_a_retry(stub, tmp_path):
    sleeps = []
    stub.script = [{"status": 503}, OK]
    path = tmp_path / "numbers.csv"
    path.write_bytes(b"380503327227\n380848122639\n")
    with path.open("rb") as doc:
        make_client(stub.url, sleeps).request("PUT", "/api/3/recipientList/1", files={"doc": ("n.csv", doc)})
    assert len(stub.seen) == 2
    assert b"380503327227\n380848122639\n" in stub.seen[1]["body"]


def test_logs_method_path_status_never_the_key(stub, caplog):
    caplog.set_level(logging.DEBUG, logger="messaging.http")
    stub.script = [{"status": 503}, OK]
    make_client(stub.url, []).request("GET", "/api/3/campaign", params={"filter": "name=x"})
    assert stub.seen[0]["headers"]["apikey"] == "sekrit-key"
    messages = [record.getMessage() for record in caplog.records]
    assert any("GET /api/3/campaign 503" in message for message in messages)
    assert any("GET /api/3/campaign 200" in message for message in messages)
    assert not any("sekrit" in message for message in messages)


def test_repr_hides_the_headers(stub):
    assert "sekrit" not in repr(make_client(stub.url, []))
