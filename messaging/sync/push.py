"""Make the provider agree with one local mirrored row.

Create (POST) when the row has no remote id, PUT when its pushed fields changed since the last
sync (also while it is disabled), PATCH to re-enable, DELETE (= disable remotely) when it was
disabled locally. Templates, links and triggers document no way back from DELETE: a template is
created afresh, a link or trigger (whose id or URL others hold) stays disabled with the reason
shown. Every enable and disable is read back from the list endpoint; a server that answered
200 and changed nothing leaves the row failed, saying so. Safe to run any number of times: a
create whose answer was lost is found by name before creating again.
"""

import logging
from datetime import timedelta

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from messaging.messagewhiz.client import MessageWhizClient
from messaging.messagewhiz.errors import AmbiguousRequestError, MessageWhizError, NotFoundError
from messaging.mirror import MirroredModel, SyncState

from . import resources

logger = logging.getLogger(__name__)

# Written only by pushes and pulls: a local edit saving a stale copy must never put them back.
PROVIDER_OWNED = frozenset({"remote_id", "remote_snapshot", "create_attempted_at", "synced_at"})
# HTTP statuses with which MessageWhiz refuses a request outright: nothing was created.
REFUSED = (400, 409, 422)
# A queued push should have run by then; one still pending later was lost (a broker restart).
PUSH_OVERDUE = timedelta(minutes=5)


class TransientSyncError(Exception):
    """The push may succeed if tried again later (timeouts, 5xx, 429, lost answers)."""


def cannot_reenable(label: str) -> str:
    return (f"MessageWhiz documents no way to enable a disabled {label} again, so it stays disabled there. "
            f"Disable it here, or create a new {label}.")


def mirror_changed(obj: MirroredModel) -> None:
    """Record a local edit (already applied to `obj`) and push it once the transaction commits."""
    from messaging.tasks import push_mirror

    obj.sync_state = SyncState.PENDING
    obj.sync_error = ""
    obj.next_push_at = timezone.now()
    if obj._state.adding:
        obj.revision += 1
        obj.save()
    else:
        obj.revision = F("revision") + 1
        obj.save(update_fields=_edited_fields(obj))
        obj.refresh_from_db(fields=["revision"])
    label = obj._meta.label
    transaction.on_commit(lambda: push_mirror.delay(label, obj.pk))


def mirror_set_enabled(obj: MirroredModel, enabled: bool) -> None:
    obj.enabled = enabled
    mirror_changed(obj)


def _edited_fields(obj) -> list[str]:
    """What a local edit may write: the user's fields and the sync bookkeeping, nothing the provider set."""
    skip = PROVIDER_OWNED | set(resources.for_model(obj).read_only)
    return [
        field.name for field in obj._meta.concrete_fields
        if not field.primary_key and field.name not in skip
        and (field.editable or field.name in ("revision", "next_push_at", "updated_at"))
    ]


def mirror_push(obj: MirroredModel) -> None:
    """Push one row; on a permanent refusal record it on the row, on a transient one raise."""
    resource = resources.for_model(obj)
    if obj.remote_id is None and resource.created_by is not None:
        owner = resource.created_by(obj)
        if owner is not None:
            # Created by its owner's push (in one request with its siblings); pushing it here
            # as well could create it twice.
            _push_owner(owner)
            return
    revision = obj.revision
    try:
        with MessageWhizClient.from_account(obj.account) as client:
            snapshot = _push(client, resource, obj)
    except (AmbiguousRequestError, MessageWhizError) as exc:
        # A lost answer is safe to retry here: the next attempt looks the object up first.
        transient = isinstance(exc, AmbiguousRequestError) or not exc.permanent
        changes = {"sync_state": SyncState.PENDING if transient else SyncState.FAILED, "sync_error": _describe(exc)}
        if obj.remote_id is None and exc.status in REFUSED:
            # The create was refused, so it made nothing: the next attempt must create again,
            # not take over a same-named object that belongs to someone else.
            changes["create_attempted_at"] = None
        type(obj).objects.filter(pk=obj.pk).update(**changes)
        if transient:
            raise TransientSyncError(str(exc)) from exc
        logger.warning("Push of %s %s refused: %s", resource.key, obj.pk, exc)
        return

    problem = resource.check_remote(obj) if resource.check_remote is not None else ""
    if problem:
        content = resource.content_snapshot(obj) if resource.content_snapshot is not None else {}
        snapshot = {key: value for key, value in snapshot.items() if key not in content}
    read_back = {name: getattr(obj, name) for name in resource.read_only}
    manager = type(obj).objects
    manager.filter(pk=obj.pk).update(
        remote_id=obj.remote_id, remote_snapshot=snapshot, create_attempted_at=None, **read_back
    )
    if problem:
        manager.filter(pk=obj.pk).update(sync_state=SyncState.FAILED, sync_error=problem, synced_at=timezone.now())
        logger.warning("Push of %s %s went through, but: %s", resource.key, obj.pk, problem)
        return
    # Only if nobody edited the row meanwhile; otherwise their edit's own push is queued.
    manager.filter(pk=obj.pk, revision=revision).update(
        sync_state=SyncState.SYNCED if obj.enabled else SyncState.DISABLED,
        synced_at=timezone.now(),
        sync_error="",
    )


def _push_owner(owner: MirroredModel) -> None:
    """Queue the owner's push, once for all the rows handing over to it; a failed owner waits for
    its user (its error is shown there)."""
    from messaging.tasks import push_mirror

    if owner.sync_state == SyncState.FAILED:
        return
    now = timezone.now()
    due = Q(next_push_at=None) | Q(next_push_at__lte=now - PUSH_OVERDUE)
    if type(owner).objects.filter(due, pk=owner.pk).update(next_push_at=now):
        push_mirror.delay(owner._meta.label, owner.pk)


