"""Compose → review → confirm, as a marketer does it in the dashboard."""

from django.urls import reverse

from campaigns.models import Broadcast, RecurringBroadcast


def compose_data(audience, **extra):
    return {"account": audience["campaign"].account_id, "name": "Autumn", "campaign": audience["campaign"].pk,
            "type": 11, "senders": [audience["sender"].pk], "recipient_lists": [audience["list"].pk],
            "body": "Hi {{first_name}}, 20% off", "when": "now", "zone": "UTC", **extra}


def test_compose_review_and_send_now(admin_client, audience, sandbox, django_capture_on_commit_callbacks):
    page = admin_client.get(reverse("campaigns:compose"))
    assert page.status_code == 200 and b'data-sms-counter="sms-count"' in page.content
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(reverse("campaigns:compose"), compose_data(audience))
    broadcast = Broadcast.objects.get()
    assert response["Location"] == reverse("campaigns:broadcast_review", args=[broadcast.pk])
    review = admin_client.get(response["Location"]).content.decode()
    assert "Hi , 20% off" in review  # rendered for real recipients (no first names in this list)
    assert "Send <strong>3</strong> messages" in review
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(reverse("campaigns:broadcast_confirm", args=[broadcast.pk]))
    broadcast.refresh_from_db()
    assert broadcast.state == Broadcast.State.SUBMITTED
    assert len(sandbox.state("broadcasts")) == 1


def test_compose_explains_what_is_missing(admin_client, audience):
    response = admin_client.post(reverse("campaigns:compose"), compose_data(audience, body="", recipient_lists=[],
                                                                            when="later"))
    page = response.content.decode()
    assert response.status_code == 200
    assert "Write a message or choose a template." in page
    assert "Choose at least one recipient list." in page
    assert "Choose when to send." in page
    assert not Broadcast.objects.exists()


def test_compose_scheduled_in_local_time(admin_client, audience, sandbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(reverse("campaigns:compose"), compose_data(
            audience, when="later", local_time="2031-07-06T10:00", zone="Europe/Kyiv"))
    broadcast = Broadcast.objects.get()
    assert broadcast.send_at.isoformat() == "2031-07-06T07:00:00+00:00"
    admin_client.post(reverse("campaigns:broadcast_confirm", args=[broadcast.pk]))
    broadcast.refresh_from_db()
    assert broadcast.state == Broadcast.State.SCHEDULED


def test_compose_recurring(admin_client, audience, sandbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(reverse("campaigns:compose"), compose_data(
            audience, when="recurring", repeat_days="1", repeat_time="10:00", zone="Europe/Kyiv"))
    broadcast = Broadcast.objects.get()
    admin_client.post(reverse("campaigns:broadcast_confirm", args=[broadcast.pk]))
    recurrence = RecurringBroadcast.objects.get()
    assert recurrence.enabled and recurrence.periodic_task.enabled
    listing = admin_client.get(reverse("campaigns:broadcast_list")).content.decode()
    assert "mondays at 10:00 Europe/Kyiv" in listing
