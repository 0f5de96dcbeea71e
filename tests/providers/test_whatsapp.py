"""WhatsApp through the MSG91 preset: template rules, template sends, inbound messages and STOP."""

import json

import pytest
from django.core.exceptions import ValidationError

from messaging.models import InboundMessage, WhatsAppTemplate
from messaging.providers.generic.presets import PRESETS
from recipients.models import Recipient, RecipientList, UnsubscribeNumber

pytestmark = pytest.mark.django_db


@pytest.fixture
def wa_account(make_account, stub):
    preset = {k: v for k, v in PRESETS["msg91_whatsapp"].items() if k not in ("label", "name")}
    preset["endpoint"] = f"{stub.url}/api/v5/whatsapp//outbound/clevertap/"
    preset["whatsapp_number"] = "918889500122"
    preset["username"] = "msg91-user"
    return make_account(name="MSG91", **preset)


def template(account, **fields):
    fields = {"name": "order_update", "language": "en", "body": "Hi {{1}}, order {{2}} ships today.", **fields}
    return WhatsAppTemplate(account=account, **fields)


@pytest.mark.parametrize("fields, field", [
    ({"name": "Order Update"}, "name"),
    ({"language": "english"}, "language"),
    ({"header_type": "text"}, "header_text"),
    ({"header_type": "text", "header_text": "{{1}} and {{2}}"}, "header_text"),
    ({"header_type": "image"}, "header_media_url"),
    ({"header_type": "location", "header_media_url": "https://x.test/a.png"}, "header_media_url"),
    ({"body": "Hi {{1}} and {{3}}"}, "body"),
    ({"body": "x" * 1025}, "body"),
    ({"footer": "Reply {{1}}"}, "footer"),
    ({"button_type": "quick_reply", "buttons": [{"text": str(i)} for i in range(4)]}, "buttons"),
    ({"button_type": "quick_reply", "buttons": [{"text": "x" * 26}]}, "buttons"),
    ({"button_type": "cta", "buttons": [{"type": "url", "text": "Go", "value": "ftp://x"}]}, "buttons"),
    ({"button_type": "cta", "buttons": [{"type": "url", "text": "A", "value": "https://a.test"},
                                        {"type": "url", "text": "B", "value": "https://b.test"}]}, "buttons"),
    ({"limited_time_offer": True, "footer": "bye"}, "footer"),
    ({"limited_time_offer": True, "header_type": "document", "header_media_url": "https://x.test/a.pdf"},
     "header_type"),
    ({"limited_time_offer": True}, "buttons"),
])
def test_template_rules(wa_account, fields, field):
    with pytest.raises(ValidationError) as error:
        template(wa_account, **fields).full_clean()
    assert field in error.value.message_dict


def test_valid_templates(wa_account):
    template(wa_account, header_type="image", header_media_url="https://x.test/a.png", footer="Shop",
             button_type="quick_reply", buttons=[{"text": "Yes"}, {"text": "No"}]).full_clean()
    template(wa_account, name="flash_sale", limited_time_offer=True, header_type="video",
             header_media_url="https://x.test/v.mp4",
             button_type="cta", buttons=[{"type": "url", "text": "Shop", "value": "https://shop.test"},
                                         {"type": "phone", "text": "Call", "value": "+447700900123"}]).full_clean()


def test_a_limited_time_offer_cannot_be_the_auto_reply(admin_client, wa_account):
    offer = template(wa_account, name="flash_sale", body="Sale ends soon", limited_time_offer=True,
                     button_type="cta", buttons=[{"type": "url", "text": "Shop", "value": "https://shop.test"}])
    offer.save()
    url = f"/providers/generic/{wa_account.pk}/edit/"
    form = admin_client.get(url).context["form"]
    data = {name: value for name, value in form.initial.items() if isinstance(value, str)}
    data.update(batch_size="100", max_concurrency="30", timeout="30", auto_reply="on", auto_reply_template=offer.pk,
                headers_text="Authkey: key-123\nContent-Type: application/json")
    page = admin_client.post(url, data).content.decode()
    assert "A limited-time offer cannot be the auto-reply: choose a template without one." in page
    assert "Write one line per variable" not in page
    wa_account.generic.refresh_from_db()
    assert not wa_account.generic.auto_reply


