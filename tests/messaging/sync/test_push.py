"""Local edits reach MessageWhiz: checked against the sandbox's own state over HTTP."""

import pytest
from celery.exceptions import Retry

from campaigns.models import Campaign, Link, LinkList, Template, Trigger, WordSpinner
from messaging.mirror import SyncState
from messaging.models import Sender, SenderList
from messaging.sync.push import mirror_changed, mirror_set_enabled
from tests.conftest import run_like_a_worker
from tests.messaging.sync.conftest import remote


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
    sandbox.faults(fail_next=[{"status": 409, "error_message": "Template Promo already exists"}])
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


@pytest.mark.parametrize(("make", "collection"), [
    (lambda a: WordSpinner(account=a, name="W", words=["a", "b"]), "word_spinners"),
    (lambda a: Sender(account=a, name="S"), "senders"),
    (lambda a: Campaign(account=a, name="C"), "campaigns"),
])
def test_disable_then_enable_is_read_back(mw_account, sandbox, save, make, collection):
    obj = save(make(mw_account))
    mirror_set_enabled(obj, False)
    obj = save(obj)
    assert obj.sync_state == SyncState.DISABLED
    assert remote(sandbox, collection, obj.remote_id)["enabled"] is False
    obj.enabled = True
    obj = save(obj)
    assert obj.sync_state == SyncState.SYNCED, obj.sync_error
    assert remote(sandbox, collection, obj.remote_id)["enabled"] is True
    # Each change was followed by a look at the list it should now be in.
    reads = [r["query"].get("enabled") for r in sandbox.requests(method="GET") if r["query"].get("filter")]
    assert reads[-2:] == ["false", "true"]


def test_a_template_enabled_again_is_created_afresh_as_nothing_documented_enables_it(mw_account, sandbox, save):
    """The sandbox ignores `enabled` in a template PUT, as the reference documents none: the old
    PUT {"enabled": true} left it disabled in MessageWhiz while Textcast showed it synced."""
    template = save(Template(account=mw_account, name="Promo", body="Hi"))
    old_id = template.remote_id
    mirror_set_enabled(template, False)
    template = save(template)
    template.enabled = True
    template = save(template)

    assert template.sync_state == SyncState.SYNCED, template.sync_error
    assert template.remote_id != old_id
    assert remote(sandbox, "templates", template.remote_id)["enabled"] is True
    assert remote(sandbox, "templates", old_id)["enabled"] is False
    assert not [r for r in sandbox.requests(method="PUT") if "enabled" in (r.get("json") or {})]


@pytest.mark.parametrize(("make", "collection", "label"), [
    (lambda a: Link(account=a, name="L", url="https://l.example.com"), "links", "link"),
    (lambda a: Trigger(account=a, name="Tr"), "triggers", "trigger"),
])
def test_links_and_triggers_enabled_again_say_plainly_that_messagewhiz_cannot(mw_account, sandbox, save, make,
                                                                                 collection, label):
    obj = save(make(mw_account))
    mirror_set_enabled(obj, False)
    obj = save(obj)
    obj.enabled = True
    obj = save(obj)

    assert obj.sync_state == SyncState.FAILED
    assert obj.sync_error == (f"MessageWhiz documents no way to enable a disabled {label} again, so it stays "
                              f"disabled there. Disable it here, or create a new {label}.")
    assert remote(sandbox, collection, obj.remote_id)["enabled"] is False
    assert not [r for r in sandbox.requests(method="PUT") if "enabled" in (r.get("json") or {})]
    mirror_set_enabled(obj, False)
    assert save(obj).sync_state == SyncState.DISABLED


def test_an_enable_the_server_answers_but_does_not_make_is_a_sync_error(db, stub, save):
    from messaging.models import ProviderAccount

    account = ProviderAccount.objects.create(name="Stub", base_url=stub.url, api_key="k")
    campaign = Campaign.objects.create(account=account, name="Spring", remote_id=46279, enabled=True,
                                       sync_state=SyncState.DISABLED,
                                       remote_snapshot={"name": "Spring", "start_date": None, "end_date": None,
                                                        "enabled": False})
    stub.script = [{"json": {"errorCode": 0, "result": {"id": 46279, "enabled": 1}}},  # PATCH: "done"
                   {"json": {"errorCode": 0, "result": []}}]  # but the enabled campaigns don't include it

    campaign = save(campaign)

    assert [(r["method"], r["path"].split("?")[0]) for r in stub.seen] == [
        ("PATCH", "/api/3/campaign/46279"), ("GET", "/api/3/campaign")]
    assert campaign.sync_state == SyncState.FAILED
    assert campaign.sync_error == "MessageWhiz accepted the change but does not list the campaign as enabled " \
                                  "when read back"


