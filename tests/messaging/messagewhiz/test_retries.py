"""The retry policy as the sandbox sees it: how many requests arrived, and what the client slept."""

import pytest

from messaging.messagewhiz.client import MessageWhizClient
from messaging.messagewhiz.errors import (
    AmbiguousRequestError,
    AmbiguousServerError,
    RateLimitedError,
    ServerError,
)


def test_idempotent_call_survives_503_then_429(client, sandbox, sleeps):
    client.campaign_create(name="Kept")
    sandbox.faults(fail_next=[{"status": 503}, {"status": 429, "retry_after": 1}])

    assert [c["name"] for c in client.campaign_list()] == ["Kept"]

    assert len(sandbox.requests(method="GET", path="^/api/3/campaign$")) == 3
    assert len(sleeps) == 2
    assert 0 <= sleeps[0] <= 0.5  # jittered backoff after the 503
    assert 1.0 <= sleeps[1] <= 1.5  # Retry-After honoured, plus a little jitter


def test_create_is_not_retried_on_503(client, sandbox, sleeps):
    sandbox.faults(fail_next=[{"status": 503}])

    with pytest.raises(ServerError) as caught:
        client.campaign_create(name="Once")

    assert caught.value.status == 503
    assert len(sandbox.requests(method="POST", path="^/api/3/campaign$")) == 1
    assert sleeps == []
    assert sandbox.state("campaigns") == [] or all(c["name"] != "Once" for c in sandbox.state("campaigns"))


@pytest.mark.parametrize(("status", "applied"), [(500, True), (502, False), (504, True)])
def test_5xx_to_a_create_is_ambiguous_whether_or_not_it_was_applied(client, sandbox, sleeps, status, applied):
    sandbox.faults(fail_next=[{"status": status, "apply": applied}])

    with pytest.raises(AmbiguousServerError) as caught:
        client.campaign_create(name="Maybe")

    # The client cannot tell the two apart, so both are "look before sending again", never resent.
    assert isinstance(caught.value, AmbiguousRequestError)
    assert caught.value.status == status and caught.value.permanent is True
    assert len(sandbox.requests(method="POST", path="^/api/3/campaign$")) == 1
    assert sleeps == []
    assert [c["name"] for c in sandbox.state("campaigns")] == (["Maybe"] if applied else [])


def test_5xx_after_a_send_was_applied_is_ambiguous(client, sandbox, sleeps):
    sandbox.faults(fail_next=[{"status": 502, "apply": True}])
    with pytest.raises(AmbiguousServerError):
        client.fast_single_send(to="2605876689", sender="sender", text="hi")
    assert len(sandbox.requests(method="POST", path="^/sms$")) == 1
    assert len(sandbox.state("messages")) == 1  # it went: resending would text the customer twice


def test_5xx_to_a_read_is_retried_not_ambiguous(client, sandbox, sleeps):
    sandbox.faults(fail_next=[{"status": 500}, {"status": 504}, {"status": 502}] * 2)
    with pytest.raises(ServerError) as caught:
        MessageWhizClient(sandbox.url, sandbox.api_key, max_retries=2, sleep=sleeps.append).campaign_list()
    assert caught.value.status == 502 and caught.value.permanent is False
    assert len(sleeps) == 2


def test_rate_limited_send_reports_retry_after(client, sandbox, sleeps):
    sandbox.faults(fail_next=[{"status": 429, "retry_after": 7}])
    with pytest.raises(RateLimitedError) as caught:
        client.fast_single_send(to="2605876689", sender="sender", text="hi")
    assert caught.value.retry_after == 7
    assert caught.value.permanent is False
    assert len(sandbox.requests(method="POST", path="^/sms$")) == 1


def test_estimate_is_retried_because_it_changes_nothing(client, sandbox, sleeps):
    list_id = client.recipient_list_create(name="L", numbers=["3852004823"])["recipient_list_id"]
    sandbox.faults(fail_next=[{"status": 503}])
    assert client.broadcast_estimate(recipient_list_ids=[list_id], message_body="x")["messages"] == 1
    assert len(sandbox.requests(method="POST", path="^/api/3/Broadcast/estimate$")) == 2


def test_lost_answer_to_a_send_is_ambiguous(sandbox, sleeps):
    sandbox.faults(fail_next=[{"hang": 3, "apply": True}])
    mw = MessageWhizClient(sandbox.url, sandbox.api_key, timeout=(2, 0.5), sleep=sleeps.append)
    with pytest.raises(AmbiguousRequestError) as caught:
        mw.campaign_create(name="Maybe")
    assert caught.value.permanent is True  # never blindly resent
    assert len(sandbox.requests(method="POST", path="^/api/3/campaign$")) == 1
    assert sleeps == []
    # It was applied after all: reconciling means looking before sending again.
    assert [c["name"] for c in sandbox.state("campaigns")] == ["Maybe"]


def test_lost_answer_to_a_read_is_retried(sandbox, sleeps):
    sandbox.faults(fail_next=[{"hang": 3, "apply": True}])
    with MessageWhizClient(sandbox.url, sandbox.api_key, timeout=(2, 0.5), sleep=sleeps.append) as mw:
        assert mw.campaign_list() == []
    assert len(sandbox.requests(method="GET", path="^/api/3/campaign$")) == 2
    assert len(sleeps) == 1
