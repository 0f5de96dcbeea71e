"""Recipient and unsubscribe lists reach MessageWhiz (file upload, replace, rename, disable) and come back."""

import pytest

from messaging.mirror import SyncState
from messaging.sync import resources
from messaging.sync.pull import mirror_pull
from messaging.tasks import push_mirror
from recipients import services
from recipients.models import Recipient, RecipientList, UnsubscribeList, UnsubscribeNumber
from tests.conftest import run_like_a_worker


def push(obj):
    run_like_a_worker(lambda: push_mirror.apply(args=[obj._meta.label, obj.pk], throw=True))
    obj.refresh_from_db()
    return obj


def remote_list(sandbox, remote_id):
    return next(item for item in sandbox.state("recipient_lists") if item["id"] == remote_id)


def remote_recipients(sandbox, remote_id):
    return sorted((r["phone_number"], r.get("first_name") or "") for r in sandbox.state("recipients")
                  if r["recipient_list_id"] == remote_id)


@pytest.fixture
def customers(mw_account):
    recipient_list = RecipientList.objects.create(account=mw_account, name="Customers", recipient_count=2)
    Recipient.objects.bulk_create([Recipient(recipient_list=recipient_list, phone="380501234567", first_name="Ann"),
                                   Recipient(recipient_list=recipient_list, phone="380501234568", first_name="Bob")])
    return recipient_list


def test_list_with_fields_is_uploaded_as_a_file_with_mapping(customers, sandbox):
    customers = push(customers)
    assert customers.sync_state == SyncState.SYNCED, customers.sync_error
    [upload] = sandbox.requests(method="POST", path="(?i)^/api/3/recipientList$")
    assert upload["form"]["mapping"] == '{"0": "phone_number", "1": "first_name"}'
    assert upload["query"] == {"truncate": "true"}
    assert remote_recipients(sandbox, customers.remote_id) == [("380501234567", "Ann"), ("380501234568", "Bob")]


def test_phone_only_list_goes_as_numbers(mw_account, sandbox):
    recipient_list = RecipientList.objects.create(account=mw_account, name="Plain", recipient_count=1)
    Recipient.objects.create(recipient_list=recipient_list, phone="380501234567")
    push(recipient_list)
    [request] = sandbox.requests(method="POST", path="(?i)^/api/3/recipientList/numbers$")
    assert request["json"] == {"name": "Plain", "numbers": ["380501234567"]}


def test_append_replaces_remotely_and_rename_patches(customers, sandbox):
    customers = push(customers)
    services.recipient_list_add_numbers(recipient_list=customers, numbers="380501234569")
    customers = push(customers)
    assert sandbox.requests(method="PUT", path=f"(?i)^/api/3/recipientList/{customers.remote_id}$")
    assert len(remote_recipients(sandbox, customers.remote_id)) == 3

    services.recipient_list_rename(recipient_list=customers, name="Best customers")
    customers = push(customers)
    assert sandbox.requests(method="PATCH", path=f"(?i)^/api/3/recipientList/{customers.remote_id}$")
    assert remote_list(sandbox, customers.remote_id)["name"] == "Best customers"
    assert customers.sync_state == SyncState.SYNCED

    services.recipient_list_disable(recipient_list=customers)
    customers = push(customers)
    assert customers.sync_state == SyncState.DISABLED
    assert not remote_list(sandbox, customers.remote_id)["enabled"]


def test_pull_brings_lists_and_their_recipients(mw_account, sandbox):
    sandbox.seed("recipient_lists", [{"name": "From MW", "recipients": [
        {"phone_number": "6593333311", "first_name": "Anthony"}, {"phone_number": "6593333322"}]}])
    sandbox.seed("unsubscribe_lists", [{"name": "Opt-outs", "numbers": ["6593333322"]}])
    first = mirror_pull(mw_account, resources.get("recipient_list")).as_dict()
    assert first["created"] == 1
    pulled = RecipientList.objects.get(name="From MW")
    assert pulled.recipient_count == 2
    assert set(pulled.recipients.values_list("phone", "first_name")) == {("6593333311", "Anthony"),
                                                                         ("6593333322", "")}
    assert mirror_pull(mw_account, resources.get("unsubscribe_list")).as_dict()["created"] == 1
    assert list(UnsubscribeList.objects.get().numbers.values_list("phone", flat=True)) == ["6593333322"]
    again = mirror_pull(mw_account, resources.get("recipient_list")).as_dict()
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 1)
    # A pulled, unchanged list is not uploaded again when renamed: only a PATCH goes out.
    services.recipient_list_rename(recipient_list=pulled, name="Renamed")
    push(pulled)
    assert not sandbox.requests(method="PUT")


def test_unsubscribe_list_round_trip(mw_account, sandbox):
    unsubscribes = UnsubscribeList.objects.create(account=mw_account, name="Opt-outs", member_count=1)
    UnsubscribeNumber.objects.create(unsubscribe_list=unsubscribes, phone="380501234567")
    unsubscribes = push(unsubscribes)
    assert unsubscribes.sync_state == SyncState.SYNCED, unsubscribes.sync_error
    remote = next(u for u in sandbox.state("unsubscribe_lists") if u["id"] == unsubscribes.remote_id)
    assert [str(n) for n in remote["numbers"]] == ["380501234567"]
