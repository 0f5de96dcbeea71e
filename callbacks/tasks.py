from celery import shared_task

from . import services


@shared_task(soft_time_limit=240, time_limit=300)
def apply_pending(message_ids=None):
    """Apply callbacks that arrived before their message was known. Beat should run it every
    minute as a safety net; campaigns may queue it by name with the ids of messages it has just
    created or given provider ids (`send_task("callbacks.tasks.apply_pending", [ids])`)."""
    if message_ids:
        services.apply_pending_for(message_ids=message_ids)
    else:
        services.apply_pending()
