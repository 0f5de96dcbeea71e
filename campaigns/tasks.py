from contextlib import suppress

from celery import shared_task
from django.contrib.auth import get_user_model
from django.db import transaction

from .abtests import abtest_complete_finished, abtest_decide_due, abtest_of, abtest_start
from .models import Broadcast, Link
from .scheduling import due_broadcast_ids
from .sending import SubmissionProblem, broadcast_submit, submission_due_ids
from .services import link_conversion_refresh
from .states import TransitionRefused

SUBMITTABLE = (Broadcast.State.DRAFT, Broadcast.State.ESTIMATED, Broadcast.State.SCHEDULED,
               Broadcast.State.SUBMITTING)


@shared_task(soft_time_limit=900, time_limit=960)
def refresh_link_conversions(link_ids: list[int] | None = None):
    """Beat job (every enabled, synced link) and the "refresh conversion" action (chosen links)."""
    links = Link.objects.select_related("account").filter(enabled=True, account__is_active=True)
    links = links.filter(pk__in=link_ids) if link_ids is not None else links.exclude(remote_id=None)
    link_conversion_refresh(links=list(links))


@shared_task(soft_time_limit=600)
def submit_broadcast(broadcast_id: int, actor_id: int | None = None):
    """Submit one broadcast, or make the next attempt at one left submitting (the sweep below
    queues those). Safe to run twice or after a killed worker: see campaigns.sending."""
    broadcast = Broadcast.objects.select_related("account", "campaign", "template", "trigger").get(pk=broadcast_id)
    if broadcast.state not in SUBMITTABLE:
        return
    if abtest_of(broadcast) is not None:  # it sends nothing itself: its variants, then its winner
        with suppress(TransitionRefused):  # cancelled meanwhile, or another task started it
            _submit_all(abtest_start(broadcast, actor=get_user_model().objects.filter(pk=actor_id).first()))
        return
    try:
        broadcast_submit(broadcast, actor=get_user_model().objects.filter(pk=actor_id).first())
    except SubmissionProblem:
        return  # recorded on the broadcast for the user to fix
    except TransitionRefused:
        return  # another task claimed it first and is sending it


def _submit_all(broadcast_ids: list[int]) -> None:
    for broadcast_id in broadcast_ids:
        transaction.on_commit(lambda pk=broadcast_id: submit_broadcast.delay(pk))


@shared_task(soft_time_limit=300)
def abtest_sweep():
    """Beat, every minute: choose the winner of A/B tests whose decision time has come and send it
    to the rest (once: campaigns.abtests), and complete tests whose sends are all final."""
    _submit_all(abtest_decide_due())
    abtest_complete_finished()


@shared_task(soft_time_limit=120)
def submit_due_broadcasts():
    """Beat, every minute: hand scheduled broadcasts to MessageWhiz shortly before their time, and
    make the next attempt at submissions whose lease ran out (a retry that is due, a dead worker).

    MessageWhiz then starts them exactly at send_date; until we hand them over they can be cancelled.
    """
    for broadcast_id in (*due_broadcast_ids(), *submission_due_ids()):
        submit_broadcast.delay(broadcast_id)


@shared_task(soft_time_limit=600)
def refresh_broadcasts():
    """Beat: bring MessageWhiz's view of every submitted broadcast in; complete the finished ones."""
    from messaging.models import ProviderAccount

    from .followup import broadcasts_refresh

    for account in ProviderAccount.objects.filter(is_active=True, kind=ProviderAccount.Kind.MESSAGEWHIZ):
        broadcasts_refresh(account=account)


@shared_task(soft_time_limit=120)
def run_recurring_broadcast(recurrence_id: int):
    """Fired by django-celery-beat: clone the saved definition and submit the copy."""
    from django.utils import timezone

    from .models import RecurringBroadcast
    from .scheduling import recurring_broadcast_run

    recurrence = RecurringBroadcast.objects.select_related("definition").filter(pk=recurrence_id, enabled=True).first()
    if recurrence is None:
        return
    broadcast = recurring_broadcast_run(recurrence, fired_at=timezone.now())
    if broadcast is not None:
        submit_broadcast.delay(broadcast.pk)


@shared_task(soft_time_limit=600)
def estimate_broadcast(broadcast_id: int, actor_id: int | None = None):
    from .estimates import broadcast_estimate

    broadcast = Broadcast.objects.select_related("account", "template").get(pk=broadcast_id)
    broadcast_estimate(broadcast, actor=get_user_model().objects.filter(pk=actor_id).first())


# Generic HTTP providers: our own sender (campaigns.dispatch). It keeps everything, retries and the
# answers still in flight included, inside a budget a minute short of the soft limit: hitting the
# limit mid-send would leave its messages to reconcile as if the worker had died.
DISPATCH_SOFT_LIMIT = 540


@shared_task(soft_time_limit=DISPATCH_SOFT_LIMIT, time_limit=600)
def dispatch_broadcast(broadcast_id: int):
    from .dispatch import dispatch_run

    return dispatch_run(broadcast_id, budget=DISPATCH_SOFT_LIMIT - 60)


@shared_task(soft_time_limit=60)
def send_provider_reply(account_id: int, phone: str):
    """An auto-reply to an inbound message (messaging.providers.inbound)."""
    from messaging.providers.inbound import auto_reply_send

    auto_reply_send(account_id=account_id, phone=phone)


@shared_task(soft_time_limit=60)
def dispatch_sweep():
    """Beat, every minute: restart generic-provider broadcasts whose sender died or whose task was
    lost, and complete those whose delivery reports are overdue."""
    from .dispatch import dispatch_reports_overdue, dispatch_stalled_ids

    for broadcast_id in dispatch_stalled_ids():
        dispatch_broadcast.delay(broadcast_id)
    dispatch_reports_overdue()


@shared_task(soft_time_limit=300)
def retry_undelivered(broadcast_id: int):
    """Create one broadcast's due retries and start sending them (campaigns.retries); queued on
    commit when delivery reports say messages were not delivered, and by the sweep below."""
    from .retries import DISPATCH, retries_run

    for action, child_id in retries_run(broadcast_id):
        (dispatch_broadcast if action == DISPATCH else submit_broadcast).delay(child_id)


@shared_task(soft_time_limit=120)
def retry_sweep():
    """Beat, every minute: every broadcast whose retries may be due, so none is lost with a worker."""
    from .retries import retry_due_ids

    for broadcast_id in retry_due_ids():
        retry_undelivered.delay(broadcast_id)


@shared_task(soft_time_limit=300)
def prune_idempotency_keys():
    """Beat, hourly: drop expired API idempotency keys."""
    from .api.base import idempotency_keys_prune

    return idempotency_keys_prune()
