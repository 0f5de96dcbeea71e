"""A marketer composes and sends through an HTTP provider from the same pages as for MessageWhiz."""

from django.urls import reverse

from campaigns.models import Broadcast


def test_compose_review_send_through_a_generic_provider(admin_client, make_account, audience, stub,
                                                       django_capture_on_commit_callbacks):
    account = make_account()
    recipient_list, phones = audience(account, count=3)
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(reverse("campaigns:compose"), {
            "account": account.pk, "name": "Via HTTP", "type": 11, "recipient_lists": [recipient_list.pk],
            "body": "Hi {{first_name}}", "when": "now", "zone": "UTC",
        })
    assert response.status_code == 302, response.content.decode()[:2000]
    broadcast = Broadcast.objects.get()
    review = admin_client.get(response["Location"]).content.decode()
    assert "Send <strong>3</strong> messages" in review
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(reverse("campaigns:broadcast_confirm", args=[broadcast.pk]))
    broadcast.refresh_from_db()
    assert broadcast.state in (Broadcast.State.SUBMITTED, Broadcast.State.COMPLETED)
    assert sorted(request.json()["to"] for request in stub.requests) == sorted(phones)
    detail = admin_client.get(reverse("campaigns:broadcast_detail", args=[broadcast.pk])).content.decode()
    assert reverse("campaigns:broadcast_dispatch", args=[broadcast.pk]) in detail


def test_messagewhiz_still_needs_a_campaign_and_sender(admin_client, mw_account):
    response = admin_client.post(reverse("campaigns:compose"), {
        "account": mw_account.pk, "name": "X", "type": 11, "body": "Hi", "when": "now", "zone": "UTC"})
    page = response.content.decode()
    assert "choose one" in page and "Choose at least one sender" in page
