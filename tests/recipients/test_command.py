"""`manage.py import_recipients`: the same import, synchronously, result as JSON."""

import io
import json

import pytest
from django.core.management import CommandError, call_command

from messaging.models import ProviderAccount
from recipients.models import RecipientList

from .conftest import phones_of


def run(*args) -> dict:
    out = io.StringIO()
    call_command("import_recipients", *map(str, args), stdout=out)
    return json.loads(out.getvalue())


def test_import_with_default_country(write_csv, account):
    path = write_csv([["phone", "name"], ["050 123 45 67", "Olena"], ["+380501234567", "dup"], ["x", "bad"]])
    output = run(path, "--list", "Cmd", "--mapping", '{"0":"phone_number","1":"first_name"}',
                 "--default-country", "UA")
    assert {key: output[key] for key in ("inserted", "total", "wrong", "duplicate")} == {
        "inserted": 1, "total": 3, "wrong": 1, "duplicate": 1,
    }
    recipient_list = RecipientList.objects.get(pk=output["list_id"])
    assert (recipient_list.name, recipient_list.account) == ("Cmd", account)
    assert output["rejects"].endswith(".csv")


def test_append_and_replace_find_the_list_by_name(write_csv, make_list):
    recipient_list = make_list(name="Existing", phones=["380501234567"])
    path = write_csv([["380501234568"]])
    run(path, "--list", "Existing", "--mapping", '{"0":"phone_number"}', "--mode", "append", "--no-header")
    assert phones_of(recipient_list) == ["380501234567", "380501234568"]
    run(path, "--list", "Existing", "--mapping", '{"0":"phone_number"}', "--mode", "replace", "--no-header")
    assert phones_of(recipient_list) == ["380501234568"]


def test_sheet_and_truncate_options(write_xlsx, account):
    path = write_xlsx({"Skip": [["x"]], "Data": [["phone", "name"], [380501234567, "N" * 80]]})
    output = run(path, "--list", "X", "--mapping", '{"0":"phone_number","1":"first_name"}', "--sheet", "1",
                 "--truncate", "--account", "Sandbox")
    assert output["inserted"] == 1
    assert len(RecipientList.objects.get().recipients.get().first_name) == 50


def failing(*args) -> dict:
    """Run the command, failing: a JSON error object on stdout, and (manage.py's exit status) 1."""
    out = io.StringIO()
    with pytest.raises(CommandError) as caught:
        call_command("import_recipients", *map(str, args), stdout=out)
    assert caught.value.returncode == 1
    output = json.loads(out.getvalue())
    assert output["error"] == str(caught.value)
    return output


def test_failures_print_a_json_error_and_exit_1(write_csv, account):
    path = write_csv([["phone", "name"], ["380501234567", "N" * 51], ["x", "bad"]])
    output = failing(path, "--list", "X", "--mapping", '{"0":"phone_number","1":"first_name"}')
    assert output["error"].startswith("1 field is longer than MessageWhiz allows")
    assert output["rejects"].endswith(".csv") and "job_id" in output
    assert failing(path, "--list", "X", "--mapping", "nope") == {
        "error": 'The mapping is not valid JSON, e.g. {"0": "phone_number"}.'}
    assert failing(path, "--list", "X", "--mapping", '{"0":"phone_number"}', "--account", "Nobody") == {
        "error": "No provider account named 'Nobody'."}
    assert not RecipientList.objects.exists()


def test_errors_are_reported_as_command_errors(write_csv, account):
    path = write_csv([["phone"], ["380501234567"]])
    with pytest.raises(CommandError, match="No column is mapped to phone_number"):
        run(path, "--list", "X", "--mapping", '{"0":"first_name"}')
    with pytest.raises(CommandError, match="No list named 'Missing'"):
        run(path, "--list", "Missing", "--mapping", '{"0":"phone_number"}', "--mode", "append")
    long_path = write_csv([["phone", "name"], ["380501234567", "N" * 51]], name="long.csv")
    with pytest.raises(CommandError, match="1 field is longer than MessageWhiz allows"):
        run(long_path, "--list", "X", "--mapping", '{"0":"phone_number","1":"first_name"}')
    ProviderAccount.objects.create(name="Second", api_key="k")
    with pytest.raises(CommandError, match="Name the provider account with --account"):
        run(path, "--list", "X", "--mapping", '{"0":"phone_number"}')
    assert not RecipientList.objects.exists()
