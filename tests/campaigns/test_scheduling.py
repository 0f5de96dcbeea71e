"""Sends at a local time, recurring sends, and cancelling before they run."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from campaigns.models import Broadcast, RecurringBroadcast
from campaigns.scheduling import (
    broadcast_cancel,
    broadcast_schedule,
    due_broadcast_ids,
    recurring_broadcast_run,
    recurring_broadcast_save,
    recurring_broadcast_stop,
)
from campaigns.states import TransitionRefused
from campaigns.tasks import run_recurring_broadcast, submit_broadcast, submit_due_broadcasts

S = Broadcast.State


def test_scheduled_broadcast_waits_then_goes_with_its_local_time(make_broadcast, sandbox, settings):
    settings.SCHEDULE_LEAD_SECONDS = 600
    broadcast = make_broadcast()
    later = timezone.now() + timedelta(hours=3)
    broadcast_schedule(broadcast, send_at=later, time_zone="America/New_York")
    assert broadcast.state == S.SCHEDULED
    assert due_broadcast_ids() == []
    submit_due_broadcasts.apply()
    assert sandbox.requests(method="POST", path="^/api/3/Broadcast$") == []

    Broadcast.objects.filter(pk=broadcast.pk).update(send_at=timezone.now() + timedelta(minutes=5))
    submit_due_broadcasts.apply()
    broadcast.refresh_from_db()
    assert broadcast.state == S.SUBMITTED
    [request] = sandbox.requests(method="POST", path="^/api/3/Broadcast$")
    # A UTC instant with offset 0: the same moment whether MessageWhiz reads send_date as UTC or as
    # local time in utc_offset (the sandbox does the latter; New York's -300 made it 5 hours late).
    assert request["json"]["utc_offset"] == 0
    assert request["json"]["send_date"] == broadcast.send_at.astimezone(UTC).isoformat(
        timespec="milliseconds").replace("+00:00", "Z")
    assert sandbox.state("segments")[-1]["send_time"] == broadcast.send_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def test_cancel_before_it_runs(make_broadcast, sandbox):
    broadcast = make_broadcast()
    broadcast_schedule(broadcast, send_at=timezone.now() + timedelta(minutes=1), time_zone="UTC")
    broadcast_cancel(broadcast, reason="Wrong list")
    submit_due_broadcasts.apply()
    broadcast.refresh_from_db()
    assert broadcast.state == S.CANCELLED
    assert broadcast.events.last().reason == "Wrong list"
    assert sandbox.requests(method="POST", path="^/api/3/Broadcast$") == []


def test_submitted_broadcast_cannot_be_cancelled(make_broadcast, sandbox):
    from .test_sending import run_task

    broadcast = run_task(make_broadcast())
    with pytest.raises(TransitionRefused, match="submitted broadcast can't become cancelled"):
        broadcast_cancel(broadcast)


def test_recurring_schedule_creates_a_beat_entry_in_its_time_zone(make_broadcast):
    definition = make_broadcast(name="Weekly deals")
    recurrence = recurring_broadcast_save(RecurringBroadcast(definition=definition, minute="0", hour="10",
                                                             day_of_week="1", time_zone="Europe/Kyiv"))
    task = PeriodicTask.objects.get(pk=recurrence.periodic_task_id)
    assert task.enabled and task.task == "campaigns.tasks.run_recurring_broadcast"
    assert (task.crontab.hour, task.crontab.day_of_week, str(task.crontab.timezone)) == ("10", "1", "Europe/Kyiv")
    recurring_broadcast_stop(recurrence)
    task.refresh_from_db()
    assert not task.enabled


def test_each_run_sends_its_own_copy_once(make_broadcast, sandbox, audience):
    definition = make_broadcast(name="Weekly deals")
    recurrence = recurring_broadcast_save(RecurringBroadcast(definition=definition, time_zone="Europe/Kyiv"))
    monday = datetime(2027, 3, 1, 8, 0, tzinfo=UTC)  # 10:00 in Kyiv
    first = recurring_broadcast_run(recurrence, fired_at=monday)
    assert first.name == "Weekly deals · 2027-03-01 10:00"
    assert list(first.recipient_lists.all()) == [audience["list"]]
    # Beat fired twice, or the worker died before it queued the submission: the same broadcast.
    assert recurring_broadcast_run(recurrence, fired_at=monday + timedelta(seconds=20)) == first
    # The task delivered again an hour later (its worker died): still this Monday's run.
    assert recurring_broadcast_run(recurrence, fired_at=monday + timedelta(hours=1)) == first
    submit_broadcast.apply(args=[first.pk])
    assert recurring_broadcast_run(recurrence, fired_at=monday) is None  # on its way: nothing to do

    run_recurring_broadcast.apply(args=[recurrence.pk])
    latest = Broadcast.objects.exclude(pk__in=[definition.pk, first.pk]).get()
    assert latest.state == S.SUBMITTED
    definition.refresh_from_db()
    assert definition.state == S.DRAFT  # the definition itself is never sent
    assert len(sandbox.state("broadcasts")) == 2


def test_recurring_ctr_runs_expire_as_long_after_their_send_as_the_first(make_broadcast, sandbox):
    now = timezone.now()
    definition = make_broadcast(name="Weekly CTR", type=Broadcast.Type.SMART, eb_type="CTR", first_segment_size=2,
                                next_segment_size=1, conversion_threshold=50, exp_date=now + timedelta(hours=12))
    recurrence = recurring_broadcast_save(RecurringBroadcast(definition=definition, time_zone="Europe/Kyiv"))
    first = recurring_broadcast_run(recurrence, fired_at=now)
    assert first.exp_date == definition.exp_date
    submit_broadcast.apply(args=[first.pk])
    first.refresh_from_db()
    assert first.state == S.SUBMITTED, first.last_error

    next_week = recurring_broadcast_run(recurrence, fired_at=now + timedelta(days=7))
    assert abs(next_week.exp_date - (now + timedelta(days=7, hours=12))) < timedelta(seconds=1)
    submit_broadcast.apply(args=[next_week.pk])
    next_week.refresh_from_db()
    assert next_week.state == S.SUBMITTED, next_week.last_error
    sent = sandbox.requests(method="POST", path="^/api/3/Broadcast$")[-1]["json"]
    assert sent["exp_date"].startswith(f"{next_week.exp_date.astimezone(UTC):%Y-%m-%d %H:%M}")


def test_recurring_runs_keep_the_whatsapp_template(make_broadcast, mw_account):
    from messaging.models import WhatsAppTemplate

    template = WhatsAppTemplate.objects.create(account=mw_account, name="weekly_offer", body="Hi {{1}}")
    definition = make_broadcast(name="Weekly offer", whatsapp_template=template)
    recurrence = recurring_broadcast_save(RecurringBroadcast(definition=definition))
    assert recurring_broadcast_run(recurrence, fired_at=timezone.now()).whatsapp_template == template
