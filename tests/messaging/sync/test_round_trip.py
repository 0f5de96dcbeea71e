"""Every kind of mirrored object makes the whole trip, and faults on the way change nothing in the end.

Each step is checked in the sandbox's own state and request log, over HTTP: create → the object
is there with our fields; edit → the change went out (PUT, or PATCH for a link list's name) and
is there; disable → DELETE and disabled there; enable → PATCH, or PUT with `enabled` where the
reference has no PATCH (templates, triggers, links), and enabled there.
"""

from dataclasses import dataclass
from typing import Any

import pytest

from campaigns.models import Campaign, Link, LinkList, Template, Trigger, WordSpinner
from messaging.mirror import SyncState
from messaging.models import Sender, SenderList
from messaging.sync.push import mirror_set_enabled
from tests.messaging.sync.conftest import remote


@dataclass
class Kind:
    key: str
    collection: str  # the sandbox's collection
    path: str  # the API path segment (matched case-insensitively)
    make: Any  # (account, save) -> an unsaved object
    sent: dict  # what the sandbox must hold after the create
    edit: dict  # local field changes
    edited: dict  # what the edit request carries and the sandbox then holds
    edit_method: str = "PUT"
    # How it is enabled again: PATCH; "recreate" (nothing documented: a new remote object);
    # "" (nothing documented: it stays disabled remotely, and the row says so).
    reenable: str = "PATCH"

    def __str__(self):
        return self.key


def _sender_list(account, save):
    sender_list = SenderList.objects.create(account=account, name="Rotation")
    sender_list.senders.set([save(Sender(account=account, name="ShopCo"))])
    return sender_list


def _link_list(account, save):
    link_list = LinkList.objects.create(account=account, name="Rotate")
    link_list.links.set([save(Link(account=account, name="A", url="https://a.example.com"))])
    return link_list


KINDS = [
    Kind("campaign", "campaigns", "campaign",
         lambda a, save: Campaign(account=a, name="Spring", start_date="2026-03-01T00:00:00Z"),
         {"name": "Spring", "start_date": "2026-03-01T00:00:00.000Z"},
         {"name": "Spring sale", "end_date": "2026-03-31T00:00:00Z"},
         {"name": "Spring sale", "end_date": "2026-03-31T00:00:00.000Z"}),
    Kind("sender", "senders", "sender", lambda a, save: Sender(account=a, name="ShopCo"),
         {"name": "ShopCo"}, {"name": "ShopCo2"}, {"name": "ShopCo2"}),
    Kind("sender_list", "sender_lists", "senderlist", _sender_list,
         {"name": "Rotation"}, {"name": "Rotation 2"}, {"name": "Rotation 2"}),
    Kind("template", "templates", "template", lambda a, save: Template(account=a, name="T1", body="Hello!"),
         {"name": "T1", "body": "Hello!"}, {"body": "Hello again!"}, {"body": "Hello again!"},
         reenable="recreate"),
    Kind("link", "links", "link",
         lambda a, save: Link(account=a, name="Shop", url="https://shop.example.com",
                              preview_url="https://shop.example.com/p"),
         {"name": "Shop", "url": "https://shop.example.com",
          "platform_based_links": {"preview_url": "https://shop.example.com/p"}},
         {"url": "https://shop.example.com/sale"}, {"url": "https://shop.example.com/sale"}, reenable=""),
    Kind("link_list", "link_lists", "linklist", _link_list,
         {"name": "Rotate"}, {"name": "Rotate 2"}, {"name": "Rotate 2"}, edit_method="PATCH"),
    Kind("word_spinner", "word_spinners", "spinner",
         lambda a, save: WordSpinner(account=a, name="hi", words=["Hi", "Hey"]),
         {"name": "hi", "words": ["Hi", "Hey"]}, {"words": ["Hi", "Hey", "Hello"]}, {"words": ["Hi", "Hey", "Hello"]}),
    Kind("trigger", "triggers", "trigger", lambda a, save: Trigger(account=a, name="Landed"),
         {"name": "Landed"}, {"name": "Landed 2"}, {"name": "Landed 2"}, reenable=""),
]


def requests_for(sandbox, obj, path, method):
    return sandbox.requests(method=method, path=rf"(?i)^/api/3/{path}/{obj.remote_id}$")


def subset(expected: dict, actual: dict) -> dict:
    return {key: actual.get(key) for key in expected}