def test_name_and_language_are_unique_per_account(admin_client, wa_account, make_account):
    url = f"/providers/generic/{wa_account.pk}/templates/new/"
    data = {"name": "order_update", "language": "en", "header_type": "none", "body": "Hi {{1}}",
            "button_type": "none"}
    assert admin_client.post(url, data).status_code == 302
    response = admin_client.post(url, data)
    assert "already has a template" in response.content.decode()
    assert admin_client.post(url, {**data, "language": "es"}).status_code == 302
    other = make_account(name="MSG91 second number", channel="whatsapp")
    assert admin_client.post(f"/providers/generic/{other.pk}/templates/new/", data).status_code == 302
    assert WhatsAppTemplate.objects.count() == 3


def test_template_test_send_reaches_the_provider(admin_client, wa_account, stub):
    saved = template(wa_account, header_type="image", header_media_url="https://x.test/a.png")
    saved.save()
    page = admin_client.post(f"/providers/generic/{wa_account.pk}/templates/{saved.pk}/test/",
                             {"country_code": "+91", "number": "8889500122", "body_values_text": "Ann\nA-17"})
    assert page.status_code == 200 and "HTTP 200" in page.content.decode()
    [request] = stub.requests
    assert request.headers["authorization"].startswith("Basic ")
    sent = request.json()
    assert sent["to"] == "918889500122" and sent["integrated_number"] == "918889500122"
    assert sent["template"] == {
        "name": "order_update", "language": {"code": "en"},
        "components": [{"type": "header", "parameters": [{"type": "image", "image": {"link": "https://x.test/a.png"}}]},
                       {"type": "body", "parameters": [{"type": "text", "text": "Ann"},
                                                       {"type": "text", "text": "A-17"}]}]}


def inbound(client, account, body):
    return client.post(f"/providers/cb/{account.callback_token}/inbound/", data=json.dumps(body),
                       content_type="application/json")


@pytest.mark.parametrize("text", ["STOP", " stop ", "Unsubscribe", "стоп", "СТОП\n"])
def test_stop_keyword_opts_the_number_out(client, wa_account, text):
    response = inbound(client, wa_account, {"customerNumber": "+91 88895 00122", "text": text, "uuid": "in-1"})
    assert response.status_code == 200
    message = InboundMessage.objects.get()
    assert message.opted_out and message.phone == "918889500122"
    wa_account.generic.refresh_from_db()
    optouts = wa_account.generic.optout_list
    assert optouts.name == "Opted out (MSG91)"
    assert list(UnsubscribeNumber.objects.filter(unsubscribe_list=optouts).values_list("phone", flat=True)) == [
        "918889500122"]
    assert optouts.member_count == 1


def test_ordinary_messages_are_stored_not_opted_out_and_repeats_ignored(client, wa_account, admin_client):
    assert inbound(client, wa_account, {"from": "918889500122", "text": "please stop by", "uuid": "a"}).json() == {
        "ok": True, "duplicate": False}
    assert inbound(client, wa_account, {"from": "918889500122", "text": "please stop by", "uuid": "a"}).json()[
        "duplicate"]
    assert InboundMessage.objects.count() == 1 and not UnsubscribeNumber.objects.exists()
    page = admin_client.get(f"/providers/generic/{wa_account.pk}/inbound/").content.decode()
    assert "please stop by" in page


def test_custom_stop_keywords(client, wa_account):
    wa_account.generic.stop_keywords = "ARRET\nBAJA"
    wa_account.generic.save()
    inbound(client, wa_account, {"from": "34600000001", "text": "baja", "uuid": "1"})
    inbound(client, wa_account, {"from": "34600000002", "text": "STOP", "uuid": "2"})
    assert list(UnsubscribeNumber.objects.values_list("phone", flat=True)) == ["34600000001"]


def test_auto_reply_only_to_unknown_numbers_with_the_reply_template(client, wa_account, stub,
                                                                    django_capture_on_commit_callbacks):
    welcome = template(wa_account, name="welcome", body="Thanks for writing! {{1}}")
    welcome.save()
    config = wa_account.generic
    config.auto_reply, config.auto_reply_text, config.auto_reply_template = True, "We answer within a day.", welcome
    config.save()
    known = RecipientList.objects.create(account=wa_account, name="Known")
    Recipient.objects.create(recipient_list=known, phone="918889500122")
    with django_capture_on_commit_callbacks(execute=True):
        inbound(client, wa_account, {"from": "918889500122", "text": "hi", "uuid": "1"})
        inbound(client, wa_account, {"from": "918889500199", "text": "hi", "uuid": "2"})
        inbound(client, wa_account, {"from": "918889500198", "text": "STOP", "uuid": "3"})
    [reply] = [r.json() for r in stub.requests]
    assert reply["to"] == "918889500199" and reply["type"] == "template"
    assert reply["template"] == {"name": "welcome", "language": {"code": "en"}, "components": [
        {"type": "body", "parameters": [{"type": "text", "text": "We answer within a day."}]}]}
    assert list(InboundMessage.objects.filter(auto_replied=True).values_list("phone", flat=True)) == ["918889500199"]


