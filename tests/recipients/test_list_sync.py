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


def test_append_sends_only_the_new_numbers_and_rename_patches(customers, sandbox):
    customers = push(customers)
    services.recipient_list_add_numbers(recipient_list=customers, numbers="380501234569")
    customers = push(customers)
    [added] = sandbox.requests(method="PUT", path=f"(?i)^/api/3/recipientList/{customers.remote_id}/numbers$")
    assert added["json"] == {"numbers": ["380501234569"]}
    assert not sandbox.requests(method="PUT", path=f"(?i)^/api/3/recipientList/{customers.remote_id}$")
    assert remote_recipients(sandbox, customers.remote_id) == [
        ("380501234567", "Ann"), ("380501234568", "Bob"), ("380501234569", ""),
    ]

    services.recipient_list_rename(recipient_list=customers, name="Best customers")
    customers = push(customers)
    assert sandbox.requests(method="PATCH", path=f"(?i)^/api/3/recipientList/{customers.remote_id}$")
    assert remote_list(sandbox, customers.remote_id)["name"] == "Best customers"
    assert customers.sync_state == SyncState.SYNCED

    services.recipient_list_disable(recipient_list=customers)
    customers = push(customers)
    assert customers.sync_state == SyncState.DISABLED
    assert not remote_list(sandbox, customers.remote_id)["enabled"]


def test_replaced_list_or_appended_fields_go_as_a_whole_file(customers, sandbox, write_csv, run_import):
    customers = push(customers)
    run_import(write_csv([["phone", "name"], ["380501234570", "Cid"]]), {"0": "phone_number", "1": "first_name"},
               mode="append", target=customers)
    customers = push(customers)
    assert sandbox.requests(method="PUT", path=f"(?i)^/api/3/recipientList/{customers.remote_id}$")
    assert ("380501234570", "Cid") in remote_recipients(sandbox, customers.remote_id)

    run_import(write_csv([["phone"], ["380501234571"]]), mode="replace", target=customers)
    customers = push(customers)
    assert customers.sync_state == SyncState.SYNCED, customers.sync_error
    assert remote_recipients(sandbox, customers.remote_id) == [("380501234571", "")]


FORMULA_LIKE = ["-" + "n" * 49, "+380 office", "=1+1", "@home"]


def test_formula_like_values_reach_messagewhiz_as_typed(mw_account, sandbox):
    recipient_list = RecipientList.objects.create(account=mw_account, name="Formulas", recipient_count=4)
    Recipient.objects.bulk_create([
        Recipient(recipient_list=recipient_list, phone=f"38050123456{i}", first_name=value[:50], custom=value)
        for i, value in enumerate(FORMULA_LIKE)
    ])
    recipient_list = push(recipient_list)
    assert recipient_list.sync_state == SyncState.SYNCED, recipient_list.sync_error
    remote = sorted((r["first_name"], r["custom"]) for r in sandbox.state("recipients")
                    if r["recipient_list_id"] == recipient_list.remote_id)
    assert remote == sorted((value[:50], value) for value in FORMULA_LIKE)

    # A replace (PUT, which has no truncate) keeps the 50-character name starting with "-" at 50.
    Recipient.objects.filter(recipient_list=recipient_list, phone="380501234563").delete()
    services.recipient_list_add_numbers(recipient_list=recipient_list, numbers="380501234569")
    recipient_list = push(recipient_list)
    assert recipient_list.sync_state == SyncState.SYNCED, recipient_list.sync_error
    assert sandbox.requests(method="PUT", path=f"(?i)^/api/3/recipientList/{recipient_list.remote_id}$")
    remote = {r["phone_number"]: r.get("first_name") for r in sandbox.state("recipients")
              if r["recipient_list_id"] == recipient_list.remote_id}
    assert remote["380501234560"] == "-" + "n" * 49


def test_formula_like_values_come_back_from_messagewhiz_as_typed(mw_account, sandbox):
    sandbox.seed("recipient_lists", [{"name": "Remote", "recipients": [
        {"phone_number": f"38050123456{i}", "first_name": value[:50], "custom": value}
        for i, value in enumerate(FORMULA_LIKE)]}])
    mirror_pull(mw_account, resources.get("recipient_list"))
    pulled = RecipientList.objects.get(name="Remote")
    assert sorted(pulled.recipients.values_list("first_name", "custom")) == sorted(
        (value[:50], value) for value in FORMULA_LIKE)


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


