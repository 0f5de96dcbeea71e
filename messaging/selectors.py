from datetime import datetime

from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from .mirror import SyncState
from .models import ProviderAccount
from .tasks import HEARTBEAT_KEY


def mirror_accounts():
    """The accounts whose objects are mirrored here: active MessageWhiz ones."""
    return ProviderAccount.objects.filter(is_active=True, kind=ProviderAccount.Kind.MESSAGEWHIZ)


def worker_heartbeat() -> dict:
    """When a Celery worker last ran the beat heartbeat, and whether that is recent enough."""
    raw = cache.get(HEARTBEAT_KEY)
    if not raw:
        return {"seen": None, "healthy": False}
    seen = datetime.fromisoformat(raw)
    return {"seen": seen, "healthy": (timezone.now() - seen).total_seconds() < 180}


def mirror_sync_problems(*, account=None, limit: int = 10) -> list[dict]:
    """Mirrored objects (of every entity) whose last sync failed, newest first, each with the page
    on which to fix it."""
    from .sync.resources import all_resources

    failed = []
    for resource in all_resources():
        objects = resource.model.objects.filter(sync_state=SyncState.FAILED)
        if account is not None:
            objects = objects.filter(account=account)
        failed += objects.order_by("-updated_at")[:limit]
    failed.sort(key=lambda obj: obj.updated_at, reverse=True)
    return [{"kind": obj._meta.verbose_name, "object": obj, "error": obj.sync_error, "url": mirror_page_url(obj)}
            for obj in failed[:limit]]


def mirror_page_url(obj) -> str:
    """A mirrored object's page: lists have their own, other entities their edit form."""
    meta = obj._meta
    if meta.app_label == "recipients":
        kind = "recipients" if meta.model_name == "recipientlist" else "unsubscribes"
        return reverse("recipients:list_detail", args=[kind, obj.pk])
    return reverse(f"{meta.app_label}:{meta.model_name}_edit", args=[obj.pk])
