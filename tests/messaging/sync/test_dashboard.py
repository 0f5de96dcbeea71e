"""Marketers manage mirrored entities from the dashboard; MessageWhiz follows."""

import pytest
from django.urls import reverse

from campaigns.models import WordSpinner
from messaging.mirror import SyncState
from messaging.models import Sender, SenderList


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
    # the reference's "409 Duplicate entry", whenever MessageWhiz answers it (it never says what is unique)
    sandbox.faults(path="/api/3/sender", fail_next=[{"status": 409, "error_message": "Sender Taken already exists"}])
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


def test_admin_pull_now_and_push_now(admin_client, mw_account, sandbox, django_capture_on_commit_callbacks):
    sandbox.seed("senders", [{"name": "Remote"}])
    Sender.objects.create(account=mw_account, name="Local")
    local = Sender.objects.get(name="Local")
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(reverse("admin:messaging_sender_changelist"),
                          {"action": "pull_now", "_selected_action": [local.pk]})
    assert Sender.objects.filter(name="Remote", sync_state=SyncState.SYNCED).exists()
    admin_client.post(reverse("admin:messaging_sender_changelist"),
                      {"action": "push_now", "_selected_action": [local.pk]})
    local.refresh_from_db()
    assert local.sync_state == SyncState.SYNCED
    assert {s["name"] for s in sandbox.state("senders")} == {"Remote", "Local"}


def test_admin_pull_needs_no_selected_rows_and_brings_list_members(admin_client, mw_account, sandbox,
                                                                   django_capture_on_commit_callbacks):
    senders = sandbox.seed("senders", [{"name": "ShopCo"}, {"name": "Deals"}])
    sandbox.seed("sender_lists", [{"name": "Rotation", "sender_ids": [s["id"] for s in senders]}])
    changelist = admin_client.get(reverse("admin:messaging_senderlist_changelist")).content.decode()
    assert "Pull from MessageWhiz" in changelist
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(reverse("admin:messaging_senderlist_pull"))
    assert response.status_code == 302
    assert set(SenderList.objects.get().senders.values_list("name", flat=True)) == {"ShopCo", "Deals"}


def test_admin_keeps_the_account_and_refuses_members_of_another(admin_client, mw_account, sandbox):
    from messaging.models import ProviderAccount

    other = ProviderAccount.objects.create(name="Other", base_url=sandbox.url, api_key="other-key")
    sender_list = SenderList.objects.create(account=mw_account, name="Rotation")
    outsider = Sender.objects.create(account=other, name="Outsider")
    url = reverse("admin:messaging_senderlist_change", args=[sender_list.pk])
    page = admin_client.get(url).content.decode()
    assert 'name="account"' not in page  # shown, not editable

    through = "SenderList_senders-"
    response = admin_client.post(url, {
        "name": "Rotation", "enabled": "on",
        f"{through}TOTAL_FORMS": "1", f"{through}INITIAL_FORMS": "0",
        f"{through}0-sender": outsider.pk, f"{through}0-senderlist": sender_list.pk,
    })
    assert response.status_code == 200
    assert "belongs to the provider account “Other”" in response.content.decode()
    assert not sender_list.senders.exists()


def test_sync_now_from_an_empty_list_shows_progress_and_result(admin_client, mw_account, sandbox,
                                                                django_capture_on_commit_callbacks):
    sandbox.seed("templates", [{"name": "Hello", "body": "Hi"}, {"name": "Bye", "body": "Bye"}])
    empty = admin_client.get(reverse("campaigns:template_list")).content.decode()
    assert "manage.py" not in empty
    assert reverse("campaigns:template_sync") in empty

    with django_capture_on_commit_callbacks() as queued:
        admin_client.post(reverse("campaigns:template_sync"))
    waiting = admin_client.get(reverse("campaigns:template_list")).content.decode()
    assert "sync queued" in waiting and 'hx-trigger="every 2s"' in waiting
    for task in queued:
        task()  # the worker runs the pull
    done = admin_client.get(reverse("campaigns:template_list")).content.decode()
    assert "2 new" in done and "Hello" in done and "Bye" in done
    assert "hx-trigger" not in done


def test_sync_now_while_a_sync_is_queued_queues_no_second_one(admin_client, mw_account, sandbox,
                                                              django_capture_on_commit_callbacks):
    sandbox.seed("templates", [{"name": "Hello", "body": "Hi"}])
    with django_capture_on_commit_callbacks() as queued:
        admin_client.post(reverse("campaigns:template_sync"))
        again = admin_client.post(reverse("campaigns:template_sync"), follow=True).content.decode()
    assert len(queued) == 1
    assert "already under way" in again
    for task in queued:
        task()
    with django_capture_on_commit_callbacks() as queued:
        admin_client.post(reverse("admin:campaigns_template_pull"))  # done, so a new one may start
    assert len(queued) == 1


def test_a_sync_that_crashes_is_shown_failed_at_once(admin_client, mw_account, sandbox, monkeypatch,
                                                      django_capture_on_commit_callbacks):
    import messaging.sync.pull as pull_module

    def crash(*args):
        raise RuntimeError("the database connection was lost")

    monkeypatch.setattr(pull_module, "_known_members", crash)
    with django_capture_on_commit_callbacks() as queued:
        admin_client.post(reverse("campaigns:template_sync"))
    with pytest.raises(RuntimeError):
        queued[0]()
    page = admin_client.get(reverse("campaigns:template_list")).content.decode()
    assert "sync failed" in page and "the database connection was lost" in page
    assert "hx-trigger" not in page and "syncing" not in page


