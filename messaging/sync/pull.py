"""Make local mirrored rows agree with the provider.

Walks the paginated list endpoint twice (enabled, then disabled objects), creates what is
missing locally, updates what changed remotely, and marks rows whose remote object has gone.
Rows with a local edit not yet on the provider (PENDING or FAILED) keep their local values: a
local edit wins until it is pushed (see `messaging.mirror`). A second run changes nothing.
"""

from dataclasses import asdict, dataclass

from django.db import transaction
from django.utils import timezone

from messaging.messagewhiz.client import MessageWhizClient
from messaging.messagewhiz.errors import MessageWhizError
from messaging.mirror import SyncState

from .resources import MirrorResource, plain

MISSING_REMOTELY = "Not found in MessageWhiz at the last pull (deleted there?)"


@dataclass
class PullSummary:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    kept_local: int = 0  # local edits not pushed yet win over the remote copy
    missing: int = 0  # mirrored here, gone remotely
    failed: int = 0
    error: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


def mirror_pull(account, resource: MirrorResource) -> PullSummary:
    summary = PullSummary()
    try:
        with MessageWhizClient.from_account(account) as client:
            remote_items = _fetch_all(client, resource)
    except MessageWhizError as exc:
        summary.failed, summary.error = 1, str(exc)
        return summary

    model = resource.model
    local = {obj.remote_id: obj for obj in model.objects.filter(account=account, remote_id__isnull=False)}
    now = timezone.now()
    to_create, to_update, memberships = [], [], {}
    update_fields = {"enabled", "sync_state", "sync_error", "synced_at", "remote_snapshot",
                     *resource.fields, *resource.read_only}

    for remote_id, (values, enabled, member_ids) in remote_items.items():
        snapshot = plain({**{name: values.get(name) for name in resource.fields}, "enabled": enabled})
        if member_ids is not None:
            snapshot["members"] = sorted(member_ids)
        state = SyncState.SYNCED if enabled else SyncState.DISABLED
        obj = local.get(remote_id)
        if obj is None:
            obj = model(account=account, remote_id=remote_id, enabled=enabled, sync_state=state,
                        synced_at=now, remote_snapshot=snapshot, **values)
            to_create.append(obj)
            summary.created += 1
        elif obj.sync_state in (SyncState.PENDING, SyncState.FAILED) and obj.sync_error != MISSING_REMOTELY:
            summary.kept_local += 1
            continue
        elif _matches(resource, obj, values, enabled, member_ids) and obj.sync_error != MISSING_REMOTELY:
            summary.unchanged += 1
            continue
        else:
            for name, value in values.items():
                setattr(obj, name, value)
            obj.enabled, obj.sync_state, obj.sync_error = enabled, state, ""
            obj.synced_at, obj.remote_snapshot = now, snapshot
            to_update.append(obj)
            summary.updated += 1
        if member_ids is not None:
            memberships[remote_id] = member_ids

    gone = [obj.pk for remote_id, obj in local.items()
            if remote_id not in remote_items and obj.sync_error != MISSING_REMOTELY]
    summary.missing = len(gone)

    if resource.after_pull is not None:
        # Content beyond fields (a list's recipients) is fetched only for new or changed rows.
        # `after_pull` fetches it (no transaction open) and returns what saves it; each row is
        # saved with its content in a transaction of its own, so a row whose content fails to
        # arrive stays as it was, for the next pull, and the others are done.
        model.objects.filter(pk__in=gone).update(sync_state=SyncState.FAILED, sync_error=MISSING_REMOTELY)
        with MessageWhizClient.from_account(account) as client:
            for obj in (*to_create, *to_update):
                try:
                    save_content = resource.after_pull(client, obj)
                except MessageWhizError as exc:
                    summary.failed += 1
                    summary.error = str(exc)
                    if obj.pk is None:
                        summary.created -= 1
                    else:
                        summary.updated -= 1
                    continue
                with transaction.atomic():
                    obj.save(update_fields=None if obj.pk is None else sorted(update_fields))
                    save_content(obj)
                    model.objects.filter(pk=obj.pk).update(remote_snapshot=resource.snapshot_of(obj))
        return summary

    with transaction.atomic():
        model.objects.bulk_create(to_create, batch_size=500)
        model.objects.bulk_update(to_update, sorted(update_fields), batch_size=500)
        model.objects.filter(pk__in=gone).update(sync_state=SyncState.FAILED, sync_error=MISSING_REMOTELY)
        if memberships:
            _set_members(account, resource, memberships)
    return summary


def _fetch_all(client, resource) -> dict[int, tuple[dict, bool, list[int] | None]]:
    items = {}
    for enabled in (True, False):
        for item in resource.call(client, "iter", enabled=enabled):
            if item["id"] in items:
                continue
            member_ids = None
            if resource.members is not None:
                member_ids = sorted(resource.members.remote_ids(client, item["id"]))
            items[item["id"]] = (resource.local_values(item), bool(item.get("enabled", enabled)), member_ids)
    return items


def _matches(resource, obj, values: dict, enabled: bool, member_ids) -> bool:
    if obj.enabled != enabled:
        return False
    if plain({name: getattr(obj, name) for name in values}) != plain(values):
        return False
    return member_ids is None or sorted(obj.remote_snapshot.get("members", [])) == sorted(member_ids)


def _set_members(account, resource, memberships: dict[int, list[int]]) -> None:
    """Point each list's local membership at the local rows of its remote members."""
    field = resource.model._meta.get_field(resource.members.field)
    member_model = field.related_model
    wanted = {rid for ids in memberships.values() for rid in ids}
    local_members = dict(
        member_model.objects.filter(account=account, remote_id__in=wanted).values_list("remote_id", "pk")
    )
    for obj in resource.model.objects.filter(account=account, remote_id__in=list(memberships)):
        getattr(obj, resource.members.field).set(
            [local_members[rid] for rid in memberships[obj.remote_id] if rid in local_members]
        )


def mirror_pull_account(account, keys: list[str] | None = None) -> dict[str, PullSummary]:
    from . import resources

    chosen = [resources.get(key) for key in keys] if keys else resources.all_resources()
    return {resource.key: mirror_pull(account, resource) for resource in sorted(chosen, key=lambda r: r.order)}
