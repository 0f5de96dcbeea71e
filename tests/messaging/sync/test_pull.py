"""Objects made directly in MessageWhiz appear in Textcast; a second pull changes nothing."""

import pytest
from celery.exceptions import Retry
from django.core.management import call_command

from campaigns.models import Campaign, Link, LinkList, Template, Trigger, WordSpinner
from messaging.mirror import SyncState
from messaging.models import Sender, SenderList
from messaging.sync import resources
from messaging.sync.pull import ALREADY_RUNNING, MISSING_REMOTELY, mirror_pull, mirror_pull_account
from messaging.sync.push import mirror_changed
from tests.conftest import run_like_a_worker


def pull(account, key):
    return mirror_pull(account, resources.get(key)).as_dict()


def test_pull_creates_every_kind_of_entity_and_is_idempotent(mw_account, sandbox):
    senders = sandbox.seed("senders", [{"name": "ShopCo"}, {"name": "Deals"}])
    sandbox.seed("sender_lists", [{"name": "Rotation", "sender_ids": [s["id"] for s in senders]}])
    links = sandbox.seed("links", [{"name": "Shop", "url": "https://shop.example.com"}])
    sandbox.seed("link_lists", [{"name": "Rotate", "link_ids": [links[0]["id"]]}])
    sandbox.seed("campaigns", [{"name": "Remote campaign"}])
    sandbox.seed("templates", [{"name": "Hello", "body": "Hi {{first_name}}"}])
    sandbox.seed("word_spinners", [{"name": "greet", "words": ["Hi", "Hey"]}])
    sandbox.seed("triggers", [{"name": "Landed"}])

    first = {key: s.as_dict() for key, s in mirror_pull_account(mw_account).items()}
    assert {key: row["created"] for key, row in first.items()} == {
        "sender": 2, "sender_list": 1, "link": 1, "link_list": 1, "campaign": 1, "template": 1,
        "word_spinner": 1, "trigger": 1, "recipient_list": 0, "unsubscribe_list": 0,
    }
    assert set(SenderList.objects.get().senders.values_list("name", flat=True)) == {"ShopCo", "Deals"}
    assert LinkList.objects.get().links.get().url == "https://shop.example.com"
    assert Template.objects.get().body == "Hi {{first_name}}"
    assert WordSpinner.objects.get().words == ["Hi", "Hey"]
    assert Trigger.objects.get().short_url
    assert Campaign.objects.get().sync_state == SyncState.SYNCED

    second = {key: s.as_dict() for key, s in mirror_pull_account(mw_account).items()}
    for key, row in second.items():
        assert row["created"] == row["updated"] == row["missing"] == row["failed"] == 0, (key, row)
        assert row["unchanged"] == first[key]["created"]


def test_disabled_remote_objects_are_pulled_as_disabled(mw_account, sandbox):
    sandbox.seed("senders", [{"name": "Old", "enabled": False}, {"name": "New"}])
    assert pull(mw_account, "sender")["created"] == 2
    assert Sender.objects.get(name="Old").sync_state == SyncState.DISABLED
    assert not Sender.objects.get(name="Old").enabled


def test_remote_change_updates_an_unchanged_local_copy(mw_account, sandbox):
    [item] = sandbox.seed("templates", [{"name": "Promo", "body": "old"}])
    pull(mw_account, "template")
    sandbox.http.put(f"{sandbox.url}/api/3/template/{item['id']}", json={"body": "new"},
                     headers={"apikey": sandbox.api_key}, timeout=5).raise_for_status()
    assert pull(mw_account, "template")["updated"] == 1
    assert Template.objects.get().body == "new"


def test_local_edit_not_yet_pushed_wins_over_the_remote_copy(mw_account, sandbox):
    sandbox.seed("templates", [{"name": "Promo", "body": "remote"}])
    pull(mw_account, "template")
    Template.objects.update(body="local", sync_state=SyncState.PENDING)
    assert pull(mw_account, "template")["kept_local"] == 1
    assert Template.objects.get().body == "local"


def test_objects_gone_remotely_are_marked(mw_account, sandbox):
    sandbox.seed("links", [{"name": "Shop", "url": "https://shop.example.com"}])
    pull(mw_account, "link")
    sandbox.reset()
    assert pull(mw_account, "link")["missing"] == 1
    link = Link.objects.get()
    assert link.sync_state == SyncState.FAILED
    assert link.sync_error == MISSING_REMOTELY
    assert pull(mw_account, "link")["missing"] == 0  # marked once, not counted again


