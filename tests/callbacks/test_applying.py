"""Statuses move forward only, repeats change nothing, counters follow, unknown messages wait."""

import random
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.utils import timezone

from callbacks import services
from callbacks.models import CallbackEvent, Click, EventReference
from callbacks.tasks import apply_pending
from campaigns.models import Message
from campaigns.signals import messages_identified

from .payloads import click, dlr, event, figures, webhook_entry

S = Message.Status


def test_duplicates_change_nothing(hook, make_messages):
    broadcast, [message] = make_messages(1)
    for _ in range(3):
        hook.ok("dlr", dlr(message, "DELIVRD", price=0.5))
        hook.ok("click", click(message))
        hook.ok("dlr_batch", {"dlrs": [webhook_entry(message, 2, price=0.5)]})
    hook.settle()
    counters = figures(broadcast)
    assert (counters["delivered"], counters["cost"], counters["clicks_total"], counters["clicks_unique"]) == (
        1, Decimal("0.5000"), 1, 1)
    assert CallbackEvent.objects.count() == 9  # every request is kept, applied once
    assert CallbackEvent.objects.filter(applied_at__isnull=True).count() == 0
    assert len(set(CallbackEvent.objects.values_list("dedupe_key", flat=True))) == 3


def test_late_enroute_does_not_undo_delivered(hook, make_messages):
    broadcast, [message] = make_messages(1)
    hook.ok("dlr", dlr(message, "DELIVRD"))
    hook.ok("dlr", dlr(message, "ENROUTE"))
    hook.ok("dlr_batch", {"dlrs": [webhook_entry(message, 0)]})
    hook.settle()
    message.refresh_from_db()
    assert message.status == S.DELIVERED
    assert figures(broadcast)["delivered"] == 1


def test_final_is_final_but_unknown_gives_way(hook, make_messages):
    broadcast, [a, b] = make_messages(2)
    hook.ok("dlr", dlr(a, "DELIVRD"))
    hook.ok("dlr", dlr(a, "UNDELIV"))  # a second final answer: the first one stands
    hook.ok("dlr", dlr(b, "UNKNOWN"))
    hook.settle()
    assert figures(broadcast)["unknown"] == 1
    hook.ok("dlr", dlr(b, "EXPIRED"))  # a definite answer after UNKNOWN moves it between buckets
    hook.settle()
    assert [Message.objects.get(pk=m.pk).status for m in (a, b)] == [S.DELIVERED, S.EXPIRED]
    counters = figures(broadcast)
    assert (counters["delivered"], counters["undelivered"], counters["unknown"], counters["expired"]) == (1, 0, 0, 1)


def test_enroute_then_final_counts_once_and_price_is_not_added_twice(hook, make_messages):
    broadcast, [message] = make_messages(1)
    hook.ok("dlr", dlr(message, "ENROUTE", price=0.3))
    hook.ok("dlr", dlr(message, "ACCEPTD", price=0.3))
    hook.ok("dlr", dlr(message, "DELIVRD", price=0.3))
    hook.settle()
    counters = figures(broadcast)
    assert (counters["sent"], counters["delivered"], counters["cost"]) == (1, 1, Decimal("0.3000"))


def test_a_message_still_queued_here_is_counted_as_sent(hook, make_broadcast, make_message):
    broadcast = make_broadcast(recipients=0)
    message = make_message(broadcast, status=S.QUEUED)
    hook.ok("dlr", dlr(message, "REJECTD"))
    hook.settle()
    counters = figures(broadcast)
    assert (counters["sent"], counters["rejected"]) == (1, 1)


def test_deleted_counts_as_undelivered(hook, make_messages):
    broadcast, [message] = make_messages(1)
    hook.ok("dlr", dlr(message, "DELETED"))
    hook.settle()
    assert figures(broadcast)["undelivered"] == 1


def test_single_messages_without_broadcast(hook, make_message):
    message = make_message(provider_message_id="")
    hook.ok("dlr", dlr(message, "DELIVRD") | {"message_id": "learned-id"})
    hook.ok("click", click(message) | {"message_id": "learned-id"})
    hook.settle()
    message.refresh_from_db()
    # Found by client_ref before the send service stored the provider's id: the DLR teaches it,
    # and the click that names the message only by that id finds it.
    assert (message.status, message.provider_message_id, message.clicks) == (S.DELIVERED, "learned-id", 1)


