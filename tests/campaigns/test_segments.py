"""Continuing smart broadcasts with a new segment (/api/3/Segments)."""

import re
from datetime import UTC, datetime

import pytest
from django.urls import reverse

from campaigns.models import Broadcast, Template, Trigger
from campaigns.segments import segment_continue
from campaigns.sending import SubmissionProblem
from messaging.models import SenderList

from .conftest import synced
from .test_sending import run_task

SEGMENTS = "(?i)^/api/3/Segments$"


@pytest.fixture
def manual(make_broadcast):
    return run_task(make_broadcast(type=Broadcast.Type.SMART, eb_type="manual", first_segment_size=1))


@pytest.fixture
def ctr(make_broadcast):
    return run_task(make_broadcast(type=Broadcast.Type.SMART, eb_type="CTR", first_segment_size=1,
                                   next_segment_size=1, conversion_threshold=10,
                                   exp_date=datetime(2031, 1, 1, tzinfo=UTC)))


def test_continue_manual_smart_broadcast(manual, sandbox, audience):
    segment = segment_continue(manual, size=1, body="Second wave", senders=[audience["sender"]])
    [request] = sandbox.requests(method="POST", path=SEGMENTS)
    assert request["json"] == {"broadcast_id": manual.remote_id, "segment_size": 1, "message_body": "Second wave",
                               "sender_ids": str(audience["sender"].remote_id), "send_now": True, "utc_offset": 0}
    assert segment.remote_id and segment.error == ""
    assert manual.segments.count() == 2  # the first segment and this one


def test_continue_with_templates_and_sender_lists_at_a_local_time(manual, sandbox, audience, mw_account, mw):
    templates = [synced(Template, mw_account, mw.template_create(name=name, body=f"{name} offer"), name=name,
                        body=f"{name} offer") for name in ("Early", "Late")]
    senders = synced(SenderList, mw_account, mw.sender_list_create(name="Brand", sender_ids=[
        audience["sender"].remote_id]), name="Brand")
    senders.senders.add(audience["sender"])
    segment = segment_continue(manual, size=2, templates=templates, sender_lists=[senders],
                               send_at=datetime(2031, 7, 6, 7, 0, tzinfo=UTC))
    [request] = sandbox.requests(method="POST", path=SEGMENTS)
    assert request["json"] == {
        "broadcast_id": manual.remote_id, "segment_size": 2,
        # the prose lists message_body and sender_ids as required: the first template's body and the
        # list's senders go with the templates and the list (ASSUMPTIONS.md)
        "message_body": "Early offer", "sender_ids": str(audience["sender"].remote_id),
        "template_ids": f"{templates[0].remote_id},{templates[1].remote_id}",
        "sender_list_ids": str(senders.remote_id), "send_now": False, "send_date": "2031-07-06T07:00:00.000Z",
        "utc_offset": 0,  # a UTC send_date means the same instant however MessageWhiz reads it
    }
    assert list(segment.templates.all()) == templates and segment.utc_offset == 0
    assert sandbox.state("segments")[-1]["send_time"] == "2031-07-06 07:00:00"  # read as local time: still 07:00 UTC


def test_continue_when_a_trigger_fires(manual, sandbox, audience, mw_account, mw):
    trigger = synced(Trigger, mw_account, mw.trigger_create(name="Opened"), name="Opened")
    segment_continue(manual, size=1, body="Go", senders=[audience["sender"]], trigger=trigger)
    [request] = sandbox.requests(method="POST", path=SEGMENTS)
    assert (request["json"]["trigger_id"], request["json"]["send_now"]) == (trigger.remote_id, False)


def test_continue_paused_ctr_with_its_next_batch(ctr, sandbox, audience):
    with pytest.raises(SubmissionProblem, match="first and next segment sizes"):
        segment_continue(ctr, size=1, body="More", senders=[audience["sender"]])
    with pytest.raises(SubmissionProblem, match="greater than 2"):
        segment_continue(ctr, size=1, body="More", senders=[audience["sender"]], first_segment_size=1,
                         next_segment_size=1, recipient_cap=2)
    segment_continue(ctr, size=1, body="More", senders=[audience["sender"]], first_segment_size=1,
                     next_segment_size=1, recipient_cap=10)
    [request] = sandbox.requests(method="POST", path=SEGMENTS)
    assert request["json"] == {"broadcast_id": ctr.remote_id, "segment_size": 1, "message_body": "More",
                               "sender_ids": str(audience["sender"].remote_id), "send_now": True, "utc_offset": 0,
                               "recipient_cap": 10, "first_segment_size": 1, "next_segment_size": 1}


def test_server_error_keeps_the_segment_as_unconfirmed(manual, sandbox, audience):
    sandbox.faults(fail_next=[{"status": 503, "apply": True}])
    with pytest.raises(SubmissionProblem, match="no clear answer"):
        segment_continue(manual, size=1, body="x", senders=[audience["sender"]])
    assert manual.segments.last().error.startswith("Unconfirmed")


def test_base_broadcast_cannot_be_continued(make_broadcast, sandbox, audience, admin_client):
    broadcast = run_task(make_broadcast())
    with pytest.raises(SubmissionProblem, match="smart broadcast"):
        segment_continue(broadcast, size=1, body="x", senders=[audience["sender"]])
    response = admin_client.get(reverse("campaigns:broadcast_continue", args=[broadcast.pk]), follow=True)
    assert "Only a submitted smart broadcast" in response.content.decode()


