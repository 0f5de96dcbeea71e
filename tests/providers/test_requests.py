"""What the provider receives: methods, body formats, placeholders and their escaping, auth, batches.

Each request test runs twice, through both HTTP clients we have: GenericTransport (the test-send
path, `requests`) and the bulk sender (`aio.AsyncSender` on our own HTTP/1.1 client, as dispatch
uses it). Both talk to the stub over real HTTP; the tests assert on the request as the provider
saw it.
"""

import base64
import json
from urllib.parse import unquote

import pytest

from campaigns.models import Message
from campaigns.tasks import submit_broadcast
from messaging.providers.base import ProviderError, transport_for
from messaging.providers.generic.aio import AsyncSender
from messaging.providers.generic.request import Prepared, Record, RequestTemplate, TemplateError
from tests.providers.stub import send_all

NASTY = 'Hi "Ann" & Bob\\ 50% off? a=b#c\r\nX-Injected: 1 — ü €'
REF = "6f1c2a58-7a0b-4a5e-9d55-2f0f8a8f2a10"


def send_one(account, body=NASTY, to="380501234567"):
    with transport_for(account) as transport:
        return transport.send(to=to, body=body, message_id=REF)


def send_bulk(account, body=NASTY, to="380501234567"):
    sender = AsyncSender(account.generic)
    try:
        [outcome] = send_all(sender, [(1, RequestTemplate(account.generic).single(Record(to, body, REF)), 1)],
                             timeout=30).values()
    finally:
        sender.close()
    if outcome.kind != "sent":
        raise ProviderError(outcome.error)
    return outcome.result


@pytest.fixture(params=["test send", "bulk"])
def send(request):
    return send_one if request.param == "test send" else send_bulk


def test_get_with_placeholders_in_endpoint_query_is_url_encoded(send, stub, make_account):
    account = make_account(method="GET",
                           endpoint=f"{stub.url}/rest?method=sms&mobile_no=$$To&content=$$Body&id=$$MessageID")
    send(account)
    [request] = stub.requests
    assert request.method == "GET" and request.path == "/rest"
    assert request.query == {"method": "sms", "mobile_no": "380501234567", "content": NASTY, "id": REF}
    assert request.body == b""


def test_get_parameters_go_to_the_query_string(send, stub, make_account):
    account = make_account(method="GET", params=[["to", "+$$To"], ["text", "$$Body"], ["sender", "EXPL"]])
    send(account)
    assert stub.requests[0].query == {"to": "+380501234567", "text": NASTY, "sender": "EXPL"}


def test_post_form_body(send, stub, make_account):
    account = make_account(body_format="form", params=[["to", "$$To"], ["text", "$$Body"], ["ref", "$$MessageID"]])
    send(account)
    [request] = stub.requests
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert request.form == {"to": "380501234567", "text": NASTY, "ref": REF}


def test_post_json_body_escapes_strings_and_keeps_structure(send, stub, make_account):
    account = make_account(body_template='{"to": ["$$To"], "sms": {"text": "$$Body", "ref": "$$MessageID"}, '
                                         '"n": 1, "flash": false, "note": "to $$To: $$Body"}')
    send(account)
    [request] = stub.requests
    assert request.headers["content-type"] == "application/json"
    assert request.json() == {"to": ["380501234567"], "sms": {"text": NASTY, "ref": REF}, "n": 1, "flash": False,
                              "note": f"to 380501234567: {NASTY}"}


def test_a_body_containing_a_placeholder_is_not_substituted_again(send, stub, make_account):
    account = make_account(body_template='{"text": "$$Body", "to": "$$To"}')
    send(account, body="say $$To and $$MessageID")
    assert stub.requests[0].json() == {"text": "say $$To and $$MessageID", "to": "380501234567"}


def test_placeholders_are_case_sensitive(send, stub, make_account):
    account = make_account(body_template='{"a": "$$to", "b": "$$BODY", "c": "$$To"}')
    send(account)
    assert stub.requests[0].json() == {"a": "$$to", "b": "$$BODY", "c": "380501234567"}


