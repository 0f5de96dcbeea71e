"""Where people find the callback URLs: the settings page and `manage.py callback_urls`."""

import json

from django.core.management import call_command
from django.urls import reverse

from messaging.models import ProviderAccount


def test_callback_urls_command_prints_every_account(db, settings, capsys):
    settings.PUBLIC_BASE_URL = "https://textcast.example.com"
    first = ProviderAccount.objects.create(name="B account", api_key="key-b-123456789")
    second = ProviderAccount.objects.create(name="A account", api_key="key-a-123456789")
    call_command("callback_urls")
    output = capsys.readouterr().out
    assert json.loads(output) == [
        {"account": name, "kind": "messagewhiz",
         "dlr": f"https://textcast.example.com/callbacks/{account.callback_token}/dlr",
         "dlr_batch": f"https://textcast.example.com/callbacks/{account.callback_token}/dlr-batch",
         "click": f"https://textcast.example.com/callbacks/{account.callback_token}/click"}
        for name, account in [("A account", second), ("B account", first)]
    ]
    assert "key-a-123456789" not in output


def test_settings_page_needs_a_login(client, db):
    response = client.get(reverse("callbacks:settings"))
    assert response.status_code == 302 and "login" in response["Location"]


def test_settings_page_shows_urls_and_copy_buttons_but_never_the_api_key(admin_client, settings, direct):
    settings.PUBLIC_BASE_URL = "https://textcast.example.com"
    account = ProviderAccount.objects.create(name="MessageWhiz main", api_key="mw-secret-api-key-0042")
    admin_client.post(reverse("callbacks:dlr", kwargs={"token": account.callback_token}),
                      data={"message_id": "unknown", "status": "DELIVRD"}, content_type="application/json")
    page = admin_client.get(reverse("callbacks:settings"))
    assert page.status_code == 200
    html = page.content.decode()
    assert "MessageWhiz main" in html
    assert f"https://textcast.example.com/callbacks/{account.callback_token}/dlr" in html
    assert f"https://textcast.example.com/callbacks/{account.callback_token}/dlr-batch" in html
    assert html.count('data-copy="') == 3
    assert "1 report name" in html  # waiting for its message
    assert "mw-secret-api-key-0042" not in html and "0042" not in html


def test_settings_page_without_accounts(admin_client, direct):
    page = admin_client.get(reverse("callbacks:settings"))
    assert b"No provider accounts yet" in page.content


def test_raw_log_in_the_admin_is_read_only(admin_client, direct):
    from callbacks.models import CallbackEvent

    account = ProviderAccount.objects.create(name="MW", api_key="k-123456789")
    admin_client.post(reverse("callbacks:dlr", kwargs={"token": account.callback_token}),
                      data={"message_id": "m-1", "status": "DELIVRD"}, content_type="application/json")
    event = CallbackEvent.objects.get()
    listing = admin_client.get(reverse("admin:callbacks_callbackevent_changelist") + "?applied_at__isempty=1")
    assert listing.status_code == 200 and b"Delivery report" in listing.content
    page = admin_client.get(reverse("admin:callbacks_callbackevent_change", args=[event.pk]))
    assert page.status_code == 200 and b"DELIVRD" in page.content
    assert admin_client.get(reverse("admin:callbacks_callbackevent_add")).status_code == 403