def test_events_for_unknown_messages_are_applied_when_the_message_appears(hook, make_broadcast, make_message):
    broadcast = make_broadcast(recipients=2)
    hook.ok("dlr", {"message_id": "mw-later", "status": "DELIVRD", "price": 1})
    hook.ok("click", {"message_id": "mw-later", "link_id": "hkzt.me/a", "time": "2024-01-01T10:00:00Z"})
    hook.ok("dlr_batch", {"dlrs": [{"_id": "wh-1", "broadcast_id": broadcast.remote_id, "recipient": "380671112233",
                                    "price": 2, "task_state": 8}]})
    hook.settle()
    assert CallbackEvent.objects.filter(applied_at__isnull=True).count() == 3

    first = make_message(broadcast, provider_message_id="mw-later")
    outcome = services.apply_pending_for(message_ids=[first.pk])
    # Only the two events naming that message were tried; the batch still waits for its own.
    assert (outcome.events, outcome.status_changes, outcome.clicks, outcome.pending) == (2, 1, 1, 0)
    assert CallbackEvent.objects.filter(applied_at__isnull=True).count() == 1
    second = make_message(broadcast, phone="380671112233")
    apply_pending.delay()  # the beat sweep (eager in tests)
    assert [Message.objects.get(pk=m.pk).status for m in (first, second)] == [S.DELIVERED, S.REJECTED]
    counters = figures(broadcast)
    assert (counters["delivered"], counters["rejected"], counters["cost"], counters["clicks_unique"]) == (
        1, 1, Decimal("3.0000"), 1)
    assert CallbackEvent.objects.filter(applied_at__isnull=True).count() == 0


def test_a_new_message_costs_a_lookup_not_a_retry_of_every_waiting_event(hook, make_broadcast, make_message):
    broadcast = make_broadcast(recipients=1)
    for n in range(40):  # a backlog of reports for messages that never appear
        hook.ok("dlr", {"message_id": f"stranger-{n}", "status": "DELIVRD"})
    hook.ok("dlr_batch", {"dlrs": [{"_id": "wh-9", "broadcast_id": broadcast.remote_id, "recipient": "380671119999",
                                    "task_state": 2}]})
    hook.settle()
    assert EventReference.objects.count() == 40 + 3  # the batch entry: its message two ways, its broadcast
    message = make_message(broadcast, phone="380671119999")
    messages_identified.send(sender=Message, message_ids=[message.pk])  # what campaigns sends
    assert Message.objects.get(pk=message.pk).status == S.DELIVERED
    assert CallbackEvent.objects.filter(applied_at__isnull=True).count() == 40
    assert EventReference.objects.count() == 40  # the applied event's keys are gone with it
    assert services.apply_pending_for(message_ids=[message.pk]).events == 0
    assert figures(broadcast)["delivered"] == 1


def test_reports_for_a_broadcast_are_applied_when_its_messages_are_made(hook, make_broadcast, make_message):
    broadcast = make_broadcast(recipients=2)
    for n, phone in enumerate(("380671110001", "380671110002")):  # one batch each
        hook.ok("dlr_batch", {"dlrs": [{"_id": f"wh-{n}", "broadcast_id": broadcast.remote_id, "recipient": phone,
                                        "task_state": 2}]})
    hook.settle()
    for phone in ("380671110001", "380671110002"):
        make_message(broadcast, phone=phone)
    messages_identified.send(sender=Message, broadcast_remote_ids=[broadcast.remote_id])  # what sending sends
    assert not CallbackEvent.objects.filter(applied_at__isnull=True).exists()
    assert figures(broadcast)["delivered"] == 2


def test_a_batch_with_one_unknown_entry_applies_the_rest_now(hook, make_messages):
    broadcast, [known] = make_messages(1)
    unknown = {"_id": "nope", "broadcast_id": broadcast.remote_id, "recipient": "380990000000", "task_state": 2}
    hook.ok("dlr_batch", {"dlrs": [webhook_entry(known, 5), unknown]})
    hook.settle()
    assert Message.objects.get(pk=known.pk).status == S.UNDELIVERED
    assert CallbackEvent.objects.get().applied_at is None  # still waiting for the other entry
    assert services.apply_pending().status_changes == 0  # retrying does not count the first twice
    assert figures(broadcast)["undelivered"] == 1