def test_raw_body_is_substituted_as_written(send, stub, make_account):
    account = make_account(body_format="raw", body_template="<sms to='$$To'>$$Body</sms>",
                           headers=[["Content-Type", "application/xml"]])
    send(account, body="hello")
    [request] = stub.requests
    assert request.body == b"<sms to='380501234567'>hello</sms>"
    assert request.headers["content-type"] == "application/xml"


def test_header_values_take_placeholders_and_cannot_inject_headers(send, stub, make_account):
    account = make_account(headers=[["X-To", "$$To"], ["X-Text", "$$Body"], ["X-Ref", "$$MessageID"],
                                    ["apikey", "secret-key"]])
    send(account)
    headers = stub.requests[0].headers
    assert headers["x-to"] == "380501234567" and headers["x-ref"] == REF and headers["apikey"] == "secret-key"
    assert "x-injected" not in headers
    assert "\r" not in headers["x-text"] and "\n" not in headers["x-text"]
    assert unquote(headers["x-text"]) == NASTY


def test_basic_auth(send, stub, make_account):
    account = make_account(auth="basic", username="msg91user", password="p@ss:word")
    send(account)
    auth = stub.requests[0].headers["authorization"]
    assert auth.startswith("Basic ")
    assert base64.b64decode(auth[6:]).decode() == "msg91user:p@ss:word"


def test_answers_are_classified(stub, make_account):
    account = make_account(response_id_field="data.0.id")
    stub.script = [(200, {}, '{"data": [{"id": "abc"}]}'), (400, {}, '{"error": "bad number"}'),
                   (503, {"Retry-After": "7"}, "busy")]
    assert send_one(account).provider_message_id == "abc"
    with pytest.raises(ProviderError) as bad:
        send_one(account)
    assert bad.value.permanent and "bad number" in str(bad.value)
    with pytest.raises(ProviderError) as busy:
        send_one(account)
    assert not busy.value.permanent and busy.value.retry_after == 7


def test_invalid_json_template_is_refused(make_account):
    account = make_account(body_template='{"to": "$$To",}')
    with pytest.raises(TemplateError):
        RequestTemplate(account.generic)


def test_batch_request_envelope_and_records(make_account):
    account = make_account(batch_enabled=True, batch_size=3,
                           batch_record_template='{"to": "$$To", "text": "$$Body", "ref": "$$MessageID"}',
                           batch_envelope='{"sender": "SHOP", "messages": "$$Records"}')
    template = RequestTemplate(account.generic)
    prepared = template.batch_request([Record("1", 'a"b', "r1"), Record("2", "c", "r2")])
    assert json.loads(prepared.body) == {"sender": "SHOP", "messages": [
        {"to": "1", "text": 'a"b', "ref": "r1"}, {"to": "2", "text": "c", "ref": "r2"}]}


@pytest.mark.django_db(transaction=True)
def test_batch_mode_dispatch_sends_up_to_batch_size_records_per_request(stub, make_account, make_broadcast):
    account = make_account(batch_enabled=True, batch_size=4,
                           batch_record_template='{"to": "$$To", "text": "$$Body", "ref": "$$MessageID"}',
                           batch_envelope='{"messages": "$$Records"}')
    broadcast, phones = make_broadcast(account, 10)
    submit_broadcast(broadcast.pk)
    sizes = [len(r.json()["messages"]) for r in stub.requests]
    assert sorted(sizes) == [2, 4, 4]
    sent = sorted(m["to"] for r in stub.requests for m in r.json()["messages"])
    assert sent == phones
    assert Message.objects.filter(broadcast=broadcast, status="submitted").count() == 10


def test_logs_carry_neither_the_query_nor_secrets(send, stub, make_account, caplog):
    account = make_account(method="GET", endpoint=f"{stub.url}/rest?text=$$Body&password=hunter2",
                           headers=[["apikey", "secret-key"]])
    with caplog.at_level("DEBUG"):
        send(account, body="private words")
    assert stub.requests[0].query["text"] == "private words"
    assert "private" not in caplog.text and "hunter2" not in caplog.text and "secret-key" not in caplog.text


