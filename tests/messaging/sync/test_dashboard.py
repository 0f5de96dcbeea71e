"""Marketers manage mirrored entities from the dashboard; MessageWhiz follows."""

from django.urls import reverse

from campaigns.models import WordSpinner
from messaging.mirror import SyncState
from messaging.models import Sender


def test_create_sender_from_dashboard_reaches_messagewhiz(admin_client, mw_account, sandbox,
                                                          django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(reverse("messaging:sender_create"), {"account": mw_account.pk, "name": "ShopCo"})
    assert response.status_code == 302
    sender = Sender.objects.get()
    assert sender.sync_state == SyncState.SYNCED
    assert [s["name"] for s in sandbox.state("senders")] == ["ShopCo"]
    listing = admin_client.get(reverse("messaging:sender_list")).content.decode()
    assert "ShopCo" in listing and "synced" in listing


def test_invalid_sender_name_is_explained_before_any_round_trip(admin_client, mw_account, sandbox):
    response = admin_client.post(reverse("messaging:sender_create"),
                                 {"account": mw_account.pk, "name": "Way too long sender"})
    assert response.status_code == 200
    assert "must not exceed 11 letters" in response.content.decode()
    assert not Sender.objects.exists()
    assert sandbox.requests() == []


def test_disable_from_dashboard_disables_remotely(admin_client, mw_account, sandbox,
                                                  django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(reverse("messaging:sender_create"), {"account": mw_account.pk, "name": "Old"})
    sender = Sender.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(reverse("messaging:sender_toggle", args=[sender.pk]))
    sender.refresh_from_db()
    assert sender.sync_state == SyncState.DISABLED
    assert sandbox.state("senders")[0]["enabled"] is False


def test_word_spinner_words_are_one_per_line(admin_client, mw_account, sandbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(reverse("campaigns:wordspinner_create"),
                          {"account": mw_account.pk, "name": "greet", "words": "Hi\n Hello \n\nHey"})
    assert WordSpinner.objects.get().words == ["Hi", "Hello", "Hey"]
    assert sandbox.state("word_spinners")[0]["words"] == ["Hi", "Hello", "Hey"]


def test_failed_sync_is_shown_plainly(admin_client, mw_account, sandbox, django_capture_on_commit_callbacks):
    sandbox.seed("senders", [{"name": "Taken"}])
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(reverse("messaging:sender_create"), {"account": mw_account.pk, "name": "Taken"})
    listing = admin_client.get(reverse("messaging:sender_list") + "?sync=failed").content.decode()
    assert "failed" in listing and "already exists" in listing


def test_admin_export_neutralises_formulas(admin_client, mw_account):
    Sender.objects.create(account=mw_account, name="=cmd")
    response = admin_client.post(reverse("admin:messaging_sender_changelist"),
                                 {"action": "export_csv", "_selected_action": [Sender.objects.get().pk]})
    body = b"".join(response.streaming_content).decode()
    assert "'=cmd" in body


def test_admin_delete_disables_instead(admin_client, mw_account, sandbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(reverse("messaging:sender_create"), {"account": mw_account.pk, "name": "Gone"})
    sender = Sender.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(reverse("admin:messaging_sender_delete", args=[sender.pk]), {"post": "yes"})
    sender.refresh_from_db()
    assert not sender.enabled and sender.sync_state == SyncState.DISABLED
    assert sandbox.requests(method="DELETE", path=rf"/api/3/sender/{sender.remote_id}$")


def test_admin_pull_now_and_push_now(admin_client, mw_account, sandbox):
    sandbox.seed("senders", [{"name": "Remote"}])
    Sender.objects.create(account=mw_account, name="Local")
    local = Sender.objects.get(name="Local")
    admin_client.post(reverse("admin:messaging_sender_changelist"),
                      {"action": "pull_now", "_selected_action": [local.pk]})
    assert Sender.objects.filter(name="Remote", sync_state=SyncState.SYNCED).exists()
    admin_client.post(reverse("admin:messaging_sender_changelist"),
                      {"action": "push_now", "_selected_action": [local.pk]})
    local.refresh_from_db()
    assert local.sync_state == SyncState.SYNCED
    assert {s["name"] for s in sandbox.state("senders")} == {"Remote", "Local"}
