"""Sending and cancelling a broadcast leave an audit entry naming who did it."""

from django.urls import reverse

from campaigns.models import Broadcast
from messaging.models import AuditEvent

from .test_compose import compose_data


def test_send_and_cancel_are_recorded_once_each(admin_client, admin_user, audience, sandbox,
                                                django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):  # the estimate
        admin_client.post(reverse("campaigns:compose"), compose_data(
            audience, when="later", local_time="2031-07-06T10:00", zone="Europe/Kyiv"))
    broadcast = Broadcast.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(reverse("campaigns:broadcast_confirm", args=[broadcast.pk]), REMOTE_ADDR="192.0.2.44")
    broadcast.refresh_from_db()
    assert broadcast.state == Broadcast.State.SCHEDULED
    admin_client.post(reverse("campaigns:broadcast_cancel", args=[broadcast.pk]))

    events = AuditEvent.objects.filter(object_type="campaigns.broadcast", action__in=["send", "cancel"]).order_by("pk")
    assert [(e.action, e.actor, e.object_repr) for e in events] == [("send", admin_user, "Autumn"),
                                                                    ("cancel", admin_user, "Autumn")]
    assert events[0].changes == {"state": ["estimated", "scheduled"]} and events[0].ip == "192.0.2.44"
    created = AuditEvent.objects.get(object_type="campaigns.broadcast", action="create")
    assert created.changes["name"] == [None, "Autumn"] and created.actor == admin_user