def test_continue_from_the_broadcast_page(admin_client, ctr, sandbox, audience):
    detail = admin_client.get(reverse("campaigns:broadcast_detail", args=[ctr.pk])).content.decode()
    url = reverse("campaigns:broadcast_continue", args=[ctr.pk])
    assert url in detail
    page = admin_client.get(url).content.decode()
    assert "data-token-values" in page and 'name="recipient_cap"' in page
    assert f'value="{audience["sender"].pk}" selected' in page  # the broadcast's senders to start with

    post = {"size": "2", "body": "Second wave", "when": "later", "local_time": "2031-07-06T10:00",
            "zone": "Europe/Kyiv", "first_segment_size": "1", "next_segment_size": "1", "recipient_cap": ""}
    page = admin_client.post(url, post).content.decode()
    assert "Choose at least one sender or sender list." in page
    page = admin_client.post(url, {**post, "senders": [audience["sender"].pk], "zone": "Mars/Olympus"})
    assert page.status_code == 200 and "Select a valid choice" in page.content.decode()
    page = admin_client.post(url, {**post, "senders": [audience["sender"].pk], "when": "trigger"})
    assert "Choose the trigger that releases the segment." in page.content.decode()
    assert sandbox.requests(method="POST", path=SEGMENTS) == []

    # First the estimate and nothing sent; then the confirmation of what was estimated sends it.
    page = admin_client.post(url, {**post, "senders": [audience["sender"].pk]}).content.decode()
    assert "Send <strong>2</strong> messages (2 SMS parts)" in page
    assert sandbox.requests(method="POST", path=SEGMENTS) == []
    key = re.search(r'name="estimate_key" value="(\w+)"', page)[1]
    response = admin_client.post(url, {**post, "senders": [audience["sender"].pk], "confirm": "1",
                                       "estimate_key": key}, follow=True)
    assert "Segment of 2 recipients sent" in response.content.decode()
    [request] = sandbox.requests(method="POST", path=SEGMENTS)
    assert request["json"] == {
        "broadcast_id": ctr.remote_id, "segment_size": 2, "message_body": "Second wave",
        "sender_ids": str(audience["sender"].remote_id), "send_now": False, "send_date": "2031-07-06T07:00:00.000Z",
        "utc_offset": 0, "recipient_cap": "no limit", "first_segment_size": 1, "next_segment_size": 1,
    }


def test_a_segment_is_capped_at_the_recipients_left_and_estimated_before_it_is_sent(admin_client, manual, sandbox,
                                                                                      audience):
    url = reverse("campaigns:broadcast_continue", args=[manual.pk])
    post = {"size": "3", "body": "Hi {{first_name}}, second wave", "when": "now", "zone": "UTC",
            "senders": [audience["sender"].pk]}
    page = admin_client.post(url, post).content.decode()  # 3 recipients, 1 had the first segment
    assert "Only 2 recipients have not had a message yet: a segment can have at most 2." in page
    with pytest.raises(SubmissionProblem, match="at most 2"):
        segment_continue(manual, size=3, body="x", senders=[audience["sender"]])

    page = admin_client.post(url, {**post, "size": "2"}).content.decode()
    assert 'id="segment-estimate"' in page and "Send <strong>2</strong> messages" in page
    key = re.search(r'name="estimate_key" value="(\w+)"', page)[1]
    # Changed after its estimate: estimated again, not sent.
    page = admin_client.post(url, {**post, "size": "1", "confirm": "1", "estimate_key": key}).content.decode()
    assert "The segment changed after its estimate" in page and "Send <strong>1</strong> message" in page
    assert sandbox.requests(method="POST", path=SEGMENTS) == []
    admin_client.post(url, {**post, "size": "2", "confirm": "1", "estimate_key": key})
    [request] = sandbox.requests(method="POST", path=SEGMENTS)
    assert request["json"]["segment_size"] == 2
    page = admin_client.post(url, {**post, "size": "1"}).content.decode()
    assert "Only 0 recipients have not had a message yet" in page


def test_a_segment_refuses_token_fallbacks_messagewhiz_cannot_fill(manual, sandbox, audience):
    with pytest.raises(SubmissionProblem, match="has no fallbacks"):
        segment_continue(manual, size=1, body="Hi {{first_name|there}}", senders=[audience["sender"]])
    assert sandbox.requests(method="POST", path=SEGMENTS) == []


def test_a_segment_writes_named_columns_as_the_token_messagewhiz_fills(admin_client, manual, sandbox, audience):
    from recipients.models import RecipientList

    RecipientList.objects.filter(pk=audience["list"].pk).update(column_names={"custom2": "city"})
    url = reverse("campaigns:broadcast_continue", args=[manual.pk])
    post = {"size": "1", "body": "Still in {{ city }}?", "when": "now", "zone": "UTC",
            "senders": [audience["sender"].pk]}
    page = admin_client.post(url, post).content.decode()
    key = re.search(r'name="estimate_key" value="(\w+)"', page)[1]
    admin_client.post(url, {**post, "confirm": "1", "estimate_key": key})
    [request] = sandbox.requests(method="POST", path=SEGMENTS)
    assert request["json"]["message_body"] == "Still in {{custom2}}?"
