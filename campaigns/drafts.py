"""Changing a broadcast before it is sent: edit, duplicate, delete, and test sends.

Only a draft or an estimated broadcast (not confirmed yet) is edited or deleted, checked on the
locked row, so a broadcast confirmed meanwhile is left alone. An edit takes it back to draft
through the state machine (its old estimate no longer holds). A test send is a broadcast of its
own (`test_of` the tested one), sent through the same provider path, so the tested broadcast's
figures and state never move.
"""

import logging

from django.db import transaction

from recipients.models import Recipient, RecipientList
from recipients.phones import PhoneRejected, normalize_phone

from .estimates import broadcast_problems, problems_summary
from .models import Broadcast, RecurringBroadcast, SendingProfile
from .scheduling import broadcast_clone
from .states import broadcast_transition

logger = logging.getLogger(__name__)

EDITABLE = (Broadcast.State.DRAFT, Broadcast.State.ESTIMATED)
# A seed list is a handful of our own phones; a real audience chosen by mistake is refused.
MAX_SEED = 25


class DraftProblem(Exception):
    pass


def draft_problem(broadcast: Broadcast) -> str:
    """Why the broadcast can't be edited or deleted, or ""."""
    if broadcast.state not in EDITABLE:
        return (f"“{broadcast}” is {broadcast.get_state_display().lower()}: only drafts and estimated broadcasts "
                f"not sent yet can be changed. Duplicate it to send a changed copy.")
    if RecurringBroadcast.objects.filter(definition=broadcast, enabled=True).exists():
        return f"“{broadcast}” runs on a recurring schedule: stop the schedule first."
    return ""


def _locked_editable(broadcast: Broadcast) -> Broadcast:
    """The broadcast's row, locked until the transaction ends, or DraftProblem."""
    current = Broadcast.objects.select_for_update().filter(pk=broadcast.pk).first()
    if current is None:
        raise DraftProblem("That broadcast no longer exists.")
    if problem := draft_problem(current):
        raise DraftProblem(problem)
    return current


def broadcast_compose_save(form, *, actor, editing: Broadcast | None = None) -> Broadcast:
    """A valid compose form as a new draft (or, with `editing`, as that draft's changes), with its
    recurring schedule (disabled until confirmed) following the form's "when". The caller queues
    the estimate on commit. DraftProblem if `editing` can no longer be changed."""
    data = form.cleaned_data
    with transaction.atomic():
        broadcast = form.save(commit=False)
        broadcast.send_at = data.get("send_at")
        broadcast.time_zone = data["zone"]
        if data["when"] != "trigger":
            broadcast.trigger, broadcast.delay = None, None
        if editing is None:
            broadcast.created_by = actor
            broadcast.save()
            form.save_m2m()
        else:
            broadcast_update(form, actor=actor)
        # A schedule not started yet (draft_problem refuses started ones) follows the form.
        recurrence = RecurringBroadcast.objects.filter(definition=broadcast).first() if editing else None
        if data["when"] == "recurring":
            at = data["repeat_time"]
            recurrence = recurrence or RecurringBroadcast(definition=broadcast, created_by=actor)
            recurrence.minute, recurrence.hour = str(at.minute), str(at.hour)
            recurrence.day_of_week = data["repeat_days"] or "*"
            recurrence.time_zone, recurrence.enabled = broadcast.time_zone, False
            recurrence.save()
        elif recurrence is not None:  # no longer recurring: the schedule and its (disabled) beat entry go
            task = recurrence.periodic_task
            recurrence.delete()
            if task is not None:
                task.delete()
    return broadcast


def broadcast_update(form, *, actor=None) -> Broadcast:
    """Save the compose form's changes to its draft and take it back to draft for a new estimate.
    Only the form's own fields are written: never the state, which only the state machine moves."""
    with transaction.atomic():
        _locked_editable(form.instance)
        broadcast = form.save(commit=False)
        edited = {field.name for field in Broadcast._meta.concrete_fields} & set(form._meta.fields)
        broadcast.save(update_fields=[*edited, "send_at", "time_zone", "updated_at"])
        form.save_m2m()
        broadcast_transition(broadcast, Broadcast.State.DRAFT, actor=actor, reason="Edited",
                             estimated_at=None, estimate={}, local_estimate={}, last_error="")
    return broadcast


