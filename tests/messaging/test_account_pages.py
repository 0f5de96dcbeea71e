"""Provider account pages: a searchable list and a page per account that never shows its key."""

from django.urls import reverse

from campaigns.models import Campaign, Link
from messaging.mirror import SyncState
from messaging.models import ProviderAccount, Sender

SECRET = "mw-live-key-7f3a9c2e51d4"


def test_list_searches_by_name_and_address(admin_client, db):
    ProviderAccount.objects.create(name="MessageWhiz live", base_url="https://sms.messagewhiz.com", api_key=SECRET)
    ProviderAccount.objects.create(name="Sandbox", base_url="http://127.0.0.1:8025", api_key="k")
    url = reverse("messaging:account_list")
    assert "Sandbox" in admin_client.get(url).content.decode()
    page = admin_client.get(url, {"q": "messagewhiz.com"}).content.decode()
    assert "MessageWhiz live" in page and "Sandbox" not in page
    assert "No provider account matches" in admin_client.get(url, {"q": "nothing"}).content.decode()
    assert admin_client.get(url, {"page": "-1"}).status_code == 200


def test_detail_shows_the_account_but_never_its_key(admin_client, db):
    account = ProviderAccount.objects.create(name="MessageWhiz live", base_url="https://sms.messagewhiz.com",
                                             api_key=SECRET)
    listing = admin_client.get(reverse("messaging:account_list")).content.decode()
    detail_url = reverse("messaging:account_detail", args=[account.pk])
    assert f'<a href="{detail_url}">MessageWhiz live</a>' in listing
    page = admin_client.get(detail_url).content.decode()
    assert "MessageWhiz" in page and "https://sms.messagewhiz.com" in page
    assert "••••••••51d4" in page and SECRET not in page and SECRET[:-4] not in page
    assert f'href="{reverse("callbacks:settings")}#account-{account.pk}"' in page
    assert "Every object of this account is in step" in page
    assert admin_client.get(reverse("messaging:account_detail", args=[999999])).status_code == 404


def test_detail_lists_the_sync_problems_of_its_own_objects(admin_client, db):
    account = ProviderAccount.objects.create(name="Live", api_key=SECRET)
    other = ProviderAccount.objects.create(name="Other", api_key="k")
    sender = Sender.objects.create(account=account, name="ShopCo", sync_state=SyncState.FAILED,
                                   sync_error="Sender must not exceed 11 letters")
    link = Link.objects.create(account=account, name="Landing", url="https://shop.example",
                               sync_state=SyncState.FAILED, sync_error="url must be a URL address")
    Campaign.objects.create(account=account, name="Fine", sync_state=SyncState.SYNCED)
    Campaign.objects.create(account=other, name="Elsewhere", sync_state=SyncState.FAILED, sync_error="Other's problem")
    page = admin_client.get(reverse("messaging:account_detail", args=[account.pk])).content.decode()
    assert f'<a href="{reverse("messaging:sender_edit", args=[sender.pk])}">ShopCo</a>' in page
    assert f'<a href="{reverse("campaigns:link_edit", args=[link.pk])}">Landing</a>' in page
    assert "Sender must not exceed 11 letters" in page and "url must be a URL address" in page
    assert "Fine" not in page and "Other&#x27;s problem" not in page


def test_generic_accounts_link_to_their_provider_settings(admin_client, db):
    from messaging.models import GenericProviderConfig

    account = ProviderAccount.objects.create(name="Message Central", kind=ProviderAccount.Kind.GENERIC, api_key="k")
    GenericProviderConfig.objects.create(account=account, endpoint="https://api.example/sms")
    page = admin_client.get(reverse("messaging:account_detail", args=[account.pk])).content.decode()
    assert f'href="{reverse("providers:detail", args=[account.pk])}"' in page