def put_remotely(sandbox, path, body):
    """A change made in MessageWhiz itself (its web app), straight to the sandbox's API."""
    response = sandbox.http.request("PUT" if "senders" not in path else "POST", f"{sandbox.url}/api/3/{path}",
                                    json=body, headers={"apikey": sandbox.api_key}, timeout=5)
    response.raise_for_status()


def test_push_removes_only_members_removed_here(mw_account, sandbox, save):
    one, two = save(Sender(account=mw_account, name="One")), save(Sender(account=mw_account, name="Two"))
    sender_list = SenderList.objects.create(account=mw_account, name="Rotation")
    sender_list.senders.set([one, two])
    sender_list = save(sender_list)
    # Someone adds a sender in MessageWhiz that Textcast does not mirror.
    [outsider] = sandbox.seed("senders", [{"name": "Outsider"}])
    put_remotely(sandbox, f"senderList/{sender_list.remote_id}/senders", {"ids": [outsider["id"]]})

    sender_list.senders.remove(one)
    save(sender_list)
    assert sorted(remote(sandbox, "sender_lists", sender_list.remote_id)["sender_ids"]) == sorted(
        [two.remote_id, outsider["id"]])


def test_edit_while_disabled_is_sent_and_survives_a_pull_and_re_enabling(mw_account, sandbox, save):
    from messaging.sync import resources
    from messaging.sync.pull import mirror_pull

    template = save(Template(account=mw_account, name="Promo", body="old"))
    mirror_set_enabled(template, False)
    template = save(template)
    template.body = "new"
    template = save(template)
    assert template.sync_state == SyncState.DISABLED
    assert [r["json"] for r in sandbox.requests(method="PUT", path=rf"/api/3/template/{template.remote_id}$")] == [
        {"name": "Promo", "body": "new"}]
    data = remote(sandbox, "templates", template.remote_id)
    assert (data["body"], data["enabled"]) == ("new", False)

    assert mirror_pull(mw_account, resources.get("template")).unchanged == 1
    template.refresh_from_db()
    assert template.body == "new"
    mirror_set_enabled(template, True)
    save(template)
    data = remote(sandbox, "templates", template.remote_id)
    assert (data["body"], data["enabled"]) == ("new", True)


def test_retry_after_a_refusal_does_not_take_over_someone_elses_object(mw_account, sandbox, save):
    sandbox.seed("templates", [{"name": "Promo", "body": "theirs"}])
    ours = Template(account=mw_account, name="Promo", body="ours")
    duplicate = {"status": 409, "error_message": "Template Promo already exists"}
    sandbox.faults(fail_next=[duplicate])
    ours = save(ours)
    assert ours.sync_state == SyncState.FAILED and "already exists" in ours.sync_error
    assert ours.create_attempted_at is None

    sandbox.faults(fail_next=[duplicate])
    ours = save(ours)  # "push now": refused again, visibly, and theirs is untouched
    assert ours.sync_state == SyncState.FAILED and ours.remote_id is None
    assert [(t["name"], t["body"]) for t in sandbox.state("templates")] == [("Promo", "theirs")]


def test_object_found_by_name_after_a_lost_answer_gets_our_fields(mw_account, sandbox, save, settings,
                                                                 django_capture_on_commit_callbacks):
    settings.MESSAGEWHIZ_READ_TIMEOUT = 0.5
    sandbox.faults(fail_next=[{"hang": 2, "apply": True}])
    with django_capture_on_commit_callbacks() as queued:
        mirror_changed(template := Template(account=mw_account, name="Promo", body="first"))
    with pytest.raises(Retry):
        queued[0]()  # the create is applied, its answer lost
    template.refresh_from_db()
    template.body = "second"  # edited again before the retry
    template = save(template)
    assert template.sync_state == SyncState.SYNCED, template.sync_error
    [data] = sandbox.state("templates")
    assert (data["id"], data["body"]) == (template.remote_id, "second")