def test_pull_saves_each_list_on_its_own(mw_account, sandbox):
    _first, second = sandbox.seed("recipient_lists", [
        {"name": "First", "recipients": [{"phone_number": "6593333311"}]},
        {"name": "Second", "recipients": [{"phone_number": "6593333322"}, {"phone_number": "6593333333"}]},
    ])
    sandbox.faults(path=f"(?i)/recipientList/{second['id']}/recipients", fail_next=[{"status": 400}])
    summary = mirror_pull(mw_account, resources.get("recipient_list")).as_dict()
    assert summary["failed"] == 1
    assert list(RecipientList.objects.values_list("name", "recipient_count")) == [("First", 1)]

    sandbox.faults()
    mirror_pull(mw_account, resources.get("recipient_list"))
    second_list = RecipientList.objects.get(name="Second")
    assert (second_list.recipient_count, second_list.sync_state) == (2, SyncState.SYNCED)
    assert sorted(second_list.recipients.values_list("phone", flat=True)) == ["6593333322", "6593333333"]


def test_pull_replaces_changed_content(mw_account, sandbox):
    [remote] = sandbox.seed("recipient_lists", [{"name": "Grows", "recipients": [{"phone_number": "6593333311"}]}])
    mirror_pull(mw_account, resources.get("recipient_list"))
    sandbox.seed("recipients", [{"recipient_list_id": remote["id"], "phone_number": "6593333322",
                                 "first_name": "Tab\there"}])
    assert mirror_pull(mw_account, resources.get("recipient_list")).as_dict()["updated"] == 1
    pulled = RecipientList.objects.get()
    assert pulled.recipient_count == 2
    assert sorted(pulled.recipients.values_list("phone", "first_name")) == [
        ("6593333311", ""), ("6593333322", "Tab\there")]


def test_pulled_content_that_a_local_edit_beats_is_let_go(mw_account, sandbox, monkeypatch):
    import gc
    import warnings

    import messaging.sync.pull as pull_module

    [remote] = sandbox.seed("recipient_lists", [{"name": "Grows", "recipients": [{"phone_number": "6593333311"}]}])
    mirror_pull(mw_account, resources.get("recipient_list"))
    sandbox.seed("recipients", [{"recipient_list_id": remote["id"], "phone_number": "6593333322"}])
    read_members = pull_module._known_members

    def rename_meanwhile(*args):
        # The pull has read the local rows; now a user renames the list, before the pull writes.
        services.recipient_list_rename(recipient_list=RecipientList.objects.get(), name="Renamed here")
        return read_members(*args)

    monkeypatch.setattr(pull_module, "_known_members", rename_meanwhile)
    gc.collect()  # what earlier tests left behind, out of the way
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        summary = mirror_pull(mw_account, resources.get("recipient_list")).as_dict()
        gc.collect()
    assert (summary["updated"], summary["kept_local"]) == (0, 1)
    assert [str(w.message) for w in caught if "unclosed file" in str(w.message)] == []  # staged files closed
    pulled = RecipientList.objects.get()
    assert (pulled.name, pulled.recipient_count) == ("Renamed here", 1)


def test_unsubscribe_list_round_trip(mw_account, sandbox):
    unsubscribes = UnsubscribeList.objects.create(account=mw_account, name="Opt-outs", member_count=1)
    UnsubscribeNumber.objects.create(unsubscribe_list=unsubscribes, phone="380501234567")
    unsubscribes = push(unsubscribes)
    assert unsubscribes.sync_state == SyncState.SYNCED, unsubscribes.sync_error
    remote = next(u for u in sandbox.state("unsubscribe_lists") if u["id"] == unsubscribes.remote_id)
    assert [str(n) for n in remote["numbers"]] == ["380501234567"]

    services.unsubscribe_list_add_numbers(unsubscribe_list=unsubscribes, numbers="380501234568")
    unsubscribes = push(unsubscribes)
    [added] = sandbox.requests(method="POST", path=f"(?i)^/api/3/unsubscribeList/{unsubscribes.remote_id}/members$")
    assert added["json"] == {"numbers": ["380501234568"]}
    remote = next(u for u in sandbox.state("unsubscribe_lists") if u["id"] == unsubscribes.remote_id)
    assert sorted(str(n) for n in remote["numbers"]) == ["380501234567", "380501234568"]


