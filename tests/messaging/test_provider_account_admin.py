"""The API key is write-only: set through forms, never rendered back, never in repr."""

import pytest
from django.urls import reverse

from messaging.models import ProviderAccount

SECRET = "mw-live-9f8e7d6c5b4a3210"
# The breaker's thresholds and the (empty) failover route inline that the change form posts too.
BREAKER = {"breaker_error_rate": "50", "breaker_min_requests": "20", "breaker_cooldown": "30",
           "failover_routes-TOTAL_FORMS": "0", "failover_routes-INITIAL_FORMS": "0"}


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
         "is_active": "on", **BREAKER},
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


def test_a_new_base_url_host_needs_the_key_again(admin_client, account):
    url = reverse("admin:messaging_provideraccount_change", args=[account.pk])
    moved = {"name": "Main", "kind": "messagewhiz", "base_url": "https://collector.example.net", "api_key": "",
             "is_active": "on", **BREAKER}
    page = admin_client.post(url, moved)
    assert page.status_code == 200
    assert "enter the API key again" in page.content.decode()
    account.refresh_from_db()
    assert account.base_url == "https://sms.messagewhiz.com" and account.api_key == SECRET

    assert admin_client.post(url, {**moved, "api_key": "mw-new-key"}).status_code == 302
    account.refresh_from_db()
    assert account.base_url == "https://collector.example.net" and account.api_key == "mw-new-key"


def test_failover_routes_are_set_in_order_and_must_be_of_the_same_kind(admin_client, account):
    backup = ProviderAccount.objects.create(name="Backup", api_key="k2")
    generic = ProviderAccount.objects.create(name="HTTP", kind="generic", api_key="")
    url = reverse("admin:messaging_provideraccount_change", args=[account.pk])
    form = {"name": "Main", "kind": "messagewhiz", "base_url": "https://sms.messagewhiz.com", "api_key": "",
            "is_active": "on", **BREAKER, "failover_routes-TOTAL_FORMS": "1", "failover_routes-0-position": "1"}
    page = admin_client.post(url, {**form, "failover_routes-0-route": generic.pk})
    assert page.status_code == 200 and "A failover route is another MessageWhiz account" in page.content.decode()
    assert not account.failover_routes.exists()

    assert admin_client.post(url, {**form, "failover_routes-0-route": backup.pk}).status_code == 302
    assert [entry.route for entry in account.failover_routes.all()] == [backup]
    page = admin_client.post(url, {**form, "breaker_error_rate": "0"})
    assert page.status_code == 200 and "greater than or equal to 1" in page.content.decode()


@pytest.mark.parametrize(("base_url", "error"), [
    ("http://127.0.0.1:5432", "non-public address"), ("http://169.254.169.254", "non-public address"),
    ("http://[::1]", "non-public address"), ("http://0x7f000001", "Enter a valid URL"),
])
def test_base_url_may_not_reach_internal_addresses(admin_client, account, settings, base_url, error):
    settings.OUTBOUND_ALLOW_PRIVATE_NETWORKS = False
    page = admin_client.post(reverse("admin:messaging_provideraccount_change", args=[account.pk]),
                             {"name": "Main", "kind": "messagewhiz", "base_url": base_url, "api_key": "k",
                              "is_active": "on"})
    assert page.status_code == 200
    assert error in page.content.decode()
    account.refresh_from_db()
    assert account.base_url == "https://sms.messagewhiz.com"


def test_staff_without_permissions_cannot_open_provider_accounts_in_the_admin(client, django_user_model, account):
    client.force_login(django_user_model.objects.create_user("staff", password="pw", is_staff=True))
    assert client.get(reverse("admin:messaging_provideraccount_change", args=[account.pk])).status_code == 403
    assert client.get(reverse("admin:messaging_genericproviderconfig_changelist")).status_code == 403
