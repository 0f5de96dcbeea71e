"""Imports and the consent ledger: an unsubscribe-list import records opt-outs with its file as the
proof, a recipient import keeps first-time proof and never lifts an opt-out, and the `timezone`
column is imported for quiet hours."""

from recipients.consent import consent_record
from recipients.mapping import suggest_mapping
from recipients.models import ConsentEvent, ImportJob, Suppression


def test_an_unsubscribe_import_records_opt_outs_with_its_file_and_user(write_csv, run_import, account, admin_user):
    path = write_csv([["phone"], ["380501234567"], ["380501234568"]])
    job = run_import(path, {"0": "phone_number"}, kind=ImportJob.Kind.UNSUBSCRIBES, name="Opt-outs",
                     actor=admin_user)
    events = ConsentEvent.objects.order_by("phone")
    assert [(e.phone, e.kind, e.source) for e in events] == [("380501234567", "opt_out", "import"),
                                                           ("380501234568", "opt_out", "import")]
    assert events[0].evidence == {"file": job.source_name or job.source.name, "import_job": job.pk}
    assert events[0].actor == admin_user
    assert set(Suppression.objects.values_list("phone", flat=True)) == {"380501234567", "380501234568"}


def test_a_recipient_import_never_lifts_an_opt_out_and_keeps_the_timezone(write_csv, run_import, account):
    consent_record(account=account, phones=["380501234567"], kind="opt_out", source="keyword", evidence={})
    path = write_csv([["phone", "timezone"], ["380501234567", "Europe/Kyiv"], ["12125550100", "America/Chicago"]])
    job = run_import(path, {"0": "phone_number", "1": "timezone"}, name="Customers")
    assert dict(job.recipient_list.recipients.values_list("phone", "timezone")) == {
        "380501234567": "Europe/Kyiv", "12125550100": "America/Chicago"}
    assert Suppression.objects.filter(phone="380501234567").exists()
    assert list(ConsentEvent.objects.filter(phone="380501234567").values_list("kind", flat=True)) == ["opt_out"]
    assert ConsentEvent.objects.get(phone="12125550100").source == "import"  # first proof of this number


def test_a_timezone_header_is_suggested():
    assert suggest_mapping(["Phone", "Time zone"], [False, False]) == {"0": "phone_number", "1": "timezone"}


def test_numbers_messagewhiz_unsubscribed_reach_the_ledger_when_pulled(mw_account, sandbox):
    from messaging.sync import resources
    from messaging.sync.pull import mirror_pull

    sandbox.seed("unsubscribe_lists", [{"name": "Opt-outs", "numbers": ["6593333322"]}])
    mirror_pull(mw_account, resources.get("unsubscribe_list"))
    event = ConsentEvent.objects.get(phone="6593333322")
    assert (event.kind, event.evidence["pulled_from"]) == ("opt_out", "MessageWhiz")
    assert Suppression.objects.filter(account=mw_account, phone="6593333322").exists()
    mirror_pull(mw_account, resources.get("unsubscribe_list"))
    assert ConsentEvent.objects.filter(phone="6593333322").count() == 1  # a pull again records nothing new
