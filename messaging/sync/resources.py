"""How each mirrored model maps onto the MessageWhiz client.

A resource names the client's method prefix (`campaign` → `campaign_create`, `campaign_iter`,
…), the local fields it pushes, and how to read those fields back from the API. Apps register
their resources in `AppConfig.ready()`, so `messaging` never imports the apps above it.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass, field

from django.core.serializers.json import DjangoJSONEncoder

from messaging.mirror import MirroredModel


def plain(values: dict) -> dict:
    """JSON-safe copy, so snapshots and comparisons see the same types (datetimes as ISO text)."""
    return json.loads(json.dumps(values, cls=DjangoJSONEncoder))


@dataclass(frozen=True)
class Members:
    """A many-to-many membership that is mirrored too (senders of a sender list, …)."""

    field: str  # the local ManyToManyField
    create_arg: str  # keyword of `<prefix>_create` taking member remote ids
    remote_ids: Callable  # (client, list_remote_id) -> iterable of member remote ids
    add: Callable  # (client, list_remote_id, [member remote ids])
    remove: Callable  # (client, list_remote_id, member remote id)
    # Members made through the list itself in one request (links: links/bulk); (client, list obj) -> None.
    # It records the new members' remote ids; members it leaves without one are created one by one.
    create_new: Callable | None = None


@dataclass(frozen=True)
class MirrorResource:
    key: str  # the name users give to `sync_messagewhiz --entity`
    model: type[MirroredModel]
    fields: tuple[str, ...]  # local fields pushed to and compared with the provider
    prefix: str = ""  # client method prefix; defaults to key
    read_only: tuple[str, ...] = ()  # local fields only the provider sets (trigger uuid, …)
    to_remote: Callable[[MirroredModel], dict] | None = None
    from_remote: Callable[[dict], dict] | None = None
    members: Members | None = None
    order: int = 0  # pulls run in this order, so members exist before their lists
    # Actions the client spells differently, e.g. link lists rename through PATCH: {"update": "patch"}.
    renamed: dict[str, str] = field(default_factory=dict)
    # Hooks for entities whose content is more than fields (recipient lists: a file of recipients).
    create_remote: Callable | None = None  # (client, obj) -> the remote object (with "id")
    update_remote: Callable | None = None  # (client, obj, previous snapshot) -> None
    content_snapshot: Callable | None = None  # (obj) -> dict merged into the snapshot
    # (client, obj) -> content, for each new or changed row: fetches outside any transaction;
    # `content.save(obj)` writes it inside the row's own, then `content.close()` drops what it holds.
    after_pull: Callable | None = None
    # (obj) -> the row whose push creates this one (a link imported into a link list), or None.
    created_by: Callable | None = None
    # How a remotely disabled object is enabled again: "patch" (PATCH {"enabled": true}, as the
    # reference documents for most), "recreate" (nothing documented: a new remote object takes its
    # place, the old one stays disabled there), or "" (nothing documented, and a new object would not
    # be the same one: the push says so on the row).
    reenable: str = "patch"
    # (obj) -> why the provider's copy is not ours after a push that went through ("" if it is): a
    # list whose upload MessageWhiz took only in part. The row is then failed with that reason, and
    # its content left out of the snapshot, so the next push sends the content whole again.
    check_remote: Callable | None = None

    def call(self, client, action: str, *args, **kwargs):
        action = self.renamed.get(action, action)
        return getattr(client, f"{self.prefix or self.key}_{action}")(*args, **kwargs)

    def remote_kwargs(self, obj) -> dict:
        if self.to_remote:
            return self.to_remote(obj)
        return {name: getattr(obj, name) for name in self.fields}

    def local_values(self, item: dict) -> dict:
        """Local field values from an API item; fields the item doesn't carry are left out."""
        if self.from_remote:
            return self.from_remote(item)
        return {name: item[name] for name in (*self.fields, *self.read_only) if name in item}

    @property
    def member_model(self):
        return self.model._meta.get_field(self.members.field).related_model if self.members else None

    def remote_snapshot(self, values: dict, enabled: bool, member_ids=None) -> dict:
        """The snapshot of a remote object, from its local field values (see `local_values`)."""
        snapshot = plain({**{name: values.get(name) for name in self.fields}, "enabled": enabled})
        if member_ids is not None:
            snapshot["members"] = sorted(member_ids)
        return snapshot

    def snapshot_of(self, obj, member_ids=None) -> dict:
        snapshot = {name: getattr(obj, name) for name in self.fields}
        snapshot["enabled"] = obj.enabled
        if self.members is not None:
            snapshot["members"] = sorted(member_ids or [])
        if self.content_snapshot is not None and obj.pk is not None:
            snapshot.update(self.content_snapshot(obj))
        return plain(snapshot)


_registry: dict[str, MirrorResource] = {}


def register(*resources: MirrorResource) -> None:
    for resource in resources:
        _registry[resource.key] = resource


def all_resources() -> list[MirrorResource]:
    return sorted(_registry.values(), key=lambda r: r.order)


def get(key: str) -> MirrorResource:
    try:
        return _registry[key]
    except KeyError:
        raise KeyError(f"unknown entity {key!r}; choose from {', '.join(sorted(_registry))}") from None


def for_model(model) -> MirrorResource:
    for resource in _registry.values():
        if resource.model is model or isinstance(model, resource.model):
            return resource
    raise KeyError(f"{model} is not a mirrored model")
