"""Campaigns, templates, links, link lists, word spinners and triggers as mirrored resources."""

from django.db.models import Case, F, Value, When
from django.utils import timezone

from messaging.messagewhiz.errors import MessageWhizError
from messaging.mirror import SyncState
from messaging.sync import resources
from messaging.sync.resources import Members, MirrorResource, register

from .models import Campaign, Link, LinkList, Template, Trigger, WordSpinner


def _optional(obj, value):
    """An empty optional field: "" clears it on an existing object (None would leave the old value
    there); a new object simply goes without it."""
    return value or ("" if obj.remote_id else None)


def link_to_remote(link: Link) -> dict:
    return {"name": link.name, "url": link.url, "bot_redirect": _optional(link, link.bot_redirect),
            "preview_url": _optional(link, link.preview_url)}


def campaign_to_remote(campaign: Campaign) -> dict:
    return {"name": campaign.name, "start_date": _optional(campaign, campaign.start_date),
            "end_date": _optional(campaign, campaign.end_date)}


def link_from_remote(item: dict) -> dict:
    values = {name: item[name] for name in ("name", "url") if name in item}
    # List answers leave out platform_based_links; only compare what the answer carries.
    if "platform_based_links" in item:
        platform = item["platform_based_links"] or {}
        values["bot_redirect"] = platform.get("bot_redirect") or ""
        values["preview_url"] = platform.get("preview_url") or ""
    return values


def campaign_from_remote(item: dict) -> dict:
    values = {name: item[name] for name in ("name", "start_date", "end_date") if name in item}
    if "is_default" in item:
        values["is_default"] = bool(item["is_default"])
    return values


def link_list_member_ids(client, list_id):
    return [member["linkId"] for member in client.link_list_links(list_id).get("links") or []]


def _made_by_list(links):
    """New links a list creates itself, all in one request: links/bulk takes only a name and a URL
    (and, unlike POST /link, lets names repeat, as imported files do)."""
    return links.filter(remote_id=None, enabled=True, bot_redirect="", preview_url="")


def link_created_by(link: Link) -> LinkList | None:
    if link.bot_redirect or link.preview_url or not link.enabled:
        return None
    return link.link_lists.filter(enabled=True).order_by("pk").first()


def link_list_create_links(client, link_list: LinkList) -> None:
    """Create the list's new links in one links/bulk request and give each its remote id.

    links/bulk answers with the list, not the links, and MessageWhiz may store a URL other than
    the one sent (normalised), so links are matched by order, not by URL: the members that appear
    with the request, in id order, are the links sent, in the order sent."""
    new = list(_made_by_list(link_list.links.all()).order_by("pk"))
    if any(link.create_attempted_at for link in new):
        new = _record_lost_links(client, link_list, new)
    if not new:
        return
    before = set(link_list_member_ids(client, link_list.remote_id))
    Link.objects.filter(pk__in=[link.pk for link in new]).update(create_attempted_at=timezone.now())
    client.link_list_add_links_bulk(link_list.remote_id, links=[{"name": link.name, "url": link.url} for link in new])
    made = sorted(set(link_list_member_ids(client, link_list.remote_id)) - before)
    if len(made) != len(new):
        raise MessageWhizError(f"links/bulk was sent {len(new)} link(s) but the list gained {len(made)}; "
                               "which is which can't be told", permanent=True)
    _record_created_links(new, made)


def _record_lost_links(client, link_list: LinkList, new: list[Link]) -> list[Link]:
    """An earlier links/bulk whose answer was lost: the list's members not mirrored here are the
    links it made, in the order sent. Returns the new links still to be sent."""
    sent = [link for link in new if link.create_attempted_at]
    known = set(Link.objects.filter(account=link_list.account).exclude(remote_id=None)
                .values_list("remote_id", flat=True))
    unclaimed = sorted(set(link_list_member_ids(client, link_list.remote_id)) - known)
    if not unclaimed:
        return new  # the request never got through: send them all
    if len(unclaimed) != len(sent):
        raise MessageWhizError(f"an unanswered links/bulk of {len(sent)} link(s) left {len(unclaimed)} unknown "
                               "member(s) in the list; which is which can't be told", permanent=True)
    _record_created_links(sent, unclaimed)
    return [link for link in new if not link.create_attempted_at]


def _record_created_links(links: list[Link], remote_ids: list[int]) -> None:
    for link, remote_id in zip(links, remote_ids, strict=True):
        link.remote_id = remote_id
    _mark_synced(links)


def _mark_synced(links: list[Link]) -> None:
    """Record the new links' ids, a few hundred rows per UPDATE (a file import brings thousands)."""
    resource, now = resources.for_model(Link), timezone.now()
    rows = [Link(pk=link.pk, remote_id=link.remote_id, remote_snapshot=resource.snapshot_of(link),
                 create_attempted_at=None, synced_at=now, sync_error="",
                 # Synced unless edited meanwhile: that edit's own push follows.
                 sync_state=Case(When(revision=link.revision, then=Value(SyncState.SYNCED)), default=F("sync_state")))
            for link in links]
    Link.objects.bulk_update(rows, ["remote_id", "remote_snapshot", "create_attempted_at", "synced_at", "sync_error",
                                    "sync_state"], batch_size=500)


register(
    MirrorResource(key="campaign", model=Campaign, fields=("name", "start_date", "end_date"),
                   read_only=("is_default",), to_remote=campaign_to_remote, from_remote=campaign_from_remote,
                   order=10),
    # Nothing in the reference enables a template, link or trigger again. A template is only its
    # text, so a new one takes its place; a link's id sits in message bodies and a trigger's URL in
    # other systems, so those stay disabled remotely and the push says so.
    MirrorResource(key="template", model=Template, fields=("name", "body"), reenable="recreate", order=10),
    MirrorResource(key="link", model=Link, fields=("name", "url", "bot_redirect", "preview_url"),
                   to_remote=link_to_remote, from_remote=link_from_remote, reenable="",
                   created_by=link_created_by, order=10),
    MirrorResource(
        key="link_list",
        model=LinkList,
        fields=("name",),
        order=20,
        renamed={"update": "patch"},  # PUT replaces the list from a file; a rename is a PATCH
        members=Members(
            field="links",
            create_arg="link_ids",
            remote_ids=link_list_member_ids,
            add=lambda client, list_id, ids: client.link_list_add_links(list_id, link_ids=ids),
            remove=lambda client, list_id, member_id: client.link_list_remove_link(list_id, member_id),
            create_new=link_list_create_links,
        ),
    ),
    MirrorResource(key="word_spinner", prefix="spinner", model=WordSpinner, fields=("name", "words"), order=10),
    MirrorResource(key="trigger", model=Trigger, fields=("name",), reenable="",
                   read_only=("uuid", "short_url", "trigger_type_id"), order=10),
)
