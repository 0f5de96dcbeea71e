"""Make local mirrored rows agree with the provider.

Walks the paginated list endpoint twice (enabled, then disabled objects), creates what is
missing locally, updates what changed remotely, and marks rows whose remote object has gone.
Rows with a local edit not yet on the provider (PENDING or FAILED, or edited while the pull ran)
keep their local values: a local edit wins until it is pushed (see `messaging.mirror`). A second
run changes nothing. Two pulls of one kind for one account never run at once: the later is skipped.
"""

from collections import defaultdict
from contextlib import closing
from dataclasses import asdict, dataclass
from datetime import timedelta
from functools import partial

from django.core.cache import cache
from django.db import connection, transaction
from django.utils import timezone

from messaging.messagewhiz.client import MessageWhizClient
from messaging.messagewhiz.errors import MessageWhizError
from messaging.mirror import SyncState
from messaging.tasks import pull_mirrors

from . import resources
from .resources import MirrorResource, plain

MISSING_REMOTELY = "Not found in MessageWhiz at the last pull (deleted there?)"
ALREADY_RUNNING = "Another pull of this kind for this account is running; this one was skipped."
MAX_CONFIRMED = 200  # rows a pull looks up by name before marking them missing
STATUS_SECONDS = 7 * 24 * 3600
# No pull runs longer than its task may (the worker is killed then): a lock or a "queued" or
# "running" status older than this was left by a pull that was lost.
PULL_GIVEN_UP = timedelta(seconds=pull_mirrors.time_limit)


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
    # Rows whose create went out but whose answer never came back: the remote object with their
    # name is the one they made (as push._find_created decides), not a new one to copy here.
    unanswered = defaultdict(list)
    for obj in model.objects.filter(account=account, remote_id=None, create_attempted_at__isnull=False).order_by("pk"):
        unanswered[obj.name].append(obj)
    known_members = _known_members(account, resource)
    now = timezone.now()
    to_create, to_update, to_adopt = [], [], []

    for remote_id, (values, enabled, member_ids) in remote_items.items():
        if member_ids is not None:
            # Members not mirrored here stay out of both the local list and its snapshot, so a
            # push never removes them; they join once they are pulled.
            member_ids = sorted(set(member_ids) & known_members)
        snapshot = resource.remote_snapshot(values, enabled, member_ids)
        state = SyncState.SYNCED if enabled else SyncState.DISABLED
        obj = local.get(remote_id)
        if obj is None and unanswered.get(values.get("name")):
            to_adopt.append((unanswered[values["name"]].pop(0), remote_id, snapshot))
            summary.kept_local += 1
        elif obj is None:
            obj = model(account=account, remote_id=remote_id, enabled=enabled, sync_state=state,
                        synced_at=now, remote_snapshot=snapshot, **values)
            to_create.append((obj, member_ids))
            summary.created += 1
        elif obj.sync_state in (SyncState.PENDING, SyncState.FAILED) and obj.sync_error != MISSING_REMOTELY:
            summary.kept_local += 1
        elif _matches(resource, obj, values, enabled, member_ids) and obj.sync_error != MISSING_REMOTELY:
            summary.unchanged += 1
        else:
            for name, value in values.items():
                setattr(obj, name, value)
            obj.enabled, obj.sync_state, obj.sync_error = enabled, state, ""
            obj.synced_at, obj.remote_snapshot = now, snapshot
            to_update.append((obj, member_ids))

    unseen = [obj for remote_id, obj in local.items()
              if remote_id not in remote_items and obj.sync_error != MISSING_REMOTELY]
    gone = _confirmed_gone(account, resource, unseen) if unseen else []
    update_fields = ["enabled", "sync_state", "sync_error", "synced_at", "remote_snapshot",
                     *resource.fields, *resource.read_only]

    def adopt_and_mark_gone() -> None:
        for obj, remote_id, snapshot in to_adopt:
            # Its own push (still queued) then sends whatever differs from the remote copy.
            model.objects.filter(pk=obj.pk, remote_id=None).update(
                remote_id=remote_id, remote_snapshot=snapshot, create_attempted_at=None)
        summary.missing = sum(
            model.objects.filter(pk=obj.pk, revision=obj.revision)
            .update(sync_state=SyncState.FAILED, sync_error=MISSING_REMOTELY)
            for obj in gone
        )

    def save(creating: list, updating: list) -> list:
        """Write new and changed rows (an edit made meanwhile wins); returns those written."""
        model.objects.bulk_create([obj for obj, _ in creating], batch_size=500)
        applied = [(obj, ids) for obj, ids in updating if _save_if_unchanged(obj, update_fields)]
        summary.updated += len(applied)
        summary.kept_local += len(updating) - len(applied)
        changed = [*creating, *applied]
        if resource.members is not None:
            _set_members(account, resource, changed)
        return changed

    with transaction.atomic():
        adopt_and_mark_gone()
        if resource.after_pull is None:
            save(to_create, to_update)
            return summary
    # Content beyond fields (a list's recipients) is fetched only for new or changed rows, outside
    # any transaction; each row is then saved with its content in a transaction of its own, so a
    # row never looks pulled while its content is missing, and one that fails leaves the others done.
    with MessageWhizClient.from_account(account) as client:
        for row in (*to_create, *to_update):
            obj, new = row[0], row[0].pk is None
            try:
                content = resource.after_pull(client, obj)
            except MessageWhizError as exc:
                summary.failed += 1
                summary.error = str(exc)
                summary.created -= new
                continue
            # Closed (its staged files deleted) also when a local edit made meanwhile wins.
            with closing(content), transaction.atomic():
                if save([row], []) if new else save([], [row]):
                    content.save(obj)
                    model.objects.filter(pk=obj.pk).update(remote_snapshot=resource.snapshot_of(obj))
    return summary