def test_unreachable_provider_is_reported_not_raised(mw_account, sandbox, settings):
    settings.MESSAGEWHIZ_MAX_RETRIES = 0
    mw_account.base_url = "http://127.0.0.1:9"  # nothing listens on the discard port
    mw_account.save()
    summary = pull(mw_account, "campaign")
    assert summary["failed"] == 1
    assert summary["error"]


def test_pull_of_5000_objects_then_a_second_pull_reports_zero_changes(mw_account, sandbox, capsys):
    sandbox.seed("campaigns", [
        {"name": f"Campaign {i}", "start_date": f"2026-{i % 12 + 1:02d}-01T08:30:00.000Z",
         "end_date": "2026-12-31T21:00:00.000Z" if i % 2 else None}
        for i in range(5000)
    ])
    call_command("sync_messagewhiz", "--entity", "campaign")
    assert Campaign.objects.count() == 5000
    assert Campaign.objects.get(name="Campaign 13").start_date.isoformat() == "2026-02-01T08:30:00+00:00"
    first = capsys.readouterr().out
    assert "5000" in first
    call_command("sync_messagewhiz", "--entity", "campaign")
    second = capsys.readouterr().out
    row = next(line for line in second.splitlines() if line.strip().startswith("campaign"))
    assert row.split()[1:] == ["0", "0", "5000", "0", "0", "0"]


def test_pull_between_a_lost_create_and_its_retry_makes_no_duplicate(mw_account, sandbox, settings,
                                                                     django_capture_on_commit_callbacks):
    settings.MESSAGEWHIZ_READ_TIMEOUT = 0.5
    sandbox.faults(fail_next=[{"hang": 2, "apply": True}])
    with django_capture_on_commit_callbacks() as queued:
        mirror_changed(Campaign(account=mw_account, name="Ambiguous"))
    with pytest.raises(Retry):
        queued[0]()  # created remotely, the answer lost

    summary = pull(mw_account, "campaign")
    assert (summary["created"], summary["kept_local"]) == (0, 1)
    run_like_a_worker(queued[0])  # the retry
    campaign = Campaign.objects.get()
    [data] = sandbox.state("campaigns")
    assert (campaign.remote_id, campaign.sync_state) == (data["id"], SyncState.SYNCED)
    assert len(sandbox.requests(method="POST", path="/api/3/campaign$")) == 1


def test_pulling_a_list_kind_pulls_its_members_first(mw_account, sandbox):
    senders = sandbox.seed("senders", [{"name": "ShopCo"}, {"name": "Deals"}])
    sandbox.seed("sender_lists", [{"name": "Rotation", "sender_ids": [s["id"] for s in senders]}])
    summaries = mirror_pull_account(mw_account, ["sender_list"])
    assert list(summaries) == ["sender", "sender_list"]
    assert set(SenderList.objects.get().senders.values_list("name", flat=True)) == {"ShopCo", "Deals"}


def test_members_not_mirrored_here_are_left_alone(mw_account, sandbox, django_capture_on_commit_callbacks):
    senders = sandbox.seed("senders", [{"name": "ShopCo"}, {"name": "Deals"}])
    [remote_list] = sandbox.seed("sender_lists", [{"name": "Rotation", "sender_ids": [s["id"] for s in senders]}])
    pull(mw_account, "sender")
    Sender.objects.filter(name="Deals").delete()  # not mirrored here (say, another account's pull failed)
    assert pull(mw_account, "sender_list")["created"] == 1
    sender_list = SenderList.objects.get()
    assert list(sender_list.senders.values_list("name", flat=True)) == ["ShopCo"]
    assert pull(mw_account, "sender_list")["unchanged"] == 1

    sender_list.name = "Rotation 2"
    with django_capture_on_commit_callbacks() as queued:
        mirror_changed(sender_list)
    for push in queued:
        run_like_a_worker(push)
    [data] = sandbox.state("sender_lists")
    assert (data["name"], sorted(data["sender_ids"])) == ("Rotation 2", sorted(remote_list["sender_ids"]))