def test_another_accounts_token_cannot_touch_a_message(hook, make_messages, make_broadcast):
    from messaging.models import ProviderAccount

    _broadcast, [message] = make_messages(1)
    other = ProviderAccount.objects.create(name="Other", api_key="k-2")
    response = hook.post("dlr", dlr(message, "DELIVRD"), token=other.callback_token)
    assert response.status_code == 200  # accepted and kept: for that account it is an unknown message
    hook.settle()
    assert Message.objects.get(pk=message.pk).status == S.SUBMITTED
    assert CallbackEvent.objects.get().applied_at is None


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_any_arrival_order_gives_the_same_figures(direct, make_messages, seed):
    """Concurrency seen from the outside: events for one broadcast in random orders, applied in
    random groups, repeats included, always end in the same state (and match a recount)."""
    broadcast, messages = make_messages(30)
    rng = random.Random(seed)
    finals = ["DELIVRD", "UNDELIV", "EXPIRED", "REJECTD", "FAILED", "UNKNOWN", "DELETED"]
    bodies = []
    for index, message in enumerate(messages):
        final = finals[index % len(finals)]
        bodies += [dlr(message, "ENROUTE", price=0.1), dlr(message, final, price=0.1)]
        if index % 3 == 0:
            bodies += [click(message), click(message, link="hkzt.me/b"), click(message)]
    bodies += rng.sample(bodies, 20)  # repeats
    rng.shuffle(bodies)
    events = [event(messages[0].account_id, body) for body in bodies]
    while events:
        size = rng.randint(1, 15)
        services.events_record(events[:size])
        events = events[size:]
    counters = figures(broadcast)
    expected_final = {"DELIVRD": "delivered", "UNDELIV": "undelivered", "EXPIRED": "expired", "REJECTD": "rejected",
                      "FAILED": "failed", "UNKNOWN": "unknown", "DELETED": "undelivered"}
    for name in ("delivered", "undelivered", "expired", "rejected", "failed", "unknown"):
        assert counters[name] == sum(1 for i in range(30) if expected_final[finals[i % 7]] == name)
    assert (counters["clicks_total"], counters["clicks_unique"], counters["cost"]) == (20, 10, Decimal("3.0000"))


def test_replay_changes_nothing_once_applied(hook, make_messages, capsys):
    broadcast, messages = make_messages(3)
    for message in messages:
        hook.ok("dlr", dlr(message, "DELIVRD"))
        hook.ok("click", click(message))
    hook.ok("dlr", {"message_id": "not-yet", "status": "FAILED"})
    hook.settle()
    before = figures(broadcast)
    call_command("replay_callbacks")
    assert capsys.readouterr().out.strip() == "events: 7, status changes: 0, clicks added: 0, still pending: 1"
    assert figures(broadcast) == before
    assert Click.objects.count() == 3


def test_replay_filters_and_applies_what_became_known(hook, make_messages, make_message, capsys):
    broadcast, [_message] = make_messages(1)
    hook.ok("dlr", {"message_id": "arrives-later", "status": "FAILED"})
    hook.settle()
    make_message(broadcast, provider_message_id="arrives-later")
    call_command("replay_callbacks", "--since", "2000-01-01T00:00", "--account", hook.account.name)
    assert "status changes: 1" in capsys.readouterr().out
    call_command("replay_callbacks", "--since", "2999-01-01T00:00+02:00")
    assert capsys.readouterr().out.startswith("events: 0,")


def test_replay_rejects_bad_arguments(db):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="No provider account"):
        call_command("replay_callbacks", "--account", "nobody")
    with pytest.raises(CommandError, match="--since"):
        call_command("replay_callbacks", "--since", "last tuesday")


def test_a_failure_while_applying_still_stores_the_event(direct_hook, make_messages, monkeypatch):
    broadcast, [message] = make_messages(1)

    def broken(*args, **kwargs):
        raise RuntimeError("bug")

    monkeypatch.setattr(services, "_write_counters", broken)
    assert direct_hook.post("dlr", dlr(message)).status_code == 200
    event = CallbackEvent.objects.get()
    assert event.applied_at is None
    assert Message.objects.get(pk=message.pk).status == S.SUBMITTED  # rolled back together
    monkeypatch.undo()
    assert services.apply_pending().status_changes == 1
    assert figures(broadcast)["delivered"] == 1


def test_one_bad_stored_event_does_not_hold_back_the_others(direct, make_messages):
    _broadcast, [message] = make_messages(1)
    bad = CallbackEvent.objects.create(account_id=message.account_id, kind="dlr", body="{corrupt", dedupe_key="x",
                                       received_at=message.submitted_at or timezone.now())
    good = event(message.account_id, dlr(message))
    good.save()
    outcome = services.apply_pending()
    assert (outcome.status_changes, outcome.pending) == (1, 1)
    assert CallbackEvent.objects.get(pk=bad.pk).applied_at is None
    assert CallbackEvent.objects.get(pk=good.pk).applied_at is not None
