"""Local edits reach MessageWhiz: checked against the sandbox's own state over HTTP."""

import pytest

from campaigns.models import Campaign, Link, LinkList, Template, Trigger, WordSpinner
from messaging.mirror import SyncState
from messaging.models import Sender, SenderList
from messaging.sync.push import mirror_changed, mirror_set_enabled
from tests.conftest import run_like_a_worker


@pytest.fixture
def save(django_capture_on_commit_callbacks):
    """Save a local edit the way every form and admin action does, then run the queued push task
    as a worker would, including its retries (eager Celery raises Retry instead of re-running)."""

    def run(obj):
        with django_capture_on_commit_callbacks() as queued:
            mirror_changed(obj)
        for push in queued:
            run_like_a_worker(push)
        obj.refresh_from_db()
        return obj

    return run


def remote(sandbox, collection, remote_id):
    matches = [item for item in sandbox.state(collection) if item["id"] == remote_id]
    assert len(matches) == 1, matches
    return matches[0]


def test_new_campaign_is_created_remotely_with_the_same_fields(mw_account, sandbox, save):
    campaign = save(Campaign(account=mw_account, name="Black Friday",
                             start_date="2026-11-27T00:00:00Z", end_date="2026-11-30T23:00:00Z"))
    assert campaign.sync_state == SyncState.SYNCED
    assert campaign.sync_error == ""
    data = remote(sandbox, "campaigns", campaign.remote_id)
    assert data["name"] == "Black Friday"
    assert data["start_date"].startswith("2026-11-27T00:00:00")
    assert data["end_date"].startswith("2026-11-30T23:00:00")


def test_edit_sends_put_and_delete_disables_remotely(mw_account, sandbox, save):
    campaign = save(Campaign(account=mw_account, name="Spring"))
    campaign.name = "Spring sale"
    save(campaign)
    assert remote(sandbox, "campaigns", campaign.remote_id)["name"] == "Spring sale"
    assert [r["method"] for r in sandbox.requests(path=rf"/api/3/campaign/{campaign.remote_id}$")] == ["PUT"]

    mirror_set_enabled(campaign, False)
    campaign = save(campaign)
    assert campaign.sync_state == SyncState.DISABLED
    assert remote(sandbox, "campaigns", campaign.remote_id)["enabled"] is False
    assert sandbox.requests(method="DELETE", path=rf"/api/3/campaign/{campaign.remote_id}$")

    campaign.enabled = True
    campaign = save(campaign)
    assert campaign.sync_state == SyncState.SYNCED
    assert remote(sandbox, "campaigns", campaign.remote_id)["enabled"] is True
    assert sandbox.requests(method="PATCH", path=rf"/api/3/campaign/{campaign.remote_id}$")


def test_unchanged_save_sends_nothing(mw_account, sandbox, save):
    template = save(Template(account=mw_account, name="Welcome", body="Hi {{first_name}}"))
    sandbox.control("DELETE", "requests")
    save(template)
    assert sandbox.requests() == []


@pytest.mark.parametrize(
    ("make", "collection", "expected"),
    [
        (lambda a: Sender(account=a, name="ShopCo"), "senders", {"name": "ShopCo"}),
        (lambda a: Template(account=a, name="T1", body="Hello!"), "templates", {"name": "T1", "body": "Hello!"}),
        (lambda a: WordSpinner(account=a, name="hi", words=["Hi", "Hello", "Hey"]), "word_spinners",
         {"name": "hi", "words": ["Hi", "Hello", "Hey"]}),
        (lambda a: Link(account=a, name="Shop", url="https://shop.example.com/sale",
                        bot_redirect="https://shop.example.com/desktop", preview_url="https://shop.example.com/p"),
         "links", {"name": "Shop", "url": "https://shop.example.com/sale"}),
        (lambda a: Trigger(account=a, name="Flight landed"), "triggers", {"name": "Flight landed"}),
    ],
)
def test_every_simple_entity_round_trips(mw_account, sandbox, save, make, collection, expected):
    obj = save(make(mw_account))
    assert obj.sync_state == SyncState.SYNCED, obj.sync_error
    data = remote(sandbox, collection, obj.remote_id)
    assert {key: data[key] for key in expected} == expected


def test_link_platform_links_are_sent(mw_account, sandbox, save):
    link = save(Link(account=mw_account, name="Shop", url="https://shop.example.com",
                     bot_redirect="https://shop.example.com/desktop"))
    body = sandbox.requests(method="POST", path="/api/3/link$")[0]["json"]
    assert body["platform_based_links"] == {"bot_redirect": "https://shop.example.com/desktop"}
    assert link.sync_state == SyncState.SYNCED


