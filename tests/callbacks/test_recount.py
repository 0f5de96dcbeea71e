"""The recount folds the raw event log itself, so counters that follow wrongly applied rows are caught."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import F

from callbacks import buffer, selectors, services
from callbacks.models import CallbackEvent
from campaigns.models import Broadcast, Message
from campaigns.models.broadcasts import STATUS_RANK

from .payloads import click, dlr, event, figures, webhook_entry

S = Message.Status


def _misapply(message, status):
    """What a wrong status mapping in applying would leave: the row and the counters agree with
    each other (a recount from the rows would match), but not with what the provider said."""
    before = selectors.BUCKETS[Message.objects.get(pk=message.pk).status]
    after = selectors.BUCKETS[status]
    Message.objects.filter(pk=message.pk).update(status=status, status_rank=STATUS_RANK[status])
    Broadcast.objects.filter(pk=message.broadcast_id).update(**{before: F(before) - 1, after: F(after) + 1})


def test_a_wrongly_applied_status_is_caught(hook, make_messages):
    broadcast, [message, other] = make_messages(2)
    hook.ok("dlr", dlr(message, "DELIVRD"))
    hook.ok("dlr_batch", {"dlrs": [webhook_entry(other, 5)]})
    hook.settle()
    figures(broadcast)
    _misapply(message, S.UNDELIVERED)
    found = {(m["field"], m["stored"], m["recounted"]) for m in selectors.mismatches([broadcast.pk])}
    assert found == {("delivered", 0, 1), ("undelivered", 2, 1)}


def test_a_click_counted_without_an_event_is_caught(hook, make_messages):
    broadcast, [message] = make_messages(1)
    hook.ok("click", click(message))
    hook.settle()
    Broadcast.objects.filter(pk=broadcast.pk).update(clicks_total=2)
    assert [m["field"] for m in selectors.mismatches([broadcast.pk])] == ["clicks_total"]


def test_the_recount_covers_every_kind_of_event(hook, make_messages, make_message):
    broadcast, messages = make_messages(5)
    hook.ok("dlr", dlr(messages[0], "ENROUTE", price=0.2))
    hook.ok("dlr", dlr(messages[0], "DELIVRD", price=0.3))
    # A second final word changes no status; of two final prices the larger counts (whichever came first).
    hook.ok("dlr", dlr(messages[0], "UNDELIV", price=0.9))
    hook.ok("dlr", {"message_id": messages[1].provider_message_id, "state": 7})
    hook.ok("dlr_batch", {"dlrs": [webhook_entry(messages[2], 3, price=1), webhook_entry(messages[3], 0, price=0)]})
    hook.ok("click", click(messages[0]))
    hook.ok("click", click(messages[0]))
    hook.ok("dlr", click(messages[0], link="hkzt.me/b"))
    hook.settle()
    assert selectors.recount([broadcast.pk])[broadcast.pk] == figures(broadcast)
    assert figures(broadcast) | {"cost": str(figures(broadcast)["cost"])} == {
        "sent": 5, "delivered": 1, "undelivered": 0, "expired": 1, "rejected": 0, "failed": 0, "unknown": 1,
        "cost": "1.9000", "clicks_total": 2, "clicks_unique": 1, "conversion": 20.0}


def test_our_own_verdict_on_a_send_stands_beside_later_reports(hook, make_broadcast, make_message):
    """A send the provider never answered is UNKNOWN (rank 8) here; a late ENROUTE cannot move it,
    a definite DLR can; a refused send is FAILED, whatever comes after."""
    broadcast = make_broadcast(recipients=2)
    unanswered = make_message(broadcast, status=S.UNKNOWN, provider_message_id="u-1")
    refused = make_message(broadcast, status=S.FAILED, provider_message_id="f-1")
    Broadcast.objects.filter(pk=broadcast.pk).update(unknown=1, failed=1)
    hook.ok("dlr", {"message_id": "u-1", "status": "ENROUTE"})
    hook.ok("dlr", {"message_id": "f-1", "status": "ENROUTE"})
    hook.settle()
    assert (figures(broadcast)["unknown"], figures(broadcast)["failed"]) == (1, 1)
    hook.ok("dlr", {"message_id": "u-1", "status": "DELIVRD"})
    hook.settle()
    assert (figures(broadcast)["unknown"], figures(broadcast)["delivered"]) == (0, 1)
    assert Message.objects.get(pk=refused.pk).status == S.FAILED
    assert Message.objects.get(pk=unanswered.pk).status == S.DELIVERED


def test_two_final_words_applied_out_of_log_order_still_match(direct, make_broadcast, make_message):
    """An early report waits for its message while a later one applies first: both are final, the
    first applied stands, and the recount accepts either."""
    broadcast = make_broadcast(recipients=1)
    account_id = broadcast.account_id
    waiting = _stored(account_id, {"message_id": "late-id", "status": "DELIVRD"})
    message = make_message(broadcast, provider_message_id="late-id")
    services.events_record([event(account_id, {"message_id": "late-id", "status": "UNDELIV"})])
    assert services.apply_pending_for(message_ids=[message.pk]).status_changes == 0
    assert CallbackEvent.objects.get(pk=waiting.pk).applied_at is not None
    assert figures(broadcast)["undelivered"] == 1


def test_check_callbacks_uses_the_raw_events(hook, make_messages, capsys):
    broadcast, [message] = make_messages(1)
    hook.ok("dlr", dlr(message))
    hook.settle()
    call_command("check_callbacks")
    assert "counters match the recount from the raw events" in capsys.readouterr().out
    _misapply(message, S.EXPIRED)
    with pytest.raises(CommandError, match="2 counter"):
        call_command("check_callbacks", "--broadcast", str(broadcast.pk))


def test_check_callbacks_warns_when_redis_could_lose_events(buffered, capsys, db):
    config = buffer.client().config_get("appendonly") | buffer.client().config_get("maxmemory-policy")
    call_command("check_callbacks")
    err = capsys.readouterr().err
    assert ("appendonly no" in err) == (config["appendonly"] != "yes")
    assert ("evicts keys" in err) == (config["maxmemory-policy"] != "noeviction")


def test_check_callbacks_says_when_redis_is_away(settings, capsys, db):
    settings.CALLBACK_REDIS_URL = "redis://127.0.0.1:1/0"
    call_command("check_callbacks")
    captured = capsys.readouterr()
    assert "cannot reach the callbacks' Redis" in captured.err
    assert "waiting in Redis: unknown" in captured.out


def _stored(account_id, body):
    services.events_record([stored := event(account_id, body)])
    return CallbackEvent.objects.get(body=stored.body)