def _push(client, resource, obj) -> dict:
    """Send what differs and return the new snapshot of the remote object."""
    previous = obj.remote_snapshot or {}
    if obj.remote_id is not None and obj.enabled and previous.get("enabled") is False \
            and resource.reenable == "recreate":
        obj.remote_id, previous = None, {}  # the disabled remote object is left as it is
    if obj.remote_id is not None:
        try:
            _update(client, resource, obj, previous)
        except NotFoundError as exc:
            if not _entity_gone(exc):
                raise
            # Deleted on the provider's side (not merely disabled): create it afresh.
            obj.remote_id, previous = None, {}

    if obj.remote_id is None:
        if not obj.enabled:
            return resource.snapshot_of(obj, [] if resource.members else None)  # never existed remotely
        _create(client, resource, obj)

    member_ids = None
    if resource.members is not None:
        member_ids = _sync_members(client, resource, obj, previous) if obj.enabled else previous.get("members", [])
    return resource.snapshot_of(obj, member_ids)


def _entity_gone(exc: NotFoundError) -> bool:
    """MessageWhiz's own "not found" for the object (in its v3 envelope), not a web server's
    "Cannot PATCH /path" for a route it lacks: re-creating after that would duplicate the object."""
    return exc.error_code == 404 and not (exc.error_message or "").startswith("Cannot ")


def _create(client, resource, obj) -> None:
    remote = _find_created(client, resource, obj) if obj.create_attempted_at else None
    if remote is not None:
        _set_remote_id(obj, remote["id"])
        _read_back(resource, obj, remote)
        # Found by name only: make sure it holds our fields, not whatever it was given.
        _update(client, resource, obj, resource.remote_snapshot(resource.local_values(remote), True))
        return
    obj.create_attempted_at = timezone.now()
    # Recorded before the request leaves, so a lost answer is looked up next time.
    type(obj).objects.filter(pk=obj.pk).update(create_attempted_at=obj.create_attempted_at)
    if resource.create_remote is not None:
        remote = resource.create_remote(client, obj)
    else:
        kwargs = resource.remote_kwargs(obj)
        if resource.members is not None:
            # Members already in MessageWhiz join at once; the rest follow in _sync_members.
            kwargs[resource.members.create_arg] = sorted(_members(resource, obj).exclude(remote_id=None)
                                                         .values_list("remote_id", flat=True))
        remote = resource.call(client, "create", **kwargs)
    _set_remote_id(obj, remote["id"])
    _read_back(resource, obj, remote)


def _set_remote_id(obj, remote_id: int) -> None:
    obj.remote_id = remote_id
    type(obj).objects.filter(pk=obj.pk).update(remote_id=remote_id)


def _update(client, resource, obj, previous: dict) -> None:
    enabling = obj.enabled and previous.get("enabled") is False
    disabling = not obj.enabled and previous.get("enabled", True)
    if enabling:
        if resource.reenable != "patch":
            raise MessageWhizError(cannot_reenable(obj._meta.verbose_name), permanent=True)
        resource.call(client, "patch", obj.remote_id, enabled=True)
    # Sent while disabled too: the edit must be in MessageWhiz when the object is enabled again.
    if resource.update_remote is not None:
        resource.update_remote(client, obj, previous)
    else:
        current = resource.snapshot_of(obj)
        if any(current[name] != previous.get(name) for name in resource.fields):
            remote = resource.call(client, "update", obj.remote_id, **resource.remote_kwargs(obj))
            _read_back(resource, obj, remote if isinstance(remote, dict) else {})
    if disabling:
        resource.call(client, "disable", obj.remote_id)
    if enabling or disabling:
        _check_enabled(client, resource, obj)


def _check_enabled(client, resource, obj) -> None:
    """Read the object back: a 200 is no proof that MessageWhiz enabled or disabled it."""
    state = "enabled" if obj.enabled else "disabled"
    for item in resource.call(client, "iter", enabled=obj.enabled, filter={"name": obj.name}):
        if item.get("id") == obj.remote_id:
            return
    raise MessageWhizError(f"MessageWhiz accepted the change but does not list the {obj._meta.verbose_name} "
                           f"as {state} when read back", permanent=True)


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
    for item in resource.call(client, "iter", filter={"name": obj.name}):
        if item.get("name") == obj.name and item["id"] not in known:
            return item
    return None


def _members(resource, obj):
    return getattr(obj, resource.members.field).all()


def _sync_members(client, resource, obj, previous: dict) -> list[int]:
    """Bring the remote membership in step; returns the remote ids of the local members."""
    members = resource.members
    if members.create_new is not None:
        members.create_new(client, obj)
    # Members never created remotely are created now; disabled ones never will be, so they are left out.
    for member in _members(resource, obj).filter(remote_id=None, enabled=True):
        mirror_push(member)
        member.refresh_from_db(fields=["remote_id"])
        if member.remote_id is None:
            raise MessageWhizError(f"member {member} could not be created remotely", permanent=True)
    wanted = set(_members(resource, obj).exclude(remote_id=None).values_list("remote_id", flat=True))

    current = set(members.remote_ids(client, obj.remote_id))
    missing = sorted(wanted - current)
    if missing:
        members.add(client, obj.remote_id, missing)
    # Only members removed here since the last sync leave the list: ones added in MessageWhiz,
    # or not mirrored here, stay.
    for member_id in sorted((set(previous.get("members", [])) - wanted) & current):
        members.remove(client, obj.remote_id, member_id)
    return sorted(wanted)


def _describe(exc: MessageWhizError) -> str:
    details = "; ".join(exc.validation)
    return f"{exc} ({details})" if details and details not in str(exc) else str(exc)