def test_help_text_is_referenced_only_where_it_exists(admin_client, mw_account):
    page = admin_client.get(reverse("campaigns:link_create")).content.decode()
    assert 'aria-describedby="help_bot_redirect"' in page and 'id="help_bot_redirect"' in page
    assert "help_name" not in page and "help_url" not in page


def test_sender_name_of_non_latin_digits_is_refused(admin_client, mw_account, sandbox):
    response = admin_client.post(reverse("messaging:sender_create"), {"account": mw_account.pk, "name": "١٢٣٤٥"})
    assert "must not exceed 11 letters" in response.content.decode()
    assert not Sender.objects.exists()
    admin_client.post(reverse("messaging:sender_create"), {"account": mw_account.pk, "name": "12345678901234567890"})
    assert Sender.objects.get().name == "12345678901234567890"


def test_saving_a_sender_list_keeps_its_disabled_members(admin_client, mw_account, sandbox,
                                                         django_capture_on_commit_callbacks):
    from tests.messaging.sync.conftest import remote

    one = Sender.objects.create(account=mw_account, name="One")
    two = Sender.objects.create(account=mw_account, name="Two", enabled=False)
    sender_list = SenderList.objects.create(account=mw_account, name="Rotation")
    sender_list.senders.set([one, two])
    page = admin_client.get(reverse("messaging:senderlist_edit", args=[sender_list.pk])).content.decode()
    assert "Two" in page and "disabled" in page

    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(reverse("messaging:senderlist_edit", args=[sender_list.pk]), {"name": "Rotation 2"})
    sender_list.refresh_from_db()
    assert sender_list.sync_state == SyncState.SYNCED, sender_list.sync_error
    assert set(sender_list.senders.all()) == {one, two}
    one.refresh_from_db()
    assert remote(sandbox, "sender_lists", sender_list.remote_id)["sender_ids"] == [one.remote_id]


def test_dashboard_refuses_members_of_another_account(admin_client, mw_account, sandbox):
    from messaging.models import ProviderAccount

    other = ProviderAccount.objects.create(name="Other", base_url=sandbox.url, api_key="other-key")
    outsider = Sender.objects.create(account=other, name="Outsider")
    response = admin_client.post(reverse("messaging:senderlist_create"),
                                 {"account": mw_account.pk, "name": "Rotation", "senders_add": [outsider.pk]})
    assert response.status_code == 200
    assert "belongs to the provider account “Other”" in response.content.decode()
    assert not SenderList.objects.exists()


@pytest.mark.parametrize("action", ["add", "remove"])
def test_a_ticked_member_deleted_before_saving_is_explained(admin_client, mw_account, sandbox, action):
    kept = Sender.objects.create(account=mw_account, name="Kept")
    gone = Sender.objects.create(account=mw_account, name="Gone")
    sender_list = SenderList.objects.create(account=mw_account, name="Rotation")
    sender_list.senders.set([kept, gone] if action == "remove" else [kept])
    url = reverse("messaging:senderlist_edit", args=[sender_list.pk])
    gone_pk = gone.pk
    gone.delete()  # by someone else, while this page was open
    response = admin_client.post(url, {"name": "Rotation 2", f"senders_{action}": [gone_pk]})
    assert response.status_code == 200
    assert f"A sender you ticked to {action} no longer exists" in response.content.decode()
    sender_list.refresh_from_db()
    assert sender_list.name == "Rotation"


def test_validation_refusal_is_visible_on_the_object(admin_client, mw_account, sandbox,
                                                     django_capture_on_commit_callbacks):
    from campaigns.models import Link

    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(reverse("campaigns:link_create"),
                          {"account": mw_account.pk, "name": "Files", "url": "ftp://files.example.com/a"})
    link = Link.objects.get()
    assert link.sync_state == SyncState.FAILED
    assert "400" in link.sync_error and "url must be a URL address" in link.sync_error
    for page in (reverse("campaigns:link_list"), reverse("campaigns:link_edit", args=[link.pk])):
        assert "url must be a URL address" in admin_client.get(page).content.decode()
    assert sandbox.state("links") == []


def test_admin_disable_and_enable_actions_reach_messagewhiz(admin_client, mw_account, sandbox,
                                                            django_capture_on_commit_callbacks):
    from tests.messaging.sync.conftest import remote

    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(reverse("messaging:sender_create"), {"account": mw_account.pk, "name": "ShopCo"})
    sender = Sender.objects.get()
    changelist = reverse("admin:messaging_sender_changelist")
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(changelist, {"action": "disable", "_selected_action": [sender.pk]})
    sender.refresh_from_db()
    assert sender.sync_state == SyncState.DISABLED
    assert remote(sandbox, "senders", sender.remote_id)["enabled"] is False
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(changelist, {"action": "enable", "_selected_action": [sender.pk]})
    sender.refresh_from_db()
    assert sender.sync_state == SyncState.SYNCED
    assert remote(sandbox, "senders", sender.remote_id)["enabled"] is True
    assert [r["method"] for r in sandbox.requests(path=rf"/api/3/sender/{sender.remote_id}$")] == ["DELETE", "PATCH"]
