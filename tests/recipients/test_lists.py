"""Lists from pasted numbers, unsubscribe lists, rename and disable."""

import pytest

from messaging.mirror import SyncState
from recipients.errors import ImportProblem
from recipients.models import ImportJob, RecipientList
from recipients.services import (
    recipient_list_add_numbers,
    recipient_list_create_from_numbers,
    recipient_list_disable,
    recipient_list_rename,
    split_numbers,
    unsubscribe_list_add_numbers,
    unsubscribe_list_create_from_numbers,
    unsubscribe_list_disable,
)

from .conftest import phones_of


def test_split_pasted_text():
    text = "380501234567, 380501234568;380501234569\n+380 50 123 45 70\t0501234571\r\n\n380501234572 380501234573"
    assert split_numbers(text, default_country="UA") == [
        "380501234567", "380501234568", "380501234569", "+380 50 123 45 70", "0501234571",
        "380501234572", "380501234573",
    ]
    assert split_numbers("050 123 45 67", default_country="UA") == ["050 123 45 67"]


def test_create_list_from_pasted_numbers(account):
    recipient_list, result = recipient_list_create_from_numbers(
        account=account, name="Manual", numbers="380503327227\n380671234567, 380503327227\nnope",
    )
    assert result.as_dict() == {"inserted": 2, "total": 4, "wrong": 1, "duplicate": 1}
    assert result.rejected == [("380503327227", "duplicate: repeats row 1"),
                               ("nope", "not a phone number")]
    assert (recipient_list.name, recipient_list.recipient_count) == ("Manual", 2)
    assert phones_of(recipient_list) == ["380503327227", "380671234567"]


def test_add_numbers_to_a_list(make_list):
    recipient_list = make_list(phones=["380503327227"])
    result = recipient_list_add_numbers(recipient_list=recipient_list, numbers=["380503322227", "380503327227"])
    assert result.as_dict() == {"inserted": 1, "total": 2, "wrong": 0, "duplicate": 1}
    recipient_list.refresh_from_db()
    assert recipient_list.recipient_count == 2
    assert recipient_list.sync_state == SyncState.PENDING


def test_nothing_to_add(make_list):
    with pytest.raises(ImportProblem, match="Enter at least one phone number"):
        recipient_list_add_numbers(recipient_list=make_list(), numbers=" \n ,, ")


def test_unsubscribe_lists_by_hand_and_from_a_file(account, write_csv, run_import):
    unsubscribe_list, result = unsubscribe_list_create_from_numbers(
        account=account, name="Opt-outs", numbers=["380502222233"]
    )
    assert result.as_dict() == {"inserted": 1, "total": 1, "wrong": 0, "duplicate": 0}
    result = unsubscribe_list_add_numbers(
        unsubscribe_list=unsubscribe_list, numbers="380502222233\n380643333322\n123", default_country="UA"
    )
    assert result.as_dict() == {"inserted": 1, "total": 3, "wrong": 1, "duplicate": 1}

    path = write_csv([["msisdn", "name"], ["+380 50 232 72 65", "ignored"], ["380643333322", "dup"]])
    job = run_import(path, {"0": "phone_number", "1": "first_name"}, kind="unsubscribes", mode="append",
                     target=unsubscribe_list)
    assert job.result == {"inserted": 1, "total": 2, "wrong": 0, "duplicate": 1}
    unsubscribe_list.refresh_from_db()
    assert unsubscribe_list.member_count == 3
    assert phones_of(unsubscribe_list) == ["380502222233", "380502327265", "380643333322"]

    job = run_import(write_csv([["phone"], ["380501111111"]]), kind="unsubscribes", mode="replace",
                     target=unsubscribe_list)
    assert job.status == ImportJob.Status.SUCCEEDED
    assert phones_of(unsubscribe_list) == ["380501111111"]


def test_new_unsubscribe_list_from_a_file(write_csv, run_import):
    job = run_import(write_csv([["phone"], ["380501111111"], ["380501111111"]]), kind="unsubscribes",
                     name="From file")
    assert job.unsubscribe_list.name == "From file"
    assert job.unsubscribe_list.member_count == 1


def test_rename_and_disable_are_local_edits_for_the_sync_to_push(make_list, make_unsubscribe_list):
    recipient_list = make_list()
    RecipientList.objects.filter(pk=recipient_list.pk).update(sync_state=SyncState.SYNCED)
    recipient_list = recipient_list_rename(recipient_list=recipient_list, name="  Renamed ")
    assert (recipient_list.name, recipient_list.sync_state, recipient_list.revision) == (
        "Renamed", SyncState.PENDING, 1,
    )
    recipient_list = recipient_list_disable(recipient_list=recipient_list)
    assert (recipient_list.enabled, recipient_list.revision) == (False, 2)

    unsubscribe_list = unsubscribe_list_disable(unsubscribe_list=make_unsubscribe_list())
    assert unsubscribe_list.enabled is False
    with pytest.raises(ImportProblem, match="Give the list a name"):
        recipient_list_rename(recipient_list=recipient_list, name=" ")
