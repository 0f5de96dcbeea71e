"""When broadcasts go out: now, at a local date and time, or on a recurring schedule."""

import json
import zoneinfo
from datetime import timedelta

from celery.schedules import crontab
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from .approvals import approval_needed, broadcast_request_approval
from .estimates import confirm_problem
from .models import Broadcast, RecurringBroadcast
from .states import TransitionRefused, broadcast_transition, broadcast_transition_or_raise


def due_broadcast_ids() -> list[int]:
    """Scheduled broadcasts whose send time is within the hand-over lead time (or already past), and
    those confirmed to send now (no send time) whose queued submission has not taken them yet."""
    horizon = timezone.now() + timedelta(seconds=settings.SCHEDULE_LEAD_SECONDS)
    return list(Broadcast.objects.filter(Q(send_at__lte=horizon) | Q(send_at__isnull=True),
                                         state=Broadcast.State.SCHEDULED).values_list("pk", flat=True))


def broadcast_schedule(broadcast: Broadcast, *, send_at, time_zone: str, actor=None) -> None:
    """Keep the broadcast here until shortly before `send_at` (aware datetime), then submit it."""
    broadcast.send_at, broadcast.time_zone = send_at, time_zone
    Broadcast.objects.filter(pk=broadcast.pk).update(send_at=send_at, time_zone=time_zone)
    local = timezone.localtime(send_at, timezone=zoneinfo.ZoneInfo(time_zone))
    broadcast_transition_or_raise(broadcast, Broadcast.State.SCHEDULED, actor=actor,
                                  reason=f"Scheduled for {local:%Y-%m-%d %H:%M} {time_zone}")


CONFIRMED_NOW, CONFIRMED_SCHEDULED, CONFIRMED_RECURRING = "sending", "scheduled", "recurring"
CONFIRMED_AWAITING = "awaiting_approval"  # over the account's threshold: campaigns.approvals


def broadcast_confirm(broadcast: Broadcast, *, actor=None) -> str:
    """Confirm an estimated broadcast: start its recurring schedule, keep it for its send time, or
    claim it to send now (CONFIRMED_NOW: the caller queues campaigns.tasks.submit_broadcast on
    commit); over the account's approval threshold it waits for approval instead (CONFIRMED_AWAITING).
    The claim is a conditional update, so a second confirmation (a double click, a replayed request)
    raises TransitionRefused instead of sending twice; so does a broadcast that can't be confirmed
    as it stands (estimates.confirm_problem)."""
    if problem := confirm_problem(broadcast):
        raise TransitionRefused(problem)
    if approval_needed(broadcast):
        broadcast_request_approval(broadcast, actor=actor)
        return CONFIRMED_AWAITING
    recurrence = RecurringBroadcast.objects.filter(definition=broadcast).first()
    if recurrence is not None:
        recurrence.enabled = True
        recurring_broadcast_save(recurrence)
        return CONFIRMED_RECURRING
    if broadcast.send_at:
        broadcast_schedule(broadcast, send_at=broadcast.send_at, time_zone=broadcast.time_zone, actor=actor)
        return CONFIRMED_SCHEDULED
    broadcast_transition_or_raise(broadcast, Broadcast.State.SCHEDULED, actor=actor, reason="Confirmed: sending now")
    return CONFIRMED_NOW


WAITING = (Broadcast.State.DRAFT, Broadcast.State.ESTIMATED, Broadcast.State.SCHEDULED)


def broadcast_cancel(broadcast: Broadcast, *, actor=None, reason: str = "Cancelled") -> int:
    """Cancel the broadcast and its scheduled parts (campaigns.parts) not submitted yet; a broadcast
    already submitted still cancels its waiting parts. Returns how many parts were cancelled."""
    parts = broadcast.children.filter(role=Broadcast.Role.WINDOW, state__in=WAITING)
    if broadcast.state in WAITING or not parts.exists():
        broadcast_transition_or_raise(broadcast, Broadcast.State.CANCELLED, actor=actor, reason=reason)
    cancelled = 0
    for part in parts:
        cancelled += broadcast_transition(part, Broadcast.State.CANCELLED, actor=actor, held=0,
                                          reason=f"{reason} (with “{broadcast}”)")
    return cancelled