def test_sms_accounts_auto_reply_with_their_text(client, make_account, stub, django_capture_on_commit_callbacks):
    account = make_account(name="Two-way SMS", auto_reply=True, auto_reply_text="Thanks, we'll call you back.")
    with django_capture_on_commit_callbacks(execute=True):
        inbound(client, account, {"from": "447700900123", "text": "Call me", "uuid": "1"})
    assert [r.json() for r in stub.requests] == [
        {"to": "447700900123", "text": "Thanks, we'll call you back.", "ref": stub.requests[0].json()["ref"]}]


@pytest.mark.parametrize("body", [b"{", b"[]", b'{"text": "STOP"}', b"\xff"])
def test_malformed_inbound_is_400(client, wa_account, body):
    response = client.post(f"/providers/cb/{wa_account.callback_token}/inbound/", data=body,
                           content_type="application/json")
    assert response.status_code == 400


def test_unknown_token_is_404(client, wa_account):
    assert inbound(client, wa_account.__class__(callback_token="nope"), {"from": "1"}).status_code == 404


@pytest.mark.django_db(transaction=True)
def test_whatsapp_broadcast_sends_the_template_with_each_recipients_variables(wa_account, stub, make_broadcast):
    from campaigns.models import Broadcast
    from campaigns.tasks import submit_broadcast

    approved = template(wa_account)
    approved.save()
    broadcast, phones = make_broadcast(wa_account, 3, body="{{first_name}}\nA-17")
    submit_broadcast(broadcast.pk)
    broadcast.refresh_from_db()
    assert broadcast.state == Broadcast.State.DRAFT and "approved templates" in broadcast.last_error
    assert stub.requests == []

    broadcast, phones = make_broadcast(wa_account, 3, body="{{first_name}}\nA-17", whatsapp_template=approved)
    submit_broadcast(broadcast.pk)
    sent = sorted((r.json() for r in stub.requests), key=lambda b: b["to"])
    assert [b["to"] for b in sent] == phones
    assert {json.dumps(b["template"]) for b in sent} == {json.dumps({
        "name": "order_update", "language": {"code": "en"},
        "components": [{"type": "body", "parameters": [{"type": "text", "text": "Ann"},
                                                       {"type": "text", "text": "A-17"}]}]})}


@pytest.mark.django_db(transaction=True)
def test_a_text_header_variable_takes_the_first_line_and_empty_values_are_not_sent(wa_account, stub, make_broadcast):
    from campaigns.models import Broadcast, Message
    from campaigns.tasks import submit_broadcast
    from recipients.models import Recipient

    approved = template(wa_account, header_type="text", header_text="Hello {{1}}")
    approved.save()
    broadcast, phones = make_broadcast(wa_account, 3, body="{{first_name}}\nfriend\nA-17", whatsapp_template=approved)
    Recipient.objects.filter(phone=phones[1]).update(first_name="")
    submit_broadcast(broadcast.pk)

    [sent] = [r.json() for r in stub.requests if r.json()["to"] == phones[0]]
    assert sent["template"]["components"] == [
        {"type": "header", "parameters": [{"type": "text", "text": "Ann"}]},
        {"type": "body", "parameters": [{"type": "text", "text": "friend"}, {"type": "text", "text": "A-17"}]}]
    assert sorted(r.json()["to"] for r in stub.requests) == [phones[0], phones[2]]
    refused = Message.objects.get(broadcast=broadcast, phone=phones[1])
    assert refused.status == "failed" and "header's {{1}} is empty" in refused.error
    broadcast.refresh_from_db()
    # Sent; the two delivery reports still to come keep it from completing.
    assert (broadcast.sent, broadcast.failed, broadcast.state) == (3, 1, Broadcast.State.SUBMITTED)

    short, _ = make_broadcast(wa_account, 1, body="{{first_name}}\nfriend", whatsapp_template=approved)
    submit_broadcast(short.pk)
    short.refresh_from_db()
    assert short.state == Broadcast.State.DRAFT and "takes 3 values" in short.last_error


