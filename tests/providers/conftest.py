"""Fixtures for generic providers: a scriptable provider stand-in over real HTTP, accounts, audiences."""

import pytest

from campaigns.models import Broadcast
from messaging.mirror import SyncState
from messaging.models import GenericProviderConfig, ProviderAccount
from recipients.models import Recipient, RecipientList

from .stub import StubServer


@pytest.fixture
def stub():
    server = StubServer().start()
    yield server
    server.stop()


@pytest.fixture
def make_account(db, stub):
    def make(name="Generic", **config):
        config.setdefault("endpoint", f"{stub.url}/sms")
        config.setdefault("method", "POST")
        config.setdefault("body_format", "json")
        config.setdefault("body_template", '{"to": "$$To", "text": "$$Body", "ref": "$$MessageID"}')
        config.setdefault("max_concurrency", 30)
        account = ProviderAccount.objects.create(name=name, kind=ProviderAccount.Kind.GENERIC, api_key="")
        GenericProviderConfig.objects.create(account=account, **config)
        return ProviderAccount.objects.select_related("generic").get(pk=account.pk)

    return make


@pytest.fixture
def audience():
    def make(account, count=10, *, first_name="Ann"):
        recipient_list = RecipientList.objects.create(account=account, name="Customers", recipient_count=count,
                                                      sync_state=SyncState.SYNCED)
        phones = [f"3805{i:08d}" for i in range(count)]
        Recipient.objects.bulk_create(Recipient(recipient_list=recipient_list, phone=p, first_name=first_name)
                                      for p in phones)
        return recipient_list, phones

    return make


@pytest.fixture
def make_broadcast(audience):
    def make(account, count=10, body="Hi {{first_name}} & co", **fields):
        recipient_list, phones = audience(account, count)
        broadcast = Broadcast.objects.create(account=account, name="Sale", body=body, **fields)
        broadcast.recipient_lists.set([recipient_list])
        return broadcast, phones

    return make
