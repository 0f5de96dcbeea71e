"""Continuing smart broadcasts with a new segment."""

import pytest

from campaigns.models import Broadcast
from campaigns.segments import segment_continue
from campaigns.sending import SubmissionProblem

from .test_sending import run_task


def test_continue_manual_smart_broadcast(make_broadcast, sandbox, audience):
    broadcast = run_task(make_broadcast(type=Broadcast.Type.SMART, eb_type="manual", first_segment_size=1))
    segment = segment_continue(broadcast, size=1, body="Second wave", senders=[audience["sender"]])
    [request] = sandbox.requests(method="POST", path="^/api/3/Segments$")
    assert request["json"] == {"broadcast_id": broadcast.remote_id, "segment_size": 1, "message_body": "Second wave",
                               "sender_ids": str(audience["sender"].remote_id), "send_now": True, "utc_offset": 0}
    assert segment.remote_id and segment.error == ""
    assert broadcast.segments.count() == 2  # the first segment and this one


def test_continue_ctr_needs_its_parameters(make_broadcast, sandbox, audience):
    from datetime import UTC, datetime

    broadcast = run_task(make_broadcast(type=Broadcast.Type.SMART, eb_type="CTR", first_segment_size=1,
                                        next_segment_size=1, conversion_threshold=10,
                                        exp_date=datetime(2027, 1, 1, tzinfo=UTC)))
    with pytest.raises(SubmissionProblem, match="first and next segment sizes"):
        segment_continue(broadcast, size=1, body="More", senders=[audience["sender"]])
    segment_continue(broadcast, size=1, body="More", senders=[audience["sender"]], first_segment_size=1,
                     next_segment_size=1, recipient_cap=10)
    [request] = sandbox.requests(method="POST", path="^/api/3/Segments$")
    assert (request["json"]["recipient_cap"], request["json"]["first_segment_size"]) == (10, 1)


def test_base_broadcast_cannot_be_continued(make_broadcast, sandbox, audience):
    broadcast = run_task(make_broadcast())
    with pytest.raises(SubmissionProblem, match="smart broadcast"):
        segment_continue(broadcast, size=1, body="x", senders=[audience["sender"]])


def test_continue_from_the_broadcast_page(admin_client, make_broadcast, sandbox, audience):
    from django.urls import reverse

    broadcast = run_task(make_broadcast(type=Broadcast.Type.SMART, eb_type="manual", first_segment_size=1))
    page = admin_client.get(reverse("campaigns:broadcast_detail", args=[broadcast.pk])).content.decode()
    assert "Continue with another segment" in page
    response = admin_client.post(reverse("campaigns:broadcast_continue", args=[broadcast.pk]),
                                 {"size": "2", "body": "Second wave"}, follow=True)
    assert "Segment of 2 recipients sent" in response.content.decode()
    assert sandbox.requests(method="POST", path="^/api/3/Segments$")[0]["json"]["segment_size"] == 2