def test_local_edit_made_while_a_pull_runs_is_not_overwritten(mw_account, sandbox, monkeypatch):
    import messaging.sync.pull as pull_module

    [item] = sandbox.seed("templates", [{"name": "Promo", "body": "old"}])
    pull(mw_account, "template")
    sandbox.http.put(f"{sandbox.url}/api/3/template/{item['id']}", json={"body": "remote"},
                     headers={"apikey": sandbox.api_key}, timeout=5).raise_for_status()

    read_members = pull_module._known_members

    def edit_meanwhile(*args):
        # The pull has read the local rows; now a user saves an edit, before the pull writes.
        template = Template.objects.get()
        template.body = "local"
        mirror_changed(template)
        return read_members(*args)

    monkeypatch.setattr(pull_module, "_known_members", edit_meanwhile)
    summary = pull(mw_account, "template")
    assert (summary["updated"], summary["kept_local"]) == (0, 1)
    template = Template.objects.get()
    assert (template.body, template.sync_state) == ("local", SyncState.PENDING)


def test_a_pull_started_while_one_of_the_same_kind_runs_is_skipped(mw_account, sandbox, monkeypatch):
    import messaging.sync.pull as pull_module

    sandbox.seed("templates", [{"name": "Promo", "body": "Hi"}])
    read_members = pull_module._known_members
    second = {}

    def pull_again_meanwhile(*args):
        # The pull has read the local rows; now a second one starts (beat, "Sync now", the command).
        monkeypatch.setattr(pull_module, "_known_members", read_members)
        second.update(mirror_pull_account(mw_account, ["template"]))
        return read_members(*args)

    monkeypatch.setattr(pull_module, "_known_members", pull_again_meanwhile)
    first = mirror_pull_account(mw_account, ["template"])
    assert second["template"].error == ALREADY_RUNNING
    assert first["template"].as_dict() == {**first["template"].as_dict(), "created": 1, "error": ""}
    assert Template.objects.get().name == "Promo"
    assert mirror_pull_account(mw_account, ["template"])["template"].unchanged == 1  # the next one runs


def test_command_rejects_unknown_entity(mw_account):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="unknown entity"):
        call_command("sync_messagewhiz", "--entity", "nonsense")


def test_pull_reads_every_page_of_a_server_that_caps_pages_and_marks_nothing_missing(mw_account, sandbox):
    """The sandbox answers at most 25 items to limit=100: stopping at that short page made every later
    object "not found in MessageWhiz"."""
    sandbox.seed("templates", [{"name": f"T{n:02}", "body": "Hi"} for n in range(60)])

    assert pull(mw_account, "template")["created"] == 60
    second = pull(mw_account, "template")
    assert (second["unchanged"], second["missing"]) == (60, 0)
    assert not Template.objects.exclude(sync_state=SyncState.SYNCED).exists()


def test_a_pull_cut_short_marks_nothing_missing(mw_account, sandbox):
    sandbox.seed("templates", [{"name": f"T{n:02}", "body": "Hi"} for n in range(60)])
    pull(mw_account, "template")
    # The first page comes, the second is refused: the walk never finished.
    sandbox.faults(path="^/api/3/template$", fail_next=[{"hang": 0, "apply": True}, {"status": 400}])

    summary = pull(mw_account, "template")

    assert (summary["failed"], summary["missing"]) == (1, 0)
    assert not Template.objects.exclude(sync_state=SyncState.SYNCED).exists()


def test_an_object_a_walk_skipped_is_looked_up_before_it_is_called_missing(db, stub):
    """Paging by offset skips an item when one before it leaves the list meanwhile: here B."""
    from messaging.models import ProviderAccount

    account = ProviderAccount.objects.create(name="Stub", base_url=stub.url, api_key="k")
    for remote_id, name in ((1, "A"), (2, "B")):
        Template.objects.create(account=account, name=name, body="x", remote_id=remote_id, sync_state=SyncState.SYNCED,
                                remote_snapshot={"name": name, "body": "x", "enabled": True})

    def page(*items):
        return {"json": {"errorCode": 0, "result": [{"id": i, "name": n, "body": "x", "enabled": True}
                                                    for i, n in items]}}

    stub.script = [page((1, "A")), page(), page(),  # the walk: enabled (two pages), then disabled
                   page((2, "B"))]  # B by name

    summary = pull(account, "template")

    assert (summary["unchanged"], summary["missing"]) == (1, 0)
    assert stub.seen[-1]["path"] == "/api/3/template?start=0&limit=100&enabled=true&filter=name%3DB"
    assert not Template.objects.exclude(sync_state=SyncState.SYNCED).exists()
