"""The retry policy as a marketer sets it: the account's default (admin form), and each broadcast's
own under the compose form's collapsed "Retry undelivered" section."""

import pytest
from django.urls import reverse

from campaigns.models import Broadcast
from messaging.models import ProviderAccount, Sender
from tests.messaging.test_provider_account_admin import BREAKER

from .conftest import synced
from .test_compose import compose_data

pytestmark = pytest.mark.django_db


@pytest.fixture
def backup(mw_account, mw):
    return synced(Sender, mw_account, mw.sender_create(name="Backup"), name="Backup")


def test_compose_shows_the_section_collapsed_and_takes_the_account_default(admin_client, audience, mw_account,
                                                                           backup):
    page = admin_client.get(reverse("campaigns:compose")).content.decode()
    assert '<details id="retry-settings" >' in page and "<summary>Retry undelivered</summary>" in page
    ProviderAccount.objects.filter(pk=mw_account.pk).update(
        retry_enabled=True, retry_statuses=["undelivered", "expired"], retry_wait_minutes=45, retry_sender=backup)
    response = admin_client.post(reverse("campaigns:compose"), compose_data(audience))
    assert response.status_code == 302
    broadcast = Broadcast.objects.get()
    assert (broadcast.retry_enabled, broadcast.retry_statuses, broadcast.retry_wait_minutes,
            broadcast.retry_sender_id) == (True, ["undelivered", "expired"], 45, backup.pk)


def test_off_by_default_and_off_when_asked(admin_client, audience):
    admin_client.post(reverse("campaigns:compose"), compose_data(audience))
    assert Broadcast.objects.get().retry_enabled is False


def test_a_policy_set_here_is_checked_field_by_field(admin_client, audience, backup, settings):
    settings.RETRY_NO_REPORT_MIN_MINUTES = 60
    other = ProviderAccount.objects.create(name="Other", api_key="k")
    foreign = Sender.objects.create(account=other, name="Foreign", remote_id=99)
    page = admin_client.post(reverse("campaigns:compose"), compose_data(
        audience, retry_mode="custom", retry_wait_minutes=10, retry_no_report_minutes=5)).content.decode()
    assert "At least 60 minutes: until then the provider may still deliver it." in page
    assert "The retry needs another route" in page
    page = admin_client.post(reverse("campaigns:compose"), compose_data(
        audience, retry_mode="custom", retry_sender=foreign.pk)).content.decode()
    assert "Choose the statuses to retry" in page and "Choose one of Sandbox&#x27;s own." in page
    assert not Broadcast.objects.exists()

    response = admin_client.post(reverse("campaigns:compose"), compose_data(
        audience, retry_mode="custom", retry_statuses=["rejected"], retry_wait_minutes="", retry_sender=backup.pk))
    assert response.status_code == 302
    broadcast = Broadcast.objects.get()
    assert (broadcast.retry_enabled, broadcast.retry_statuses, broadcast.retry_wait_minutes) == (True, ["rejected"], 30)
    # Editing it again shows the policy as set here.
    page = admin_client.get(reverse("campaigns:broadcast_edit", args=[broadcast.pk])).content.decode()
    assert '<option value="custom" selected>' in page


def test_the_accounts_default_is_set_on_its_form(admin_client, mw_account, backup):
    url = reverse("admin:messaging_provideraccount_change", args=[mw_account.pk])
    page = admin_client.get(url).content.decode()
    assert "Retry undelivered" in page
    base = {"name": mw_account.name, "kind": "messagewhiz", "base_url": mw_account.base_url, "api_key": "",
            "currency": "EUR", "is_active": "on", "retry_enabled": "on", **BREAKER}
    page = admin_client.post(url, base).content.decode()
    assert "The retry needs another route" in page
    response = admin_client.post(url, {**base, "retry_statuses": ["undelivered", "failed"],
                                       "retry_wait_minutes": "15", "retry_sender": backup.pk})
    assert response.status_code == 302
    mw_account.refresh_from_db()
    assert (mw_account.retry_enabled, mw_account.retry_statuses, mw_account.retry_sender_id) == (
        True, ["undelivered", "failed"], backup.pk)
    page = admin_client.get(reverse("messaging:account_detail", args=[mw_account.pk])).content.decode()
    assert "on: undelivered, failed; 15 min later, through Sandbox from Backup" in page
