"""The API key is write-only: set through forms, never rendered back, never in repr."""

import pytest
from django.urls import reverse

from messaging.models import ProviderAccount

SECRET = "mw-live-9f8e7d6c5b4a3210"


@pytest.fixture
def account(db):
    return ProviderAccount.objects.create(name="Main", base_url="https://sms.messagewhiz.com", api_key=SECRET)


def test_change_form_never_renders_the_key(admin_client, account):
    page = admin_client.get(reverse("admin:messaging_provideraccount_change", args=[account.pk]))
    assert page.status_code == 200
    assert SECRET not in page.content.decode()
    assert "3210" in page.content.decode()  # the masked hint helps tell keys apart


def test_account_list_page_masks_the_key(admin_client, account):
    page = admin_client.get(reverse("messaging:account_list"))
    assert SECRET not in page.content.decode()
    assert account.api_key_hint in page.content.decode()
    assert "Main" in page.content.decode()


def test_blank_key_on_edit_keeps_the_current_key(admin_client, account):
    response = admin_client.post(
        reverse("admin:messaging_provideraccount_change", args=[account.pk]),
        {"name": "Renamed", "kind": "messagewhiz", "base_url": "https://sms.messagewhiz.com", "api_key": "",
         "is_active": "on"},
    )
    assert response.status_code == 302
    account.refresh_from_db()
    assert account.name == "Renamed"
    assert account.api_key == SECRET


def test_new_account_requires_a_key(admin_client, db):
    response = admin_client.post(
        reverse("admin:messaging_provideraccount_add"),
        {"name": "New", "kind": "messagewhiz", "base_url": "https://sms.messagewhiz.com", "api_key": ""},
    )
    assert response.status_code == 200
    assert "An API key is required." in response.content.decode()
    assert not ProviderAccount.objects.filter(name="New").exists()


def test_each_account_gets_its_own_unguessable_callback_token(db):
    first = ProviderAccount.objects.create(name="A", api_key="k1")
    second = ProviderAccount.objects.create(name="B", api_key="k2")
    assert first.callback_token != second.callback_token
    assert len(first.callback_token) >= 40


def test_rotating_the_token_changes_it(account):
    old = account.callback_token
    account.rotate_callback_token()
    account.refresh_from_db()
    assert account.callback_token != old


def test_repr_does_not_leak_the_key(account):
    assert SECRET not in repr(account)
    assert SECRET not in str(account)
