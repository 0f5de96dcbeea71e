"""Issue 12 "Why" 3: the reference lists `message_body` and `sender_ids` as required for base and
smart broadcasts, so a broadcast built on a template, or on sender lists only, still sends both
(the template's body; the lists' senders), and never a blank id string. Against the strict
sandbox the old requests were refused with 400."""

import pytest

from campaigns.models import Broadcast, Template
from campaigns.sending import SubmissionProblem, broadcast_request
from messaging.models import Sender, SenderList

from .conftest import synced
from .test_sending import run_task, submitted_body

S = Broadcast.State


@pytest.fixture
def sender_list(mw_account, mw, audience):
    """A sender list in MessageWhiz and here, holding the audience's sender."""
    remote = mw.sender_list_create(name="Brand", sender_ids=[audience["sender"].remote_id])
    sender_list = synced(SenderList, mw_account, remote, name="Brand")
    sender_list.senders.add(audience["sender"])
    return sender_list


@pytest.fixture
def template(mw_account, mw):
    body = "Hi {{first_name}}, the template's offer"
    return synced(Template, mw_account, mw.template_create(name="Offer", body=body), name="Offer", body=body)


@pytest.mark.parametrize("smart", [False, True])
def test_sender_lists_only_and_a_template_send_every_required_field(make_broadcast, sandbox, sender_list,
                                                                    template, audience, smart):
    extra = {"type": Broadcast.Type.SMART, "eb_type": "manual", "first_segment_size": 2} if smart else {}
    broadcast = make_broadcast(body="", template=template, **extra)
    broadcast.senders.clear()
    broadcast.sender_lists.set([sender_list])
    broadcast = run_task(broadcast)
    assert broadcast.state == S.SUBMITTED, broadcast.last_error
    body = submitted_body(sandbox)
    assert body["message_body"] == "Hi {{first_name}}, the template's offer"
    assert body["template_id"] == template.remote_id
    assert body["sender_ids"] == str(audience["sender"].remote_id)
    assert body["sender_list_ids"] == str(sender_list.remote_id)
    assert "" not in body.values()
    assert all(m["content"].endswith("the template's offer") for m in sandbox.state("messages"))


def test_the_lists_senders_join_the_chosen_ones_once(make_broadcast, mw_account, mw, sender_list, audience):
    other = synced(Sender, mw_account, mw.sender_create(name="Other"), name="Other")
    sender_list.senders.add(other)
    broadcast = make_broadcast()
    broadcast.sender_lists.set([sender_list])
    request = broadcast_request(broadcast)
    assert request.kwargs["sender_ids"] == [audience["sender"].remote_id, other.remote_id]


def test_sender_lists_without_a_sender_in_messagewhiz_are_refused_before_sending(make_broadcast, mw_account, mw,
                                                                               sandbox):
    empty = synced(SenderList, mw_account, mw.sender_list_create(name="Empty", sender_ids=[]), name="Empty")
    empty.senders.add(Sender.objects.create(account=mw_account, name="Local"))  # not in MessageWhiz yet
    broadcast = make_broadcast()
    broadcast.senders.clear()
    broadcast.sender_lists.set([empty])
    with pytest.raises(SubmissionProblem, match="no sender in MessageWhiz yet"):
        broadcast_request(broadcast)
    assert sandbox.requests(method="POST", path="^/api/3/Broadcast$") == []