def _confirmed_gone(account, resource, candidates: list) -> list:
    """The rows a complete walk did not meet that a look by name does not find either.

    Paging by offset skips an item when one before it leaves the list during the walk (disabled
    meanwhile, say); a look by name settles each candidate. Past MAX_CONFIRMED, the rest wait for a
    later pull: a row is never marked missing on the walk alone."""
    gone = []
    try:
        with MessageWhizClient.from_account(account) as client:
            for obj in candidates[:MAX_CONFIRMED]:
                found = any(item.get("id") == obj.remote_id for enabled in (True, False)
                            for item in resource.call(client, "iter", enabled=enabled, filter={"name": obj.name}))
                if not found:
                    gone.append(obj)
    except MessageWhizError:
        return []
    return gone


def _save_if_unchanged(obj, fields: list[str]) -> bool:
    """Write the remote values only if no local edit came in since the row was read."""
    return type(obj).objects.filter(pk=obj.pk, revision=obj.revision).update(
        **{name: getattr(obj, name) for name in fields}) == 1


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


def _known_members(account, resource) -> set[int]:
    if resource.members is None:
        return set()
    return set(resource.member_model.objects.filter(account=account, remote_id__isnull=False)
               .values_list("remote_id", flat=True))


def _matches(resource, obj, values: dict, enabled: bool, member_ids) -> bool:
    if obj.enabled != enabled:
        return False
    if plain({name: getattr(obj, name) for name in values}) != plain(values):
        return False
    return member_ids is None or sorted(obj.remote_snapshot.get("members", [])) == member_ids


def _set_members(account, resource, rows) -> None:
    """Point each list's local membership at the local rows of its remote members."""
    local_members = dict(resource.member_model.objects.filter(account=account, remote_id__isnull=False)
                         .values_list("remote_id", "pk"))
    for obj, member_ids in rows:
        getattr(obj, resource.members.field).set([local_members[rid] for rid in member_ids])


def mirror_pull_account(account, keys: list[str] | None = None) -> dict[str, PullSummary]:
    chosen = {key: resources.get(key) for key in keys} if keys else {r.key: r for r in resources.all_resources()}
    # A list's members are pulled first, so that none of them is missing locally.
    for resource in list(chosen.values()):
        if resource.members is not None:
            member = resources.for_model(resource.member_model)
            chosen[member.key] = member
    return {resource.key: _pull_alone(account, resource)
            for resource in sorted(chosen.values(), key=lambda r: r.order)}


def _pull_alone(account, resource) -> PullSummary:
    """One kind's pull, skipped if one of the same account and kind is running: both would create
    the same new rows, and the second would fail on the unique remote id."""
    lock = _cache_key("pull-lock", account.pk, resource.key)
    if not cache.add(lock, "held", timeout=pull_mirrors.time_limit):
        return PullSummary(error=ALREADY_RUNNING)
    try:
        pull_status_record(account.pk, resource.key, "running")
        try:
            summary = mirror_pull(account, resource)
        except Exception as exc:
            # Recorded, or the pages would show it running until it is given up.
            error = f"The pull stopped: {type(exc).__name__}: {exc}"[:500]
            pull_status_record(account.pk, resource.key, "failed", PullSummary(failed=1, error=error).as_dict())
            raise
        pull_status_record(account.pk, resource.key, "failed" if summary.error else "done", summary.as_dict())
        return summary
    finally:
        cache.delete(lock)


def mirror_pull_later(*, account_ids, key: str) -> list[int]:
    """Queue a pull of one kind (its members first) for each account, once the transaction commits,
    unless one is queued or running already; returns the accounts queued."""
    queued = []
    for account_id in account_ids:
        if pull_in_progress(pull_status(account_id, key)):
            continue
        pull_status_record(account_id, key, "queued")
        transaction.on_commit(partial(pull_mirrors.delay, account_id, [key]))
        queued.append(account_id)
    return queued


def pull_status_record(account_id: int, key: str, state: str, summary: dict | None = None) -> None:
    """Where the latest pull of one kind stands (queued, running, done, failed), for the pages."""
    cache.set(_cache_key("pull", account_id, key), {"state": state, "at": timezone.now(), "summary": summary},
              STATUS_SECONDS)


def pull_status(account_id: int, key: str) -> dict | None:
    return cache.get(_cache_key("pull", account_id, key))


def pull_in_progress(status: dict | None) -> bool:
    """Whether a status says queued or running, and recently enough for the pull not to be lost."""
    return bool(status) and status["state"] in ("queued", "running") and \
        status["at"] > timezone.now() - PULL_GIVEN_UP


def _cache_key(what: str, account_id: int, key: str) -> str:
    # The database name keeps two installations (or test workers) sharing a cache apart.
    return f"textcast:{what}:{connection.settings_dict['NAME']}:{account_id}:{key}"