def broadcast_duplicate(broadcast: Broadcast, *, actor=None) -> Broadcast:
    """A new draft with the broadcast's content, audience and settings (any broadcast, sent or not)."""
    return broadcast_clone(broadcast, name=f"Copy of {broadcast.name}"[:255], created_by=actor,
                           send_at=broadcast.send_at, exp_date=broadcast.exp_date)


def broadcast_delete(broadcast: Broadcast, *, actor=None) -> None:
    """Delete a draft or estimated broadcast (DraftProblem otherwise)."""
    with transaction.atomic():
        _locked_editable(broadcast)
        Broadcast.objects.filter(pk=broadcast.pk, state__in=EDITABLE).delete()
    # Its events go with it: the log keeps who deleted what.
    logger.info("Broadcast %s “%s” deleted as a %s by %s", broadcast.pk, broadcast.name, broadcast.state, actor)


def sending_profile(user) -> SendingProfile:
    return SendingProfile.objects.get_or_create(user=user)[0]


def broadcast_test_send(broadcast: Broadcast, *, phone: str = "", seed_list: RecipientList | None = None,
                        actor=None) -> Broadcast:
    """Send the broadcast's message once to `phone` (the user's own number) or to a seed list, as
    a broadcast of its own through the same provider; remembered for the user. Returns the test
    broadcast, a draft to submit (campaigns.tasks.submit_broadcast). DraftProblem: nothing sent."""
    if bool(phone) == (seed_list is not None):
        raise DraftProblem("Send the test to your number or to a seed list.")
    if errors := problems_summary(broadcast_problems(broadcast)):
        raise DraftProblem(f"Fix the message first: {errors}")
    if phone:
        try:
            phone = normalize_phone(phone)
        except PhoneRejected as exc:
            raise DraftProblem(f"Your number: {exc} (write it in international format, e.g. +380 50 123 45 67).") \
                from None
    else:
        count = Recipient.objects.filter(recipient_list=seed_list).count()
        if not count:
            raise DraftProblem(f"The seed list “{seed_list}” is empty.")
        if count > MAX_SEED:
            raise DraftProblem(f"A seed list holds your own test phones, at most {MAX_SEED}; “{seed_list}” has "
                               f"{count:,} numbers. Choose a smaller list.")
    body, template = broadcast.body, broadcast.template
    if not (body or template) and broadcast.templates.exists():
        template = broadcast.templates.order_by("pk").first()  # a manual smart broadcast's first template
    # A single message takes exactly one sender: the broadcast's first, or its first list's first.
    sender = broadcast.senders.order_by("pk").first()
    if sender is None and (sender_list := broadcast.sender_lists.order_by("pk").first()) is not None:
        sender = sender_list.senders.order_by("pk").first()
    with transaction.atomic():
        test = broadcast_clone(
            broadcast, name=f"Test of {broadcast.name}"[:255], created_by=actor, test_of=broadcast, body=body,
            template=template, type=Broadcast.Type.SINGLE if phone else Broadcast.Type.BASE, recipient=phone,
            eb_type="", first_segment_size=None, next_segment_size=None, conversion_threshold=None,
            recipient_cap=None, trigger=None, delay=None, relations=("unsubscribe_lists",))
        if phone:
            test.senders.set([sender] if sender else [])
        else:
            test.senders.set(broadcast.senders.all())
            test.sender_lists.set(broadcast.sender_lists.all())
            test.recipient_lists.set([seed_list])
        if actor is not None:  # offered again next time
            profile = sending_profile(actor)
            if phone:
                profile.phone = phone
            else:
                profile.seed_list = seed_list
            profile.save()
    return test
