from datetime import datetime

from django.core.cache import cache
from django.utils import timezone

from .tasks import HEARTBEAT_KEY


def worker_heartbeat() -> dict:
    """When a Celery worker last ran the beat heartbeat, and whether that is recent enough."""
    raw = cache.get(HEARTBEAT_KEY)
    if not raw:
        return {"seen": None, "healthy": False}
    seen = datetime.fromisoformat(raw)
    return {"seen": seen, "healthy": (timezone.now() - seen).total_seconds() < 180}
