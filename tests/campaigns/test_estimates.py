"""Estimates: our own (recipients, parts per recipient) next to MessageWhiz's."""

from campaigns.estimates import broadcast_estimate, confirm_problem, local_estimate
from campaigns.models import Broadcast, Link
from messaging.mirror import SyncState
from recipients.models import Recipient

from .test_sending import run_task


def test_local_estimate_counts_parts_per_personalised_recipient(make_broadcast, audience, unsubscribed):
    Recipient.objects.filter(phone="380501234567").update(first_name="Al")
    Recipient.objects.filter(phone="380501234568").update(first_name="Олександра")  # forces UCS-2
    broadcast = make_broadcast(body="Hi {{first_name}}! " + "x" * 60)
    broadcast.unsubscribe_lists.set([unsubscribed])
    estimate = local_estimate(broadcast)
    assert estimate["recipients"] == 2  # 380501234569 unsubscribed
    assert estimate["parts"] == {"1": 1, "2": 1}
    assert estimate["total_parts"] == 3
    assert estimate["problems"] == []


def test_token_problems_are_reported_before_sending(make_broadcast, mw_account, sandbox):
    Link.objects.create(account=mw_account, name="Off", url="https://x.example.com", remote_id=77, enabled=False,
                        sync_state=SyncState.DISABLED)
    broadcast = make_broadcast(body="Hi {{frist_name}} see {{link:77}} and {{link:78}}")
    broadcast = broadcast_estimate(broadcast)
    messages = [p["message"] for p in broadcast.local_estimate["problems"]]
    assert len(messages) == 3, messages
    assert broadcast.state == Broadcast.State.DRAFT
    assert broadcast.estimate == {}
    assert sandbox.requests(method="POST", path="estimate") == []
    broadcast = run_task(broadcast)
    assert broadcast.state == Broadcast.State.DRAFT  # refused before anything was sent
    assert "frist_name" in broadcast.last_error


def test_remote_estimate_is_stored_and_the_broadcast_is_estimated(make_broadcast, sandbox, audience):
    broadcast = broadcast_estimate(make_broadcast())
    assert broadcast.state == Broadcast.State.ESTIMATED
    [request] = sandbox.requests(method="POST", path="^/api/3/Broadcast/estimate$")
    assert request["json"]["recipient_list_ids"] == str(audience["list"].remote_id)
    assert "estimateHash" in broadcast.estimate
    assert broadcast.estimate["batchEstimation"]["messages"] == 3
    assert [e.to_state for e in broadcast.events.all()] == [Broadcast.State.ESTIMATED]


def test_static_body_is_counted_once(make_broadcast):
    estimate = local_estimate(make_broadcast(body="Sale today only"))
    assert estimate == {**estimate, "recipients": 3, "parts": {"1": 3}, "total_parts": 3, "encoding": "GSM-7"}


def test_a_failed_estimate_again_cannot_be_confirmed(make_broadcast, sandbox, audience):
    broadcast = broadcast_estimate(make_broadcast())
    assert confirm_problem(broadcast) == ""
    sandbox.faults(fail_next=[{"status": 400}])
    broadcast = broadcast_estimate(broadcast)
    assert broadcast.state == Broadcast.State.ESTIMATED and broadcast.estimate == {}
    assert confirm_problem(broadcast).startswith("MessageWhiz could not estimate")