def test_cleared_optional_fields_are_cleared_remotely(mw_account, sandbox, save):
    campaign = save(Campaign(account=mw_account, name="Spring", start_date="2026-03-01T00:00:00Z",
                             end_date="2026-03-31T00:00:00Z"))
    campaign.end_date = None
    campaign = save(campaign)
    assert sandbox.requests(method="PUT")[-1]["json"]["end_date"] is None
    assert remote(sandbox, "campaigns", campaign.remote_id)["end_date"] is None

    link = save(Link(account=mw_account, name="Shop", url="https://shop.example.com",
                     bot_redirect="https://shop.example.com/pc", preview_url="https://shop.example.com/p"))
    link.bot_redirect = ""
    link = save(link)
    assert remote(sandbox, "links", link.remote_id)["platform_based_links"] == {
        "preview_url": "https://shop.example.com/p"}
    link.preview_url = ""
    link = save(link)
    assert sandbox.requests(method="PUT")[-1]["json"]["platform_based_links"] == {}
    assert not remote(sandbox, "links", link.remote_id)["platform_based_links"]
    assert link.sync_state == SyncState.SYNCED


def test_saving_a_stale_copy_never_creates_a_second_remote_object(mw_account, sandbox, save,
                                                                  django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as queued:
        mirror_changed(template := Template(account=mw_account, name="Promo", body="old"))
    stale = Template.objects.get(pk=template.pk)  # read before the create's answer was recorded
    run_like_a_worker(queued[0])
    stale.name, stale.body = "Promo 2", "new"
    stale = save(stale)
    assert stale.sync_state == SyncState.SYNCED, stale.sync_error
    assert [(t["id"], t["name"], t["body"]) for t in sandbox.state("templates")] == [
        (stale.remote_id, "Promo 2", "new")]


def test_route_missing_in_messagewhiz_is_a_visible_failure_not_a_new_object(mw_account, sandbox, save):
    template = save(Template(account=mw_account, name="Promo", body="old"))
    mw_account.base_url = f"{sandbox.url}/moved"  # every path now misses MessageWhiz's routes
    mw_account.save()
    template.body = "new"
    template = save(template)
    assert template.sync_state == SyncState.FAILED
    assert "Cannot PUT" in template.sync_error
    assert template.remote_id is not None
    assert not sandbox.requests(method="POST")[1:]  # only the first create


def test_beat_does_not_pile_up_pushes_during_an_outage(mw_account, sandbox, settings,
                                                       django_capture_on_commit_callbacks):
    from datetime import timedelta

    from django.utils import timezone

    from messaging.tasks import push_pending

    settings.MESSAGEWHIZ_MAX_RETRIES = 0
    sandbox.faults(error_rate=1.0)  # MessageWhiz is down
    with django_capture_on_commit_callbacks() as queued:
        mirror_changed(template := Template(account=mw_account, name="Promo", body="x"))
    with pytest.raises(Retry):
        queued[0]()  # fails; its retry waits out a backoff
    Template.objects.update(updated_at=timezone.now() - timedelta(minutes=5))
    sandbox.control("DELETE", "requests")

    push_pending.apply()  # every minute while the retry waits
    push_pending.apply()
    assert sandbox.requests() == []

    # The retry never ran (its task was lost): once overdue, beat queues one push.
    sandbox.faults()
    Template.objects.update(next_push_at=timezone.now() - timedelta(minutes=10))
    push_pending.apply()
    template.refresh_from_db()
    assert template.sync_state == SyncState.SYNCED
    assert len(sandbox.requests(method="POST")) == 1


def test_two_beat_runs_at_once_queue_one_push_per_row(mw_account, sandbox):
    from datetime import timedelta

    from celery.signals import task_prerun
    from django.db import connection
    from django.utils import timezone

    from messaging.tasks import push_mirror, push_pending

    # Marked pending by a bulk service, which queues no push of its own.
    template = Template.objects.create(account=mw_account, name="Promo", body="x")
    Template.objects.update(updated_at=timezone.now() - timedelta(minutes=5))
    pushes = []

    def count(sender=None, args=(), **kwargs):
        if sender.name == push_mirror.name:
            pushes.append(tuple(args))

    def other_run_reads_first(execute, sql, params, many, context):
        # The other run reads the due rows after this one has, but before this one marks them.
        if sql.startswith("UPDATE") and not other_run_reads_first.done:
            other_run_reads_first.done = True
            push_pending.apply(throw=True)
        return execute(sql, params, many, context)

    other_run_reads_first.done = False
    task_prerun.connect(count)
    try:
        with connection.execute_wrapper(other_run_reads_first):
            push_pending.apply(throw=True)
    finally:
        task_prerun.disconnect(count)
    assert pushes == [("campaigns.Template", template.pk)]
    template.refresh_from_db()
    assert template.sync_state == SyncState.SYNCED
    assert len(sandbox.requests(method="POST")) == 1
