"""A MessageWhiz broadcast's undelivered numbers get one follow-up base broadcast through another
sender, with a recipient list of its own uploaded to the sandbox, once the wait has passed; the
sandbox's delivery reports come over HTTP to our webhook (a live server)."""

import time
from datetime import timedelta

import pytest
from django.urls import reverse

from callbacks.services import apply_pending
from campaigns.models import Broadcast, Message
from campaigns.sending import broadcast_submit
from campaigns.tasks import retry_sweep
from messaging.models import Sender
from recipients.consent import consent_record
from recipients.models import ConsentEvent, Recipient, RecipientList

from .conftest import synced

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _applied_at_once(settings):
    settings.REDIS_URL = settings.CALLBACK_REDIS_URL = ""


def drain_until(predicate, sandbox, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sandbox.control("POST", "callbacks/drain")
        apply_pending()
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError("timed out")


@pytest.fixture
def parent(sandbox, live_server, mw_account, mw, audience):
    webhook = live_server.url + reverse("callbacks:dlr_batch", kwargs={"token": mw_account.callback_token})
    sandbox.callbacks(delay_ms=50, seed=8,
                      statuses={"DELIVRD": 0.4, "UNDELIV": 0.2, "REJECTD": 0.2, "EXPIRED": 0.2},
                      dlr_webhook_url=webhook, batch_size=3, webhook_flush_ms=20)
    # Six numbers, so that some are delivered and some are not.
    numbers = [f"38050123{i:04d}" for i in range(6)]
    remote_list = mw.recipient_list_create(name="Everyone", numbers=numbers)
    everyone = synced(RecipientList, mw_account, {"id": remote_list["recipient_list_id"]}, name="Everyone",
                      recipient_count=len(numbers))
    Recipient.objects.bulk_create(Recipient(recipient_list=everyone, phone=n, first_name="Ann") for n in numbers)
    backup = synced(Sender, mw_account, mw.sender_create(name="Backup"), name="Backup")
    broadcast = Broadcast.objects.create(
        account=mw_account, campaign=audience["campaign"], name="Autumn sale", body="Hi {{first_name}}",
        retry_enabled=True, retry_statuses=["undelivered", "rejected"], retry_wait_minutes=30, retry_sender=backup)
    broadcast.senders.set([audience["sender"]])
    broadcast.recipient_lists.set([everyone])
    broadcast_submit(broadcast)
    drain_until(lambda: not Message.objects.filter(broadcast=broadcast, status_rank__lt=10).exists(), sandbox)
    return broadcast, backup


def sent_to(sandbox, broadcast):
    return sorted(m["recipient"] for m in sandbox.state("messages") if m["broadcast_id"] == broadcast.remote_id)


def test_the_follow_up_goes_once_after_the_wait_to_exactly_the_undelivered_numbers(sandbox, mw_account, parent):
    broadcast, backup = parent
    undelivered = sorted(Message.objects.filter(broadcast=broadcast, status__in=("undelivered", "rejected"))
                         .values_list("phone", flat=True))
    # The seed gives every kind: expired is not among the policy's statuses, delivered never retried.
    statuses = sorted(Message.objects.filter(broadcast=broadcast).values_list("status", flat=True))
    assert statuses == ["delivered", "delivered", "expired", "rejected", "rejected", "undelivered"]
    retry_sweep()
    assert not Broadcast.objects.filter(parent=broadcast).exists()  # the wait has not passed

    Broadcast.objects.filter(pk=broadcast.pk).update(submitted_at=broadcast.submitted_at - timedelta(minutes=31))
    retry_sweep()  # makes the follow-up and uploads its list
    retry_sweep()  # MessageWhiz has the list: submitted
    retry_sweep()  # and again: nothing more
    [child] = Broadcast.objects.filter(parent=broadcast)
    assert (child.role, child.type, child.state) == (Broadcast.Role.RETRY, Broadcast.Type.BASE,
                                                     Broadcast.State.SUBMITTED)
    assert sent_to(sandbox, child) == undelivered
    # From the backup sender, and the recipients' fields filled in by MessageWhiz as in the original.
    said = [m for m in sandbox.state("messages") if m["broadcast_id"] == child.remote_id]
    assert {m["sender"] for m in said} == {backup.name}
    assert len(sandbox.state("broadcasts")) == 2
    # Each retry message points at the message it retries.
    pairs = sorted(Message.objects.filter(broadcast=child).values_list("phone", "retry_of__phone"))
    assert pairs == [(phone, phone) for phone in undelivered]


def test_a_number_that_opted_out_meanwhile_is_left_out_of_the_follow_up(sandbox, mw_account, parent):
    broadcast, _ = parent
    undelivered = sorted(Message.objects.filter(broadcast=broadcast, status__in=("undelivered", "rejected"))
                         .values_list("phone", flat=True))
    consent_record(account=mw_account, phones=[undelivered[0]], kind=ConsentEvent.Kind.OPT_OUT, source="test")
    Broadcast.objects.filter(pk=broadcast.pk).update(submitted_at=broadcast.submitted_at - timedelta(minutes=31))
    retry_sweep()
    retry_sweep()
    [child] = Broadcast.objects.filter(parent=broadcast)
    assert sent_to(sandbox, child) == undelivered[1:]