def flash_sale(account):
    offer = template(account, name="flash_sale", limited_time_offer=True, header_type="image",
                     header_media_url="https://x.test/sale.png", body="{{1}}, 20% off until midnight",
                     button_type="cta", buttons=[{"type": "url", "text": "Shop", "value": "https://shop.test"}])
    offer.full_clean()
    offer.save()
    return offer


@pytest.mark.django_db(transaction=True)
def test_a_limited_time_offer_is_sent_with_its_expiry(wa_account, stub, make_broadcast):
    from datetime import UTC, datetime, timedelta

    from campaigns.models import Broadcast
    from campaigns.tasks import submit_broadcast

    offer = flash_sale(wa_account)
    broadcast, _ = make_broadcast(wa_account, 1, body="{{first_name}}", whatsapp_template=offer)
    submit_broadcast(broadcast.pk)
    broadcast.refresh_from_db()
    assert broadcast.state == Broadcast.State.DRAFT and "limited-time offer" in broadcast.last_error
    assert stub.requests == []

    expires = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    Broadcast.objects.filter(pk=broadcast.pk).update(exp_date=expires)
    submit_broadcast(broadcast.pk)
    [sent] = [r.json() for r in stub.requests]
    assert {"type": "limited_time_offer", "parameters": [{"type": "limited_time_offer", "limited_time_offer": {
        "expiration_time_ms": int(expires.timestamp()) * 1000}}]} in sent["template"]["components"]


def test_template_test_sends_need_every_value(admin_client, wa_account, stub):
    saved = template(wa_account)
    saved.save()
    url = f"/providers/generic/{wa_account.pk}/templates/{saved.pk}/test/"
    page = admin_client.post(url, {"country_code": "+91", "number": "8889500122", "body_values_text": "Ann"})
    assert "The body&#x27;s {{2}} is empty" in page.content.decode()
    offer = flash_sale(wa_account)
    page = admin_client.post(f"/providers/generic/{wa_account.pk}/templates/{offer.pk}/test/",
                             {"country_code": "+91", "number": "8889500122", "body_values_text": "Ann"})
    assert "give the offer&#x27;s expiry" in page.content.decode()
    assert stub.requests == []
    admin_client.post(f"/providers/generic/{wa_account.pk}/templates/{offer.pk}/test/",
                      {"country_code": "+91", "number": "8889500122", "body_values_text": "Ann",
                       "offer_expires": "2031-01-01T10:00"})
    [sent] = [r.json() for r in stub.requests]
    assert sent["template"]["components"][1] == {"type": "limited_time_offer", "parameters": [{
        "type": "limited_time_offer", "limited_time_offer": {"expiration_time_ms": 1925028000000}}]}


def test_a_location_header_carries_its_coordinates(admin_client, wa_account, stub):
    url = f"/providers/generic/{wa_account.pk}/templates/new/"
    data = {"name": "store_visit", "language": "en", "header_type": "location", "body": "See you, {{1}}!",
            "button_type": "none"}
    response = admin_client.post(url, data)
    print(response.context["form"].errors.as_data())
    page = response.content.decode()
    assert "Give the location&#x27;s latitude" in page
    assert admin_client.post(url, {**data, "latitude": "19.0760", "longitude": "72.8777", "location_name": "Shop",
                                   "location_address": "1 Marine Drive"}).status_code == 302
    saved = WhatsAppTemplate.objects.get(name="store_visit")
    assert saved.header_location == {"latitude": "19.0760", "longitude": "72.8777", "name": "Shop",
                                     "address": "1 Marine Drive"}
    edit = admin_client.get(f"/providers/generic/{wa_account.pk}/templates/{saved.pk}/").content.decode()
    assert 'value="72.8777"' in edit

    admin_client.post(f"/providers/generic/{wa_account.pk}/templates/{saved.pk}/test/",
                      {"country_code": "+91", "number": "8889500122", "body_values_text": "Ann"})
    [sent] = [r.json() for r in stub.requests]
    assert sent["template"]["components"][0] == {"type": "header", "parameters": [{"type": "location", "location": {
        "latitude": "19.0760", "longitude": "72.8777", "name": "Shop", "address": "1 Marine Drive"}}]}
