"""Provider pages: presets fill the form, secrets stay write-only, save offers the test send,
the test send shows the provider's status and the start of its answer."""

import html
import re

import pytest

from messaging.models import GenericProviderConfig, ProviderAccount, WhatsAppTemplate

pytestmark = pytest.mark.django_db


def form_data(stub, **overrides):
    data = {
        "name": "Acme SMS", "is_active": "on", "channel": "sms", "method": "POST", "endpoint": f"{stub.url}/sms",
        "auth": "basic", "username": "acme", "password": "s3cret-pass",
        "headers_text": "apikey: KEY-123456\nContent-Type: application/json",
        "params_text": "", "body_format": "json", "body_template": '{"to": "$$To", "text": "$$Body"}',
        "batch_size": "100", "batch_record_template": "", "batch_envelope": "", "max_concurrency": "100",
        "rate_limit": "", "timeout": "30", "response_id_field": "message_id", "status_map_text": "",
        "dlr_ref_field": "", "dlr_id_field": "", "dlr_status_field": "", "dlr_error_field": "",
        "whatsapp_number": "", "auto_reply_text": "", "stop_keywords": "STOP",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


@pytest.mark.parametrize("preset, expected", [
    ("messagewhiz_sms", ["https://sms.messagewhiz.com/sms", "apikey: &lt;YOUR_MESSAGEWHIZ_API_KEY&gt;",
                         "&quot;client_ref&quot;: &quot;$$MessageID&quot;"]),
    ("message_central", ["customerId: &lt;Customer ID&gt;", "&quot;to&quot;: &quot;$$To&quot;"]),
    ("msg91_whatsapp", ["https://api.msg91.com/api/v5/whatsapp//outbound/clevertap/", "Authkey:",
                        'value="basic" selected']),
])
def test_presets_fill_the_form(admin_client, settings, preset, expected):
    settings.MESSAGEWHIZ_BASE_URL = "https://sms.messagewhiz.com"
    page = admin_client.get(f"/providers/generic/new/?preset={preset}").content.decode()
    for text in expected:
        assert text in page


def test_save_offers_the_test_send_and_keeps_secrets_write_only(admin_client, stub):
    response = admin_client.post("/providers/generic/new/", form_data(stub, params_text="api_key=P-777\nsender=ACME"))
    account = ProviderAccount.objects.get(name="Acme SMS")
    assert response.status_code == 302 and response["Location"] == f"/providers/generic/{account.pk}/test/"
    config = account.generic
    assert account.kind == "generic" and config.password == "s3cret-pass"
    assert config.headers == [["apikey", "KEY-123456"], ["Content-Type", "application/json"]]

    page = admin_client.get(f"/providers/generic/{account.pk}/edit/").content.decode()
    assert "s3cret-pass" not in page and "KEY-123456" not in page
    assert "apikey: ********" in page and "Content-Type: application/json" in page
    assert "P-777" not in page and "api_key=********\nsender=ACME" in page

    # Saving the masked form unchanged keeps every secret.
    admin_client.post(f"/providers/generic/{account.pk}/edit/",
                      form_data(stub, password="", headers_text="apikey: ********\nContent-Type: application/json",
                                params_text="api_key=********\nsender=ACME"))
    config.refresh_from_db()
    assert config.password == "s3cret-pass" and config.headers[0] == ["apikey", "KEY-123456"]
    assert config.params == [["api_key", "P-777"], ["sender", "ACME"]]
    assert "s3cret-pass" not in repr(config) and "KEY-123456" not in repr(account)


def test_credentials_in_the_endpoint_query_are_masked_and_kept(admin_client, stub):
    endpoint = f"{stub.url}/send/?apikey=AB%2FC9&numbers=$$To&message=$$Body&sender=TXTLCL"
    admin_client.post("/providers/generic/new/", form_data(stub, endpoint=endpoint, method="GET"))
    account = ProviderAccount.objects.get(name="Acme SMS")
    masked = f"{stub.url}/send/?apikey=********&amp;numbers=$$To&amp;message=$$Body&amp;sender=TXTLCL"
    for url in (f"/providers/generic/{account.pk}/edit/", f"/providers/generic/{account.pk}/"):
        page = admin_client.get(url).content.decode()
        assert "AB%2FC9" not in page and masked in page
    admin_client.post(f"/providers/generic/{account.pk}/edit/",
                      form_data(stub, method="GET", endpoint=masked.replace("&amp;", "&").replace("TXTLCL", "ACME")))
    account.generic.refresh_from_db()
    assert account.generic.endpoint == endpoint.replace("TXTLCL", "ACME")


@pytest.mark.parametrize("overrides, field", [
    ({"max_concurrency": "29"}, "Between 30 and 1,000."),
    ({"max_concurrency": "1001"}, "Between 30 and 1,000."),
    ({"body_template": '{"to": "$$To",}'}, "is not valid JSON"),
    ({"endpoint": "<Auth URL from your Message Central account>"}, "Replace the placeholder"),
    ({"endpoint": "ftp://x/$$To"}, "http:// or https://"),
    ({"batch_enabled": "on", "batch_envelope": "{}"}, "$$Records"),
    ({"batch_size": "1001"}, "Between 1 and 1,000."),
    ({"status_map_text": "DELIVRD=great"}, "is not one of our statuses"),
    ({"auto_reply": "on"}, "Write the reply."),
    ({"auto_reply": "on", "channel": "whatsapp", "auto_reply_text": "Hi"}, "must use an approved template"),
    ({"headers_text": "X-Sender: Магазин"}, "HTTP headers carry plain ASCII only"),
    ({"headers_text": "X Sender: Shop"}, "is not a valid header name"),
    ({"headers_text": "apikey: <YOUR_MESSAGEWHIZ_API_KEY>"}, "Replace <YOUR_MESSAGEWHIZ_API_KEY> in the header apikey"),
    ({"params_text": "key=<Your API key>"}, "Replace <Your API key> in the parameter key"),
    ({"body_template": '{"from": "<Your Sender ID>", "to": "$$To"}'}, "Replace <Your Sender ID>"),
    ({"body_format": "raw", "body_template": "<sms from='<Your Sender ID>'>$$Body</sms>"}, "Replace <Your Sender ID>"),
    ({"channel": "whatsapp"}, "Enter the WhatsApp number you send from"),
    ({"whatsapp_number": "call me"}, "digits only"),
    ({"body_template": '{"from": "$$WhatsAppNumber"}'}, "enter the account's WhatsApp number"),
    ({"timeout": "600"}, "Between 1 and 120 seconds."),
])
def test_invalid_configurations_are_refused(admin_client, stub, overrides, field):
    response = admin_client.post("/providers/generic/new/", form_data(stub, **overrides))
    assert response.status_code == 200
    assert field in html.unescape(response.content.decode())
    assert not GenericProviderConfig.objects.exists()


def preset_form(admin_client, preset, **fields):
    """The new-provider form as the preset fills it, submitted with `fields` changed."""
    form = admin_client.get(f"/providers/generic/new/?preset={preset}").context["form"]
    data = {name: value for name, value in form.initial.items() if isinstance(value, str)}
    data.update(method="POST", body_format="json", batch_size="100", max_concurrency="30", timeout="30",
                stop_keywords="STOP", **fields)
    return admin_client.post("/providers/generic/new/", data)


def test_a_preset_saved_unchanged_is_refused_naming_each_placeholder(admin_client):
    page = preset_form(admin_client, "messagewhiz_sms", channel="sms", auth="none", dlr_enabled="on")
    assert "Replace &lt;YOUR_MESSAGEWHIZ_API_KEY&gt; in the header apikey" in page.content.decode()
    assert "Replace &lt;Your Sender ID&gt; with your own value." in page.content.decode()
    assert not GenericProviderConfig.objects.exists()


def test_the_msg91_preset_sends_from_the_whatsapp_number(admin_client, stub):
    response = preset_form(admin_client, "msg91_whatsapp", channel="whatsapp", auth="basic", username="msg91-user",
                           password="pw", endpoint=f"{stub.url}/api/v5/whatsapp//outbound/clevertap/",
                           headers_text="Authkey: AK-1\nContent-Type: application/json",
                           whatsapp_number="+91 88895 00122")
    assert response.status_code == 302, response.context["form"].errors
    account = ProviderAccount.objects.get(name="MSG91")
    assert account.generic.whatsapp_number == "918889500122"
    hello = WhatsAppTemplate.objects.create(account=account, name="hello", language="en", body="Hello")
    admin_client.post(f"/providers/generic/{account.pk}/templates/{hello.pk}/test/",
                      {"country_code": "+44", "number": "7700900123"})
    assert stub.requests[0].json()["integrated_number"] == "918889500122"


def test_only_one_default_provider_per_channel(admin_client, stub):
    admin_client.post("/providers/generic/new/", form_data(stub, name="A", is_default="on"))
    admin_client.post("/providers/generic/new/", form_data(stub, name="B", is_default="on"))
    assert list(GenericProviderConfig.objects.filter(is_default=True).values_list("account__name", flat=True)) == ["B"]


def test_test_send_shows_the_status_and_a_short_escaped_excerpt(admin_client, stub, make_account):
    account = make_account(body_template='{"to": "$$To", "text": "$$Body", "id": "$$MessageID"}')
    stub.script = [(401, {"X-Reason": "bad-key"}, '{"error": "<unauthorized>"}' + "x" * 5000 + "THE-END")]
    page = admin_client.post(f"/providers/generic/{account.pk}/test/",
                             {"country_code": "+44", "number": "7700 900123", "message": "Hello"}).content.decode()
    sent = stub.requests[0].json()
    assert sent["to"] == "447700900123" and sent["text"] == "Hello"
    assert "HTTP 401" in page and "&lt;unauthorized&gt;" in page and "(truncated)" in page
    # Not a way to read whatever a URL answers: no arbitrary headers, and only the body's start.
    assert "bad-key" not in page and "THE-END" not in page and "x" * 400 not in page


def test_pages_need_model_permissions_not_staff(client, django_user_model, make_account):
    from django.contrib.auth.models import Permission

    account = make_account(dlr_enabled=True, dlr_status_field="status")
    user = django_user_model.objects.create_user("colleague", password="pw", is_staff=True)
    client.force_login(user)
    assert client.get("/providers/generic/").status_code == 403
    assert client.get(f"/providers/generic/{account.pk}/edit/").status_code == 403
    assert client.post(f"/providers/generic/{account.pk}/test/", {}).status_code == 403

    user.user_permissions.add(Permission.objects.get(codename="view_genericproviderconfig"))
    client.force_login(django_user_model.objects.get(pk=user.pk))  # permissions are cached per user object
    assert client.get("/providers/generic/").status_code == 200
    page = client.get(f"/providers/generic/{account.pk}/").content.decode()
    # Viewing the configuration does not show the callback URLs: they carry the account's token.
    assert account.callback_token not in page and "/edit/" not in page
    assert client.get(f"/providers/generic/{account.pk}/edit/").status_code == 403
    assert client.post(f"/providers/generic/{account.pk}/test/", {}).status_code == 403


def test_account_without_dlr_says_so(admin_client, make_account):
    account = make_account()
    page = admin_client.get(f"/providers/generic/{account.pk}/").content.decode()
    assert "No delivery reports" in page


def test_broadcasts_through_an_account_without_reports_show_no_delivery_figures(admin_client, make_account,
                                                                               make_broadcast):
    from campaigns.models import Broadcast

    for account, reports in ((make_account(), False), (make_account(name="With DLR", dlr_enabled=True,
                                                                    dlr_ref_field="ref", dlr_status_field="s"), True)):
        broadcast, _ = make_broadcast(account, 5)
        Broadcast.objects.filter(pk=broadcast.pk).update(state="submitted", dispatch_state="running",
                                                         recipients_count=5, sent=5)
        detail = admin_client.get(f"/broadcasts/{broadcast.pk}/")
        page = detail.content.decode()
        sending = admin_client.get(f"/broadcasts/{broadcast.pk}/sending/").content.decode()
        funnel = [label for label, _ in detail.context["figures"]["funnel"]]
        if reports:
            assert "Delivered · 0.0%" in page and "0 delivered" in sending and "Delivered" in funnel
        else:
            assert "no delivery reports" in page and "Delivered ·" not in page and "Delivered" not in funnel
            assert "no delivery reports" in sending and "0 delivered" not in sending


def test_sending_page_shows_progress_and_controls(admin_client, make_account, make_broadcast):
    from campaigns.models import Broadcast

    account = make_account()
    broadcast, _ = make_broadcast(account, 5)
    Broadcast.objects.filter(pk=broadcast.pk).update(state="submitted", dispatch_state="running",
                                                     recipients_count=5, sent=2, failed=1)
    url = f"/broadcasts/{broadcast.pk}/sending/"
    page = admin_client.get(url).content.decode()
    assert "2 of 5 sent" in page and "3 waiting" in page and 'value="pause"' in page
    assert admin_client.get(url, HTTP_ACCEPT="application/json").json()["queued"] == 3

    assert admin_client.post(url, {"action": "pause"}).status_code == 302
    assert Broadcast.objects.get(pk=broadcast.pk).dispatch_state == "paused"
    assert 'value="resume"' in admin_client.get(url).content.decode()
    admin_client.post(url, {"action": "cancel"})
    assert Broadcast.objects.get(pk=broadcast.pk).dispatch_state in ("cancelled",)
    assert admin_client.post(url, {"action": "explode"}).status_code == 404


def test_the_messagewhiz_preset_uses_the_configured_base_url(admin_client, settings):
    settings.MESSAGEWHIZ_BASE_URL = "https://mw.example.test"
    form = admin_client.get("/providers/generic/new/?preset=messagewhiz_sms").context["form"]
    assert form["endpoint"].value() == "https://mw.example.test/sms"


def test_the_form_is_grouped_and_says_when_each_field_applies(admin_client):
    page = admin_client.get("/providers/generic/new/").content.decode()
    legends = re.findall(r"<legend>([^<]+)</legend>", page)
    assert legends[:4] == ["Connection", "Authentication", "Body", "Limits"]
    assert 'id="field-username" data-show-if="auth=basic"' in page
    assert 'id="field-batch_size" data-show-if="method=POST&amp;batch_enabled"' in page
    assert 'id="field-endpoint">' in page  # always applies
    assert "Other" not in legends  # every field has its group