CLONED_FIELDS = ("account", "campaign", "type", "eb_type", "first_segment_size", "next_segment_size",
                 "conversion_threshold", "recipient_cap", "recipient", "body", "template", "whatsapp_template",
                 "time_zone", "trigger", "delay", "custom_parameter", "created_by", "retry_enabled", "retry_statuses",
                 "retry_no_report_minutes", "retry_wait_minutes", "retry_account", "retry_sender", "retry_sender_list")
CLONED_RELATIONS = ("senders", "sender_lists", "recipient_lists", "unsubscribe_lists", "templates")


def broadcast_clone(source: Broadcast, *, relations=CLONED_RELATIONS, **fields) -> Broadcast:
    """A new draft with `source`'s content and audience (CLONED_FIELDS and `relations`), `fields` set over them."""
    with transaction.atomic():
        broadcast = Broadcast.objects.create(**{**{name: getattr(source, name) for name in CLONED_FIELDS}, **fields})
        for relation in relations:
            getattr(broadcast, relation).set(getattr(source, relation).all())
    return broadcast


def recurring_broadcast_save(recurrence: RecurringBroadcast) -> RecurringBroadcast:
    """Save the schedule and (re)point its django-celery-beat entry at it."""
    with transaction.atomic():
        recurrence.save()
        crontab, _ = CrontabSchedule.objects.get_or_create(
            minute=recurrence.minute, hour=recurrence.hour, day_of_week=recurrence.day_of_week,
            day_of_month=recurrence.day_of_month, month_of_year=recurrence.month_of_year,
            timezone=zoneinfo.ZoneInfo(recurrence.time_zone),
        )
        task = recurrence.periodic_task or PeriodicTask(name=f"Recurring broadcast {recurrence.pk}",
                                                        task="campaigns.tasks.run_recurring_broadcast")
        task.crontab, task.args, task.enabled = crontab, json.dumps([recurrence.pk]), recurrence.enabled
        task.save()
        RecurringBroadcast.objects.filter(pk=recurrence.pk).update(periodic_task=task)
        recurrence.periodic_task = task
    return recurrence


def recurring_broadcast_stop(recurrence: RecurringBroadcast) -> None:
    recurrence.enabled = False
    recurring_broadcast_save(recurrence)


def recurring_broadcast_run(recurrence: RecurringBroadcast, *, fired_at) -> Broadcast | None:
    """Make this firing's broadcast from the saved definition. If this firing already made it (beat
    fired twice, the task was delivered again after its worker died, or the worker died before
    queueing its submission), that one while it is still a draft; None once it is on its way."""
    definition = recurrence.definition
    local = _slot(recurrence, timezone.localtime(fired_at, zoneinfo.ZoneInfo(recurrence.time_zone)))
    run = f"{recurrence.pk}:{local:%Y%m%dT%H%M}"
    try:
        broadcast = broadcast_clone(definition, name=f"{definition.name} · {local:%Y-%m-%d %H:%M}", recurrence_run=run,
                                    exp_date=_run_expiry(recurrence, fired_at))
    except IntegrityError:
        return Broadcast.objects.filter(recurrence_run=run, state=Broadcast.State.DRAFT).first()
    RecurringBroadcast.objects.filter(pk=recurrence.pk).update(last_run_at=fired_at)
    return broadcast


def _slot(recurrence: RecurringBroadcast, local):
    """The scheduled minute a firing belongs to: the latest one at or before `local` (a firing runs
    late when beat catches up or its task is delivered again, an hour later with Redis), looking
    back two days at most."""
    schedule = crontab(minute=recurrence.minute, hour=recurrence.hour, day_of_week=recurrence.day_of_week,
                       day_of_month=recurrence.day_of_month, month_of_year=recurrence.month_of_year)
    moment = local.replace(second=0, microsecond=0)
    for _ in range(2 * 24 * 60):
        if (moment.minute in schedule.minute and moment.hour in schedule.hour
                and moment.isoweekday() % 7 in schedule.day_of_week and moment.day in schedule.day_of_month
                and moment.month in schedule.month_of_year):
            return moment
        moment -= timedelta(minutes=1)
    return local.replace(second=0, microsecond=0)


def _run_expiry(recurrence: RecurringBroadcast, fired_at):
    """A CTR definition's expiry date is its first run's; each later run expires as long after it
    is sent as the first one did."""
    expires = recurrence.definition.exp_date
    first = (Broadcast.objects.filter(recurrence_run__startswith=f"{recurrence.pk}:").order_by("created_at")
             .values_list("created_at", flat=True).first())
    if expires is None or first is None:
        return expires
    return fired_at + (expires - first)
