import logging

from celery import shared_task
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.utils import timezone

logger = logging.getLogger(__name__)

HEARTBEAT_KEY = "textcast:worker-heartbeat"


@shared_task
def heartbeat():
    """Run by beat every minute so the dashboard can tell whether workers are alive."""
    cache.set(HEARTBEAT_KEY, timezone.now().isoformat(), timeout=None)
    logger.info("Worker heartbeat recorded")


@shared_task(bind=True, max_retries=60, soft_time_limit=60)
def connect_sandbox(self, account_id: int):
    """`make run`: tell the sandbox where to post delivery reports and clicks, once it answers."""
    from .models import ProviderAccount
    from .sandbox_setup import SandboxNotReady, sandbox_connect

    account = ProviderAccount.objects.filter(pk=account_id).first()
    if account is None:
        return
    try:
        sandbox_connect(account=account)
    except SandboxNotReady as exc:
        raise self.retry(countdown=1) from exc
    logger.info("Sandbox callbacks connected for account %s", account_id)


@shared_task(bind=True, max_retries=10, soft_time_limit=300)
def push_mirror(self, model_label: str, pk: int):
    """Make the provider agree with one mirrored row; transient failures retry with backoff."""
    from datetime import timedelta

    from django.apps import apps

    from .sync.push import TransientSyncError, mirror_push

    model = apps.get_model(model_label)
    # Two pushes of one object at once could both create it remotely; the second one waits.
    # The database name keeps two installations (or test workers) sharing a cache apart.
    lock = f"textcast:push:{connection.settings_dict['NAME']}:{model_label}:{pk}"
    if not cache.add(lock, self.request.id or "eager", timeout=300):
        raise self.retry(countdown=5)
    try:
        obj = model.objects.filter(pk=pk).select_related("account").first()
        if obj is None:
            return
        mirror_push(obj)
    except TransientSyncError as exc:
        countdown = min(600, 5 * 2**self.request.retries)
        model.objects.filter(pk=pk).update(next_push_at=timezone.now() + timedelta(seconds=countdown))
        raise self.retry(exc=exc, countdown=countdown) from exc
    finally:
        cache.delete(lock)


@shared_task(soft_time_limit=1800, time_limit=1860)
def pull_mirrors(account_id: int | None = None, keys: list[str] | None = None):
    """Beat job and "pull now" / "sync now": bring mirrored entities of one or all accounts up to date."""
    from .selectors import mirror_accounts
    from .sync.pull import mirror_pull_account

    accounts = mirror_accounts()
    if account_id is not None:
        accounts = accounts.filter(pk=account_id)
    for account in accounts:
        for key, summary in mirror_pull_account(account, keys).items():
            logger.info("Pulled %s for %s: %s", key, account, summary.as_dict())


@shared_task(soft_time_limit=120)
def push_pending():
    """Beat, every minute: queue a push for rows still PENDING whose queued push is overdue.

    Edits queue their own push at once; this catches any whose task was lost and changes made by
    bulk services that only mark rows pending. Rows waiting out a retry's backoff are left alone.
    """
    from datetime import timedelta

    from django.db.models import Q

    from .mirror import SyncState
    from .sync import resources
    from .sync.push import PUSH_OVERDUE

    now = timezone.now()
    overdue = now - PUSH_OVERDUE
    due = Q(next_push_at=None, updated_at__lte=now - timedelta(seconds=60)) | Q(next_push_at__lte=overdue)
    for resource in resources.all_resources():
        pending = resource.model.objects.filter(due, sync_state=SyncState.PENDING)
        pks = list(pending.filter(account__is_active=True).values_list("pk", flat=True)[:500])
        # A run beside this one, or a push, may have taken some meanwhile: only those still due
        # are this run's, and they now carry its `now`.
        pending.filter(pk__in=pks).update(next_push_at=now)
        claimed = resource.model.objects.filter(pk__in=pks, next_push_at=now).values_list("pk", flat=True)
        for pk in list(claimed):
            push_mirror.delay(resource.model._meta.label, pk)


@shared_task(soft_time_limit=90, time_limit=120)
def deliver_webhooks():
    """Drain the webhook outbox (queued after every emit, and by beat every 10 s). Any number may
    run at once: rows are leased (messaging.webhooks.delivery)."""
    from .webhooks.delivery import drain

    return drain(seconds=60, linger=settings.WEBHOOK_DRAIN_LINGER_SECONDS)


@shared_task(soft_time_limit=600, time_limit=660)
def expire_webhooks():
    """Fail webhook events past their retry window, and prune the delivery log."""
    from .webhooks.delivery import expire, log_prune

    expire()
    log_prune()
