"""Make the provider agree with one local mirrored row.

Create (POST) when the row has no remote id, PUT when its pushed fields changed since the last
sync, PATCH to re-enable, DELETE (= disable remotely) when it was disabled locally. Safe to run
any number of times: a create whose answer was lost is found by name before creating again.
"""

import logging

from django.db import transaction
from django.utils import timezone

from messaging.messagewhiz.client import MessageWhizClient
from messaging.messagewhiz.errors import AmbiguousRequestError, MessageWhizError, NotFoundError
from messaging.mirror import MirroredModel, SyncState

from . import resources

logger = logging.getLogger(__name__)


class TransientSyncError(Exception):
    """The push may succeed if tried again later (timeouts, 5xx, 429, lost answers)."""


def mirror_changed(obj: MirroredModel) -> None:
    """Record a local edit (already applied to `obj`) and push it once the transaction commits."""
    from messaging.tasks import push_mirror

    obj.sync_state = SyncState.PENDING
    obj.sync_error = ""
    obj.revision += 1
    obj.save()
    label = obj._meta.label
    transaction.on_commit(lambda: push_mirror.delay(label, obj.pk))


def mirror_set_enabled(obj: MirroredModel, enabled: bool) -> None:
    obj.enabled = enabled
    mirror_changed(obj)


def mirror_push(obj: MirroredModel) -> None:
    """Push one row; on a permanent refusal record it on the row, on a transient one raise."""
    resource = resources.for_model(obj)
    revision = obj.revision
    try:
        with MessageWhizClient.from_account(obj.account) as client:
            snapshot = _push(client, resource, obj)
    except (AmbiguousRequestError, MessageWhizError) as exc:
        # A lost answer is safe to retry here: the next attempt looks the object up first.
        transient = isinstance(exc, AmbiguousRequestError) or not exc.permanent
        type(obj).objects.filter(pk=obj.pk).update(
            sync_state=SyncState.PENDING if transient else SyncState.FAILED, sync_error=_describe(exc)
        )
        if transient:
            raise TransientSyncError(str(exc)) from exc
        logger.warning("Push of %s %s refused: %s", resource.key, obj.pk, exc)
        return

    read_back = {name: getattr(obj, name) for name in resource.read_only}
    manager = type(obj).objects
    manager.filter(pk=obj.pk).update(
        remote_id=obj.remote_id, remote_snapshot=snapshot, create_attempted_at=None, **read_back
    )
    # Only if nobody edited the row meanwhile; otherwise their edit's own push is queued.
    manager.filter(pk=obj.pk, revision=revision).update(
        sync_state=SyncState.SYNCED if obj.enabled else SyncState.DISABLED,
        synced_at=timezone.now(),
        sync_error="",
    )


def _push(client, resource, obj) -> dict:
    """Send what differs and return the new snapshot of the remote object."""
    previous = obj.remote_snapshot or {}
    member_ids = _member_remote_ids(resource, obj)

    if obj.remote_id is not None and obj.enabled:
        try:
            _update(client, resource, obj, previous)
        except NotFoundError:
            # Deleted on the provider's side (not merely disabled): create it afresh.
            obj.remote_id, previous = None, {}

    if obj.remote_id is None:
        if not obj.enabled:
            return resource.snapshot_of(obj, member_ids)  # never existed remotely: nothing to do
        remote = _find_created(client, resource, obj) if obj.create_attempted_at else None
        if remote is None:
            obj.create_attempted_at = timezone.now()
            # Recorded before the request leaves, so a lost answer is looked up next time.
            type(obj).objects.filter(pk=obj.pk).update(create_attempted_at=obj.create_attempted_at)
            if resource.create_remote is not None:
                remote = resource.create_remote(client, obj)
            else:
                kwargs = resource.remote_kwargs(obj)
                if resource.members is not None:
                    kwargs[resource.members.create_arg] = member_ids
                remote = resource.call(client, "create", **kwargs)
        obj.remote_id = remote["id"]
        type(obj).objects.filter(pk=obj.pk).update(remote_id=obj.remote_id)
        _read_back(resource, obj, remote)
    elif not obj.enabled and previous.get("enabled", True):
        resource.call(client, "disable", obj.remote_id)

    if resource.members is not None and obj.enabled:
        _sync_members(client, resource, obj, member_ids)
    return resource.snapshot_of(obj, member_ids)


def _update(client, resource, obj, previous: dict) -> None:
    if previous.get("enabled") is False:
        resource.call(client, "patch", obj.remote_id, enabled=True)
    if resource.update_remote is not None:
        resource.update_remote(client, obj, previous)
        return
    current = resource.snapshot_of(obj)
    if any(current[name] != previous.get(name) for name in resource.fields):
        remote = resource.call(client, "update", obj.remote_id, **resource.remote_kwargs(obj))
        _read_back(resource, obj, remote if isinstance(remote, dict) else {})


def _read_back(resource, obj, remote: dict) -> None:
    values = resource.local_values(remote)
    for name in resource.read_only:
        if name in values:
            setattr(obj, name, values[name])


def _find_created(client, resource, obj) -> dict | None:
    """The object a previous, unanswered create may have made: same name, not mirrored yet."""
    known = set(
        type(obj).objects.filter(account=obj.account, remote_id__isnull=False).values_list("remote_id", flat=True)
    )
    for item in resource.call(client, "list", filter={"name": obj.name}, limit=100):
        if item.get("name") == obj.name and item["id"] not in known:
            return item
    return None


def _member_remote_ids(resource, obj) -> list[int]:
    """Remote ids of the row's members, pushing members that have never been synced."""
    if resource.members is None or obj.pk is None:
        return []
    ids = []
    for member in getattr(obj, resource.members.field).all():
        if member.remote_id is None:
            mirror_push(member)
            member.refresh_from_db(fields=["remote_id"])
        if member.remote_id is None:
            raise MessageWhizError(f"member {member} could not be created remotely", permanent=True)
        ids.append(member.remote_id)
    return sorted(ids)


def _sync_members(client, resource, obj, wanted: list[int]) -> None:
    members = resource.members
    current = set(members.remote_ids(client, obj.remote_id))
    missing = sorted(set(wanted) - current)
    if missing:
        members.add(client, obj.remote_id, missing)
    for extra in sorted(current - set(wanted)):
        members.remove(client, obj.remote_id, extra)


def _describe(exc: MessageWhizError) -> str:
    details = "; ".join(exc.validation)
    return f"{exc} ({details})" if details and details not in str(exc) else str(exc)
