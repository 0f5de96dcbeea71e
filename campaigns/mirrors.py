"""Campaigns, templates, links, link lists, word spinners and triggers as mirrored resources."""

from messaging.sync.resources import Members, MirrorResource, register

from .models import Campaign, Link, LinkList, Template, Trigger, WordSpinner


def link_to_remote(link: Link) -> dict:
    return {"name": link.name, "url": link.url,
            "bot_redirect": link.bot_redirect or None, "preview_url": link.preview_url or None}


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


register(
    MirrorResource(key="campaign", model=Campaign, fields=("name", "start_date", "end_date"),
                   read_only=("is_default",), from_remote=campaign_from_remote, order=10),
    MirrorResource(key="template", model=Template, fields=("name", "body"), order=10),
    MirrorResource(key="link", model=Link, fields=("name", "url", "bot_redirect", "preview_url"),
                   to_remote=link_to_remote, from_remote=link_from_remote, order=10),
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
        ),
    ),
    MirrorResource(key="word_spinner", prefix="spinner", model=WordSpinner, fields=("name", "words"), order=10),
    MirrorResource(key="trigger", model=Trigger, fields=("name",),
                   read_only=("uuid", "short_url", "trigger_type_id"), order=10),
)
