"""Drafts are edited, duplicated, deleted and test-sent; fallbacks such as {{first_name|there}}."""

import pytest
from django.urls import reverse

from campaigns.drafts import DraftProblem, broadcast_delete, broadcast_test_send
from campaigns.estimates import broadcast_estimate, reconciled_estimate
from campaigns.models import Broadcast, RecurringBroadcast, SendingProfile
from messaging.models import GenericProviderConfig, ProviderAccount
from recipients.models import Recipient, RecipientList

from .test_compose import compose_data
from .test_sending import run_task


@pytest.fixture
def composed(admin_client, audience, sandbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(reverse("campaigns:compose"), compose_data(audience))
    broadcast = Broadcast.objects.get()
    assert broadcast.state == Broadcast.State.ESTIMATED
    return broadcast


def test_edit_a_draft_takes_it_back_for_a_new_estimate(admin_client, composed, audience,
                                                       django_capture_on_commit_callbacks):
    url = reverse("campaigns:broadcast_edit", args=[composed.pk])
    page = admin_client.get(url).content.decode()
    assert "Edit “Autumn”" in page and "Hi {{first_name}}, 20% off" in page
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(url, compose_data(audience, name="Autumn v2", body="Hello {{first_name|there}}",
                                                       account=composed.account_id))
    assert response["Location"] == reverse("campaigns:broadcast_review", args=[composed.pk])
    composed.refresh_from_db()
    assert (composed.name, composed.body, Broadcast.objects.count()) == ("Autumn v2", "Hello {{first_name|there}}", 1)
    # Back to draft through the state machine; the new estimate finds the fallback MessageWhiz can't fill.
    assert [(e.to_state, e.reason) for e in composed.events.all()] == [("estimated", "Estimated"), ("draft", "Edited")]
    assert composed.state == Broadcast.State.DRAFT and composed.estimated_at is not None
    # MessageWhiz fills in tokens itself and has no fallbacks: the review refuses to send it.
    review = admin_client.get(response["Location"]).content.decode()
    assert "has no fallbacks" in review and "Hello there" in review  # previewed as we would render it
    assert 'class="card confirm"' not in review


def test_a_sent_broadcast_is_not_edited_or_deleted(admin_client, make_broadcast, sandbox):
    sent = run_task(make_broadcast())
    for name in ("broadcast_edit", "broadcast_delete"):
        page = admin_client.get(reverse(f"campaigns:{name}", args=[sent.pk]), follow=True).content.decode()
        assert "only drafts and estimated broadcasts not sent yet can be changed" in page
    with pytest.raises(DraftProblem):
        broadcast_delete(sent)
    response = admin_client.post(reverse("campaigns:broadcast_edit", args=[sent.pk]), {"name": "x"})
    assert response.status_code == 302
    sent.refresh_from_db()
    assert sent.name == "Autumn sale" and sent.state == Broadcast.State.SUBMITTED


def test_duplicate_makes_a_draft_copy(admin_client, make_broadcast, sandbox, audience):
    sent = run_task(make_broadcast())
    response = admin_client.post(reverse("campaigns:broadcast_duplicate", args=[sent.pk]))
    copy = Broadcast.objects.exclude(pk=sent.pk).get()
    assert response["Location"] == reverse("campaigns:broadcast_edit", args=[copy.pk])
    assert (copy.name, copy.state, copy.body) == ("Copy of Autumn sale", Broadcast.State.DRAFT, sent.body)
    assert list(copy.recipient_lists.all()) == [audience["list"]] and list(copy.senders.all()) == [audience["sender"]]
    assert (copy.remote_id, copy.sent, copy.recipients_count) == (None, 0, 0)


def test_delete_asks_first(admin_client, composed):
    url = reverse("campaigns:broadcast_delete", args=[composed.pk])
    page = admin_client.get(url).content.decode()
    assert "Delete the draft “Autumn”?" in page and Broadcast.objects.exists()
    response = admin_client.post(url, follow=True)
    assert "Deleted the draft “Autumn”." in response.content.decode()
    assert not Broadcast.objects.exists()


def test_test_send_to_my_number_leaves_the_broadcast_alone(admin_client, admin_user, composed, sandbox,
                                                           django_capture_on_commit_callbacks):
    url = reverse("campaigns:broadcast_test_send", args=[composed.pk])
    assert admin_client.post(url, {"to": "me", "phone": "12"}).status_code == 200  # refused with the reason
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(url, {"to": "me", "phone": "+380 50 999 00 11"})
    test = Broadcast.objects.get(test_of=composed)
    assert response["Location"] == reverse("campaigns:broadcast_detail", args=[test.pk])
    test.refresh_from_db()
    assert (test.type, test.recipient, test.state) == (Broadcast.Type.SINGLE, "380509990011", Broadcast.State.SUBMITTED)
    [remote] = sandbox.state("broadcasts")
    assert remote["id"] == test.remote_id
    [request] = sandbox.requests(method="POST", path="(?i)^/api/3/broadcast$")
    assert request["json"]["recipient"] in ("380509990011", 380509990011)
    assert request["json"]["message_body"] == "Hi {{first_name}}, 20% off"
    composed.refresh_from_db()
    assert (composed.state, composed.sent, composed.remote_id) == (Broadcast.State.ESTIMATED, 0, None)
    assert SendingProfile.objects.get(user=admin_user).phone == "380509990011"
    assert 'value="380509990011"' in admin_client.get(url).content.decode()  # remembered


def test_test_send_to_a_seed_list(admin_user, composed, sandbox, audience):
    big = RecipientList.objects.create(account=composed.account, name="Everyone")
    Recipient.objects.bulk_create(Recipient(recipient_list=big, phone=f"3805000{n:05d}") for n in range(30))
    with pytest.raises(DraftProblem, match="at most 25"):
        broadcast_test_send(composed, seed_list=big, actor=admin_user)
    test = run_task(broadcast_test_send(composed, seed_list=audience["list"], actor=admin_user))
    assert (test.type, test.state, test.recipients_count) == (Broadcast.Type.BASE, Broadcast.State.SUBMITTED, 3)
    assert SendingProfile.objects.get(user=admin_user).seed_list == audience["list"]
    composed.refresh_from_db()
    assert composed.sent == 0 and composed.messages.count() == 0


def test_a_single_message_fills_its_fallbacks_before_messagewhiz_sees_them(make_broadcast, sandbox):
    single = run_task(make_broadcast(type=Broadcast.Type.SINGLE, recipient="380501234567",
                                     body="Hi {{first_name|there}}, {{link:1}} stays"))
    assert single.state == Broadcast.State.FAILED or single.last_error  # no link 1: refused before sending
    single = run_task(make_broadcast(type=Broadcast.Type.SINGLE, recipient="380501234567",
                                     body="Hi {{ first_name | there }}!"))
    assert single.state == Broadcast.State.SUBMITTED
    [request] = sandbox.requests(method="POST", path="(?i)^/api/3/broadcast$")
    assert request["json"]["message_body"] == "Hi there!"


def test_reconciled_estimate_counts_filled_in_parts_at_messagewhiz_price(make_broadcast, sandbox, audience):
    long_name = "Bartholomew-Maximilian Fitzgerald-Smithers"
    Recipient.objects.filter(phone=audience["numbers"][0]).update(first_name=long_name)
    broadcast = broadcast_estimate(make_broadcast(body="Hi {{first_name}}, " + "x" * 120))
    estimate = reconciled_estimate(broadcast)
    # MessageWhiz counts the body with the name left empty: 3 messages of 1 part at 3.36; one name makes 2 parts.
    assert broadcast.estimate["batchEstimation"] == {"messages": 3, "sum": 10.08, "parts": 1}
    assert (estimate["messages"], estimate["parts"], str(estimate["cost"]), estimate["currency"]) == \
        (3, 4, "13.44", "EUR")
    assert "MessageWhiz estimated 10.08 EUR for 3 messages of 1 part each" in estimate["explanation"]
    assert "come to 4 parts, so expect about 13.44 EUR" in estimate["explanation"]


def test_smart_broadcast_confirms_its_first_segment(admin_client, make_broadcast, sandbox):
    broadcast = broadcast_estimate(make_broadcast(type=Broadcast.Type.SMART, eb_type="manual", first_segment_size=2))
    review = admin_client.get(reverse("campaigns:broadcast_review", args=[broadcast.pk])).content.decode()
    assert "Send <strong>2</strong> messages (the first segment)" in review
    assert "the first segment, of 3 recipients" in review


def test_test_send_through_an_http_provider_renders_the_fallback(admin_client, sandbox, db,
                                                                  django_capture_on_commit_callbacks):
    http = ProviderAccount.objects.create(name="Sandbox SMS", kind=ProviderAccount.Kind.GENERIC, api_key="")
    GenericProviderConfig.objects.create(
        account=http, endpoint=f"{sandbox.url}/sms", method="POST", body_format="json", max_concurrency=30,
        body_template=f'{{"api_key": "{sandbox.api_key}", "from": "ShopCo", "to": "$$To", "text": "$$Body"}}')
    draft = Broadcast.objects.create(account=http, name="Boots", body="Hi {{first_name|there}}, boots are in")
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(reverse("campaigns:broadcast_test_send", args=[draft.pk]),
                          {"to": "me", "phone": "380509990011"})
    [request] = sandbox.requests(method="POST", path="^/sms$")
    assert (request["json"]["to"], request["json"]["text"]) == ("380509990011", "Hi there, boots are in")
    test = Broadcast.objects.get(test_of=draft)
    assert test.sent == 1 and Broadcast.objects.get(pk=draft.pk).sent == 0


def test_editing_a_draft_keeps_or_drops_its_schedule(admin_client, audience, sandbox,
                                                     django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(reverse("campaigns:compose"), compose_data(audience, when="recurring", zone="Europe/Kyiv",
                                                                     repeat_days="1-5", repeat_time="09:30"))
    draft = Broadcast.objects.get()
    url = reverse("campaigns:broadcast_edit", args=[draft.pk])
    page = admin_client.get(url).content.decode()
    # The form starts from the schedule as it was saved.
    assert 'value="recurring" id="id_when_3" required checked' in page and 'value="09:30"' in page
    assert '<option value="1-5" selected>' in page and '<option value="Europe/Kyiv" selected>' in page
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(url, compose_data(audience, when="recurring", zone="Europe/Kyiv", repeat_days="*",
                                            repeat_time="18:00"))
    [recurrence] = RecurringBroadcast.objects.filter(definition=draft)
    assert (recurrence.hour, recurrence.minute, recurrence.day_of_week, recurrence.enabled) == ("18", "0", "*", False)
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(url, compose_data(audience))
    assert not RecurringBroadcast.objects.filter(definition=draft).exists()  # sent now once confirmed