@pytest.mark.parametrize("kind", KINDS, ids=str)
def test_every_kind_round_trips(mw_account, sandbox, save, kind):
    obj = save(kind.make(mw_account, save))
    assert obj.sync_state == SyncState.SYNCED, obj.sync_error
    assert subset(kind.sent, remote(sandbox, kind.collection, obj.remote_id)) == kind.sent

    for name, value in kind.edit.items():
        setattr(obj, name, value)
    obj = save(obj)
    assert obj.sync_state == SyncState.SYNCED, obj.sync_error
    [request] = requests_for(sandbox, obj, kind.path, kind.edit_method)
    assert subset(kind.edited, request["json"]) == kind.edited
    assert subset(kind.edited, remote(sandbox, kind.collection, obj.remote_id)) == kind.edited

    mirror_set_enabled(obj, False)
    obj = save(obj)
    assert obj.sync_state == SyncState.DISABLED, obj.sync_error
    assert requests_for(sandbox, obj, kind.path, "DELETE")
    assert not remote(sandbox, kind.collection, obj.remote_id)["enabled"]

    sandbox.control("DELETE", "requests")
    old_id = obj.remote_id
    mirror_set_enabled(obj, True)
    obj = save(obj)
    if kind.reenable == "":
        assert obj.sync_state == SyncState.FAILED
        assert "documents no way to enable" in obj.sync_error
        assert not remote(sandbox, kind.collection, obj.remote_id)["enabled"]
        assert not sandbox.requests(path=rf"(?i)^/api/3/{kind.path}/{obj.remote_id}$")
        return
    assert obj.sync_state == SyncState.SYNCED, obj.sync_error
    assert remote(sandbox, kind.collection, obj.remote_id)["enabled"]
    if kind.reenable == "recreate":
        assert obj.remote_id != old_id and not remote(sandbox, kind.collection, old_id)["enabled"]
        assert len(sandbox.state(kind.collection)) == 2  # the old one stays disabled there
        return
    [request] = sandbox.requests(path=rf"(?i)^/api/3/{kind.path}/{obj.remote_id}$")
    assert request["method"] == "PATCH" and request["json"]["enabled"] in (True, 1, "1")
    assert len(sandbox.state(kind.collection)) == 1  # nothing was made twice


@pytest.mark.parametrize("kind", KINDS, ids=str)
@pytest.mark.parametrize("fault", [{"status": 503}, {"status": 429, "retry_after": 0}, {"hang": 2, "apply": True}],
                         ids=["5xx", "429", "timeout"])
def test_faults_on_edit_disable_and_enable_end_synced_without_duplicates(mw_account, sandbox, save, settings,
                                                                         kind, fault):
    settings.MESSAGEWHIZ_READ_TIMEOUT = 0.5
    settings.MESSAGEWHIZ_MAX_RETRIES = 0  # every fault reaches the push task, which retries later
    obj = save(kind.make(mw_account, save))
    only_this_object = rf"(?i)^/api/3/{kind.path}/{obj.remote_id}$"

    sandbox.faults(path=only_this_object, fail_next=[fault, fault])
    for name, value in kind.edit.items():
        setattr(obj, name, value)
    obj = save(obj)
    assert obj.sync_state == SyncState.SYNCED, obj.sync_error
    assert subset(kind.edited, remote(sandbox, kind.collection, obj.remote_id)) == kind.edited

    sandbox.faults(path=only_this_object, fail_next=[fault])
    mirror_set_enabled(obj, False)
    obj = save(obj)
    assert obj.sync_state == SyncState.DISABLED, obj.sync_error
    assert not remote(sandbox, kind.collection, obj.remote_id)["enabled"]

    if kind.reenable != "PATCH":
        return  # no request enables it again (test_every_kind_round_trips)
    sandbox.faults(path=only_this_object, fail_next=[fault])
    mirror_set_enabled(obj, True)
    obj = save(obj)
    assert obj.sync_state == SyncState.SYNCED, obj.sync_error
    assert remote(sandbox, kind.collection, obj.remote_id)["enabled"]
    assert len(sandbox.state(kind.collection)) == 1
    assert len([r for r in sandbox.requests(path=only_this_object) if r.get("fault")]) == 4


@pytest.mark.parametrize("fault", [{"status": 503}, {"status": 429, "retry_after": 0}, {"hang": 2, "apply": True}],
                         ids=["5xx", "429", "timeout"])
def test_faults_on_member_changes_end_synced_without_duplicates(mw_account, sandbox, save, settings, fault):
    settings.MESSAGEWHIZ_READ_TIMEOUT = 0.5
    settings.MESSAGEWHIZ_MAX_RETRIES = 0
    one, two, three = (save(Sender(account=mw_account, name=name)) for name in ("One", "Two", "Three"))
    sender_list = SenderList.objects.create(account=mw_account, name="Rotation")
    sender_list.senders.set([one, two])
    sender_list = save(sender_list)

    members = rf"(?i)^/api/3/senderlist/{sender_list.remote_id}/senders$"
    sandbox.faults(path=members, fail_next=[fault, fault, fault])
    sender_list.senders.set([two, three])
    sender_list = save(sender_list)
    assert sender_list.sync_state == SyncState.SYNCED, sender_list.sync_error
    assert remote(sandbox, "sender_lists", sender_list.remote_id)["sender_ids"] == [two.remote_id, three.remote_id]
    assert len([r for r in sandbox.requests(path=members) if r.get("fault")]) == 3
    assert len(sandbox.state("sender_lists")) == 1 and len(sandbox.state("senders")) == 3
