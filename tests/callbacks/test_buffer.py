"""The Redis stream in front of the database: acknowledged only once stored, never stored twice."""

import threading

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from callbacks import buffer
from callbacks.models import CallbackEvent
from campaigns.models import Message

from .conftest import Hook
from .payloads import click, dlr, figures


@pytest.fixture
def bhook(client, account, buffered):
    return Hook(client, account, buffered=True)


def test_the_request_is_answered_once_redis_has_it(bhook, make_messages):
    broadcast, [message] = make_messages(1)
    bhook.ok("dlr", dlr(message))
    assert CallbackEvent.objects.count() == 0
    assert buffer.backlog() == 1
    bhook.settle()
    event = CallbackEvent.objects.get()
    assert event.buffer_id and event.applied_at and event.kind == "dlr"
    assert buffer.backlog() == 0
    assert figures(broadcast)["delivered"] == 1


def test_a_drainer_dying_after_commit_does_not_store_or_count_twice(bhook, make_messages, monkeypatch):
    broadcast, messages = make_messages(3)
    for message in messages:
        bhook.ok("dlr", dlr(message))
        bhook.ok("click", click(message))
    redis_client = buffer.client()

    class Dies:
        def __init__(self, *args, **kwargs):
            pass

        def __getattr__(self, name):
            raise ConnectionError("drainer killed before XACK")

    monkeypatch.setattr(redis_client, "pipeline", Dies)
    with pytest.raises(ConnectionError):
        buffer.drain_once(consumer="dead", block_ms=0)
    monkeypatch.undo()
    assert CallbackEvent.objects.count() == 6
    assert buffer.drain_once(consumer="alive", block_ms=0) == 0  # not idle long enough to take over
    monkeypatch.setattr(buffer, "CLAIM_IDLE_MS", 0)
    assert buffer.drain_once(consumer="alive", block_ms=0) == 6  # taken over from the dead one
    assert CallbackEvent.objects.count() == 6
    assert buffer.backlog() == 0
    counters = figures(broadcast)
    assert (counters["delivered"], counters["clicks_total"]) == (3, 3)


def test_redis_down_is_a_503_so_the_provider_retries(bhook, make_message, settings):
    message = make_message()
    settings.CALLBACK_REDIS_URL = "redis://127.0.0.1:1/0"
    response = bhook.post("dlr", dlr(message))
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert CallbackEvent.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_drain_command_once(bhook, make_messages, capsys):
    broadcast, messages = make_messages(5)
    for message in messages:
        bhook.ok("dlr", dlr(message, "EXPIRED"))
    call_command("drain_callbacks", "--once", "--batch", "2")
    assert capsys.readouterr().out.strip() == "moved 5 callback events"
    assert figures(broadcast)["expired"] == 5
    assert Message.objects.filter(status=Message.Status.EXPIRED).count() == 5


@pytest.mark.django_db(transaction=True)
def test_the_drainer_warns_at_start_when_redis_could_lose_events(buffered, caplog):
    config = buffer.client().config_get("appendonly") | buffer.client().config_get("maxmemory-policy")
    call_command("drain_callbacks", "--once")
    assert ("appendonly no" in caplog.text) == (config["appendonly"] != "yes")
    assert ("evicts keys" in caplog.text) == (config["maxmemory-policy"] != "noeviction")


def test_drain_command_needs_redis(direct):
    with pytest.raises(CommandError, match="no Redis"):
        call_command("drain_callbacks", "--once")


def test_an_unreadable_entry_is_dropped(buffered, db, caplog):
    buffer.client().xadd(buffered, {"junk": "1"})
    assert buffer.drain_once(consumer="test", block_ms=0) == 0
    assert buffer.backlog() == 0
    assert "Dropping unreadable" in caplog.text


def test_a_vanished_stream_is_reported(bhook, make_message, caplog):
    bhook.ok("dlr", dlr(make_message()))
    bhook.settle()
    buffer.client().delete(buffer.stream())  # as FLUSHDB would
    bhook.ok("dlr", dlr(make_message()))
    bhook.settle()
    assert "vanished" in caplog.text


def test_concurrent_requests_each_get_their_own_entry_once_redis_has_it(buffered):
    # A gunicorn process's threads share one pipeline (buffer._Adder): each push returns only
    # once its own entry is in the stream, whoever sent it.
    threads, start = 40, threading.Barrier(40)
    answers: dict[int, str] = {}

    def request(n):
        start.wait()
        answers[n] = buffer.push(account_id=n, kind="dlr", dedupe_key=f"k{n}", body=f'{{"n":{n}}}',
                                 received_at=timezone.now())
        assert buffer.client().xrange(buffered, answers[n], answers[n])  # there when answered

    workers = [threading.Thread(target=request, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert len(set(answers.values())) == threads
    stored = {entry_id.decode(): fields for entry_id, fields in buffer.client().xrange(buffered)}
    assert set(stored) == set(answers.values())
    assert {int(stored[entry][b"a"]): stored[entry][b"b"].decode() for entry in stored} == {
        n: f'{{"n":{n}}}' for n in range(threads)}


def test_a_refused_append_is_a_503_and_the_next_request_goes_through(bhook, make_message):
    message = make_message()
    buffer.client().set(buffer.stream(), "not a stream")  # Redis answers XADD with WRONGTYPE
    response = bhook.post("dlr", dlr(message))
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    buffer.client().delete(buffer.stream())
    bhook.ok("dlr", dlr(message))
    bhook.settle()
    assert CallbackEvent.objects.count() == 1
    assert Message.objects.get(pk=message.pk).status == Message.Status.DELIVERED
