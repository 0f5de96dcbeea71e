import json

import pytest

from campaigns.models import Broadcast, Message
from campaigns.tasks import submit_broadcast

pytestmark = pytest.mark.django_db(transaction=True)


def test_broadcast_through_generic_provider_sends_each_message_once(stub, make_account, make_broadcast):
    account = make_account()
    broadcast, phones = make_broadcast(account, 25)

    submit_broadcast(broadcast.pk)

    broadcast.refresh_from_db()
    assert broadcast.state == Broadcast.State.COMPLETED
    assert broadcast.dispatch_state == "done"
    bodies = [r.json() for r in stub.requests]
    assert sorted(b["to"] for b in bodies) == phones
    assert {b["text"] for b in bodies} == {"Hi Ann & co"}
    refs = {str(ref) for ref in Message.objects.filter(broadcast=broadcast).values_list("client_ref", flat=True)}
    assert {b["ref"] for b in bodies} == refs and len(refs) == 25
    assert broadcast.recipients_count == broadcast.sent == 25
    assert set(Message.objects.filter(broadcast=broadcast).values_list("status", flat=True)) == {"submitted"}


def test_provider_ids_from_the_answer_are_stored(stub, make_account, make_broadcast):
    account = make_account(response_id_field="id")
    broadcast, _ = make_broadcast(account, 30)
    stub.responder = lambda r: (200, {}, json.dumps({"id": f"p-{r.json()['to']}"}))
    submit_broadcast(broadcast.pk)
    broadcast.refresh_from_db()
    assert broadcast.sent == 30
    ids = dict(Message.objects.filter(broadcast=broadcast).values_list("phone", "provider_message_id"))
    assert all(pid == f"p-{phone}" for phone, pid in ids.items())


def test_numbers_that_replied_stop_get_no_more_broadcasts(client, stub, make_account, make_broadcast):
    account = make_account()
    broadcast, phones = make_broadcast(account, 5)
    reply = client.post(f"/providers/cb/{account.callback_token}/inbound/", content_type="application/json",
                        data=json.dumps({"from": phones[2], "text": "STOP", "uuid": "in-1"}))
    assert reply.status_code == 200

    submit_broadcast(broadcast.pk)  # no unsubscribe list picked on the broadcast
    assert sorted(r.json()["to"] for r in stub.requests) == [p for p in phones if p != phones[2]]
    broadcast.refresh_from_db()
    assert broadcast.recipients_count == broadcast.sent == 4

    single = Broadcast.objects.create(account=account, name="Just one", body="Hi", type=Broadcast.Type.SINGLE,
                                      recipient=phones[2])
    submit_broadcast(single.pk)
    single.refresh_from_db()
    assert single.state == Broadcast.State.DRAFT and "opted out" in single.last_error
    assert len(stub.requests) == 4
