import pytest

from campaigns.models import Broadcast, Campaign
from messaging.messagewhiz.client import MessageWhizClient
from messaging.mirror import SyncState
from messaging.models import Sender
from recipients.models import Recipient, RecipientList, UnsubscribeList, UnsubscribeNumber


@pytest.fixture
def mw(sandbox):
    with MessageWhizClient(sandbox.url, sandbox.api_key, timeout=(2, 5)) as client:
        yield client


def synced(model, account, remote, **fields):
    return model.objects.create(account=account, remote_id=remote["id"], sync_state=SyncState.SYNCED, **fields)


@pytest.fixture
def audience(mw_account, mw):
    """A campaign, a sender and a 3-number recipient list, present in the sandbox and mirrored here."""
    campaign = synced(Campaign, mw_account, mw.campaign_create(name="Autumn"), name="Autumn")
    sender = synced(Sender, mw_account, mw.sender_create(name="ShopCo"), name="ShopCo")
    numbers = ["380501234567", "380501234568", "380501234569"]
    remote_list = mw.recipient_list_create(name="Customers", numbers=numbers)
    recipients = synced(RecipientList, mw_account, {"id": remote_list["recipient_list_id"]}, name="Customers",
                        recipient_count=3)
    Recipient.objects.bulk_create(Recipient(recipient_list=recipients, phone=n) for n in numbers)
    return {"campaign": campaign, "sender": sender, "list": recipients, "numbers": numbers}


@pytest.fixture
def unsubscribed(mw_account, mw):
    remote = mw.unsubscribe_list_create(name="Opt-outs", numbers=["380501234569"])
    remote_id = remote.get("id") or remote.get("unsubscribe_list_id") or remote.get("recipient_list_id")
    ul = synced(UnsubscribeList, mw_account, {"id": remote_id}, name="Opt-outs", member_count=1)
    UnsubscribeNumber.objects.create(unsubscribe_list=ul, phone="380501234569")
    return ul


@pytest.fixture
def make_broadcast(mw_account, audience):
    def make(**fields):
        fields.setdefault("name", "Autumn sale")
        fields.setdefault("body", "Hi {{first_name}}, 20% off today")
        broadcast = Broadcast.objects.create(account=mw_account, campaign=audience["campaign"], **fields)
        broadcast.senders.set([audience["sender"]])
        if broadcast.type != Broadcast.Type.SINGLE:
            broadcast.recipient_lists.set([audience["list"]])
        return broadcast

    return make
