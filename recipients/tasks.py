from celery import shared_task

from .services import import_sources_discard, recipient_list_import
from .staging import staged_uploads_discard


# A million-row file takes well under a minute; the limits only stop a runaway import.
@shared_task(soft_time_limit=1800, time_limit=1900)
def import_list(job_id: int) -> None:
    """Run an ImportJob. Safe to deliver twice: the service claims the job and commits once."""
    recipient_list_import(job_id=job_id)


@shared_task(soft_time_limit=300, time_limit=360)
def discard_stale_uploads() -> None:
    """Contact files nobody needs any more: abandoned wizards' uploads, finished imports' sources."""
    staged_uploads_discard()
    import_sources_discard()