@pytest.mark.parametrize("content_type", ["application/json", "application/vnd.acme+json; charset=utf-8"])
def test_raw_json_body_gets_the_message_escaped_as_json(send, stub, make_account, content_type):
    account = make_account(body_format="raw", body_template='{"to": "$$To", "text": "$$Body"}',
                           headers=[["Content-Type", content_type]])
    send(account)
    assert json.loads(stub.requests[0].body) == {"to": "380501234567", "text": NASTY}


def test_raw_form_body_gets_the_message_percent_encoded(send, stub, make_account):
    account = make_account(body_format="raw", body_template="to=$$To&text=$$Body&ref=$$MessageID",
                           headers=[["Content-Type", "application/x-www-form-urlencoded"]])
    send(account)
    assert stub.requests[0].form == {"to": "380501234567", "text": NASTY, "ref": REF}


def test_the_accounts_whatsapp_number_fills_its_placeholder(send, stub, make_account):
    account = make_account(body_template='{"integrated_number": "$$WhatsAppNumber", "to": "$$To"}',
                           whatsapp_number="918889500122")
    send(account)
    assert stub.requests[0].json() == {"integrated_number": "918889500122", "to": "380501234567"}
    account.generic.whatsapp_number = ""
    with pytest.raises(TemplateError, match="WhatsApp number"):
        RequestTemplate(account.generic)


@pytest.mark.parametrize("headers, problem", [
    ([["X-Sender", "Магазин"]], "plain ASCII"),
    ([["X Sender", "Shop"]], "not a valid header name"),
])
def test_headers_http_cannot_carry_are_refused_before_anything_is_sent(make_account, headers, problem):
    account = make_account(headers=headers)
    with pytest.raises(TemplateError, match=problem):
        RequestTemplate(account.generic)


@pytest.mark.parametrize("framing", ["length", "chunked", "close", "eof"])
def test_bulk_client_reads_every_kind_of_answer(stub, make_account, framing):
    """Keep-alive with Content-Length, chunked (split across writes, with an extension and a
    trailer), Connection: close, and a body that ends only when the provider closes."""
    stub.framing = framing
    stub.responder = lambda r: (200, {"Content-Type": "application/json"},
                                json.dumps({"message_id": f"p-{r.json()['to']}", "pad": "x" * 3000}))
    account = make_account(response_id_field="message_id", max_concurrency=4)
    template = RequestTemplate(account.generic)
    sender = AsyncSender(account.generic)
    try:
        outcomes = send_all(sender, [(i, template.single(Record(f"4470000000{i:02d}", "Hi", f"r{i}")), 1)
                                     for i in range(20)], timeout=30)
    finally:
        sender.close()
    assert {i: (o.kind, o.result.provider_message_id) for i, o in outcomes.items()} == {
        i: ("sent", f"p-4470000000{i:02d}") for i in range(20)}
    assert len(stub.requests) == 20  # each sent once: no answer was misread as lost


def test_a_job_that_cannot_be_sent_fails_alone(stub, make_account):
    """A request our client cannot write (say, a header value saved before it was checked) costs
    that message, with the reason, not the others in flight."""
    account = make_account(max_concurrency=2)
    good = RequestTemplate(account.generic).single(Record("447700900001", "Hi", "r1"))
    bad = Prepared(good.method, good.url, {**good.headers, "X-Sender": "Магазин"}, good.body)
    sender = AsyncSender(account.generic)
    try:
        outcomes = send_all(sender, [(1, good, 1), (2, bad, 1), (3, good, 1)], timeout=30)
    finally:
        sender.close()
    assert [outcomes[key].kind for key in (1, 2, 3)] == ["sent", "failed", "sent"]
    assert "UnicodeEncodeError" in outcomes[2].error
    assert len(stub.requests) == 2


def test_a_gateway_timeout_is_ambiguous_not_retried(stub, make_account):
    stub.default = (504, {}, "upstream timed out")
    account = make_account()
    with pytest.raises(ProviderError) as error:
        send_bulk(account)
    assert "504" in str(error.value) and len(stub.requests) == 1