def test_trigger_reads_back_uuid_and_short_url(mw_account, sandbox, save):
    trigger = save(Trigger(account=mw_account, name="Arrival"))
    data = remote(sandbox, "triggers", trigger.remote_id)
    assert trigger.uuid == data["uuid"] and trigger.uuid
    assert trigger.short_url == data["short_url"] and trigger.short_url.startswith("http")


def test_sender_list_pushes_unsynced_members_first_and_keeps_membership_in_step(mw_account, sandbox, save):
    one, two, three = (Sender.objects.create(account=mw_account, name=n) for n in ("One", "Two", "Three"))
    sender_list = SenderList.objects.create(account=mw_account, name="Rotation")
    sender_list.senders.set([one, two])
    sender_list = save(sender_list)
    assert sender_list.sync_state == SyncState.SYNCED, sender_list.sync_error
    one.refresh_from_db(), two.refresh_from_db()
    assert sorted(remote(sandbox, "sender_lists", sender_list.remote_id)["sender_ids"]) == sorted(
        [one.remote_id, two.remote_id])

    sender_list.senders.set([two, three])
    save(sender_list)
    three.refresh_from_db()
    assert sorted(remote(sandbox, "sender_lists", sender_list.remote_id)["sender_ids"]) == sorted(
        [two.remote_id, three.remote_id])


def test_link_list_membership(mw_account, sandbox, save):
    a = save(Link(account=mw_account, name="A", url="https://a.example.com"))
    b = save(Link(account=mw_account, name="B", url="https://b.example.com"))
    link_list = LinkList.objects.create(account=mw_account, name="Rotate")
    link_list.links.set([a, b])
    link_list = save(link_list)
    assert link_list.sync_state == SyncState.SYNCED, link_list.sync_error
    assert sorted(remote(sandbox, "link_lists", link_list.remote_id)["link_ids"]) == sorted([a.remote_id, b.remote_id])

    link_list.links.set([b])
    link_list.name = "Rotate 2"
    save(link_list)
    data = remote(sandbox, "link_lists", link_list.remote_id)
    assert data["link_ids"] == [b.remote_id]
    assert data["name"] == "Rotate 2"


def test_refusal_is_shown_on_the_object_and_can_be_retried(mw_account, sandbox, save):
    save(Template(account=mw_account, name="Promo", body="A"))
    clash = save(Template(account=mw_account, name="Promo", body="B"))
    assert clash.sync_state == SyncState.FAILED
    assert "already exists" in clash.sync_error
    clash.name = "Promo 2"
    clash = save(clash)
    assert clash.sync_state == SyncState.SYNCED
    assert clash.sync_error == ""


def test_server_errors_are_retried_until_synced_without_duplicates(mw_account, sandbox, save):
    sandbox.faults(fail_next=[{"status": 503}, {"status": 429, "retry_after": 0}, {"status": 502}])
    template = save(Template(account=mw_account, name="Retry me", body="x"))
    assert template.sync_state == SyncState.SYNCED, template.sync_error
    assert [t["name"] for t in sandbox.state("templates")] == ["Retry me"]


def test_lost_answer_to_create_never_makes_a_second_remote_object(mw_account, sandbox, save, settings):
    settings.MESSAGEWHIZ_READ_TIMEOUT = 0.5
    # The sandbox creates the object, then answers too late: our request times out.
    sandbox.faults(fail_next=[{"hang": 2, "apply": True}])
    campaign = save(Campaign(account=mw_account, name="Ambiguous"))
    assert campaign.sync_state == SyncState.SYNCED, campaign.sync_error
    assert [c["name"] for c in sandbox.state("campaigns")] == ["Ambiguous"]
    assert campaign.remote_id == sandbox.state("campaigns")[0]["id"]
    assert len(sandbox.requests(method="POST", path="/api/3/campaign$")) == 1


def test_wrong_api_key_is_a_visible_permanent_failure(mw_account, sandbox, save):
    mw_account.api_key = "wrong"
    mw_account.save()
    sender = save(Sender(account=mw_account, name="Nope"))
    assert sender.sync_state == SyncState.FAILED
    assert "401" in sender.sync_error or "nauthori" in sender.sync_error


@pytest.mark.parametrize("make", [
    lambda a: Link(account=a, name="L", url="https://l.example.com"),
    lambda a: Template(account=a, name="T", body="b"),
    lambda a: Trigger(account=a, name="Tr"),
    lambda a: WordSpinner(account=a, name="W", words=["a", "b"]),
    lambda a: Sender(account=a, name="S"),
])
def test_disable_then_enable_every_kind(mw_account, sandbox, save, make):
    obj = save(make(mw_account))
    mirror_set_enabled(obj, False)
    obj = save(obj)
    assert obj.sync_state == SyncState.DISABLED
    obj.enabled = True
    obj = save(obj)
    assert obj.sync_state == SyncState.SYNCED, obj.sync_error