def test_upload_is_comma_csv_with_the_mapping_and_its_counts_are_shown(mw_account, sandbox, admin_client):
    """The sandbox reads RFC 4180 comma CSV only: the old semicolon upload stored
    `380501112233";"Anna` and the like as phone numbers, and the list still showed "synced"."""
    from django.urls import reverse

    recipient_list = RecipientList.objects.create(account=mw_account, name="Quoted", recipient_count=2)
    Recipient.objects.bulk_create([
        Recipient(recipient_list=recipient_list, phone="380501112233", first_name="Anna", last_name="Kovalenko, Jr."),
        Recipient(recipient_list=recipient_list, phone="380501112244", first_name='Bo "the boss"', last_name="Li"),
    ])
    recipient_list = push(recipient_list)

    assert recipient_list.sync_state == SyncState.SYNCED, recipient_list.sync_error
    [upload] = sandbox.requests(method="POST", path="(?i)^/api/3/recipientList$")
    assert upload["form"]["mapping"] == '{"0": "phone_number", "1": "first_name", "2": "last_name"}'
    remote = sorted((r["phone_number"], r["first_name"], r["last_name"]) for r in sandbox.state("recipients")
                    if r["recipient_list_id"] == recipient_list.remote_id)
    assert remote == [("380501112233", "Anna", "Kovalenko, Jr."), ("380501112244", 'Bo "the boss"', "Li")]
    # The header row, read there as a (wrong) number, is not held against the list.
    assert recipient_list.remote_counts == "MessageWhiz accepted 2 of 2 (0 wrong)"
    page = admin_client.get(reverse("recipients:list_detail", args=["recipients", recipient_list.pk]))
    assert "Last upload: MessageWhiz accepted 2 of 2 (0 wrong)" in page.content.decode()


def test_a_list_messagewhiz_takes_only_in_part_fails_with_its_figures(mw_account, sandbox, admin_client):
    from django.urls import reverse

    recipient_list = RecipientList.objects.create(account=mw_account, name="Mixed", recipient_count=3)
    Recipient.objects.bulk_create([  # 9 digits: a number here, not one MessageWhiz takes (10-15)
        Recipient(recipient_list=recipient_list, phone=phone, first_name="X")
        for phone in ("380501112233", "380501112244", "123456789")])
    recipient_list = push(recipient_list)

    assert recipient_list.sync_state == SyncState.FAILED
    assert recipient_list.sync_error == (
        "MessageWhiz accepted 2 of 3 (1 wrong): the list there does not hold what it holds here.")
    page = admin_client.get(reverse("recipients:list_detail", args=["recipients", recipient_list.pk])).content.decode()
    assert "MessageWhiz accepted 2 of 3 (1 wrong)" in page

    # Fixed here: the next push sends the whole list again, not just what changed.
    Recipient.objects.filter(recipient_list=recipient_list, phone="123456789").update(phone="380501112255")
    services.recipient_list_rename(recipient_list=recipient_list, name="Mixed, fixed")
    recipient_list = push(recipient_list)
    assert recipient_list.sync_state == SyncState.SYNCED, recipient_list.sync_error
    assert sandbox.requests(method="PUT", path=f"(?i)^/api/3/recipientList/{recipient_list.remote_id}$")
    assert recipient_list.remote_counts == "MessageWhiz accepted 3 of 3 (0 wrong)"


def test_numbers_messagewhiz_refuses_fail_a_phone_only_list_and_an_unsubscribe_list(mw_account, sandbox):
    plain = RecipientList.objects.create(account=mw_account, name="Plain", recipient_count=2)
    Recipient.objects.bulk_create([Recipient(recipient_list=plain, phone=p) for p in ("380501112233", "123")])
    plain = push(plain)
    assert plain.sync_state == SyncState.FAILED and plain.remote_counts == "MessageWhiz accepted 1 of 2 (1 wrong)"

    unsubscribes = UnsubscribeList.objects.create(account=mw_account, name="Opt-outs", member_count=2)
    UnsubscribeNumber.objects.bulk_create([UnsubscribeNumber(unsubscribe_list=unsubscribes, phone=p)
                                           for p in ("380501112233", "123")])
    unsubscribes = push(unsubscribes)
    assert unsubscribes.sync_state == SyncState.FAILED
    assert unsubscribes.sync_error.startswith("MessageWhiz accepted 1 of 2:")
