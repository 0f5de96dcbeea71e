from celery import shared_task

from .services import recipient_list_import


# A million-row file takes well under a minute; the limits only stop a runaway import.
@shared_task(soft_time_limit=1800, time_limit=1900)
def import_list(job_id: int) -> None:
    """Run an ImportJob. Safe to deliver twice: the service claims the job and commits once."""
    recipient_list_import(job_id=job_id)
