"""Objects made directly in MessageWhiz appear in Textcast; a second pull changes nothing."""

import pytest
from django.core.management import call_command

from campaigns.models import Campaign, Link, LinkList, Template, Trigger, WordSpinner
from messaging.mirror import SyncState
from messaging.models import Sender, SenderList
from messaging.sync import resources
from messaging.sync.pull import MISSING_REMOTELY, mirror_pull, mirror_pull_account


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


@pytest.mark.slow
def test_pull_of_5000_objects_then_a_second_pull_reports_zero_changes(mw_account, sandbox, capsys):
    sandbox.seed("campaigns", [{"name": f"Campaign {i}"} for i in range(5000)])
    call_command("sync_messagewhiz", "--entity", "campaign")
    assert Campaign.objects.count() == 5000
    first = capsys.readouterr().out
    assert "5000" in first
    call_command("sync_messagewhiz", "--entity", "campaign")
    second = capsys.readouterr().out
    row = next(line for line in second.splitlines() if line.strip().startswith("campaign"))
    assert row.split()[1:] == ["0", "0", "5000", "0", "0", "0"]


def test_command_rejects_unknown_entity(mw_account):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="unknown entity"):
        call_command("sync_messagewhiz", "--entity", "nonsense")
