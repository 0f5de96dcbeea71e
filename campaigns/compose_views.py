"""Compose → review (preview, estimates, confirmation) → send now, schedule, or repeat."""

from django.conf import settings
from django.contrib import messages
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from recipients.selectors import recipients_for_send

from . import rendering, sms, tracking
from .compose import WEEKDAYS, ComposeForm
from .estimates import RECIPIENT_FIELDS, broadcast_body, confirm_problem, render_context, token_objects
from .models import Broadcast, RecurringBroadcast
from .scheduling import broadcast_schedule, recurring_broadcast_save, recurring_broadcast_stop
from .states import TransitionRefused, broadcast_transition_or_raise
from .tasks import estimate_broadcast, submit_broadcast

PREVIEW_RECIPIENTS = 3


def compose(request):
    form = ComposeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            broadcast = form.save(commit=False)
            broadcast.created_by = request.user
            broadcast.send_at = form.cleaned_data.get("send_at")
            broadcast.time_zone = form.cleaned_data["zone"]
            if form.cleaned_data["when"] != "trigger":
                broadcast.trigger, broadcast.delay = None, None
            broadcast.save()
            form.save_m2m()
            if form.cleaned_data["when"] == "recurring":
                at = form.cleaned_data["repeat_time"]
                RecurringBroadcast.objects.create(definition=broadcast, minute=str(at.minute), hour=str(at.hour),
                                                  day_of_week=form.cleaned_data["repeat_days"] or "*",
                                                  time_zone=broadcast.time_zone, enabled=False,
                                                  created_by=request.user)
            transaction.on_commit(lambda: estimate_broadcast.delay(broadcast.pk, request.user.pk))
        return redirect("campaigns:broadcast_review", pk=broadcast.pk)
    return render(request, "campaigns/compose.html", {"form": form, "tokens": _token_picker()})


def _token_picker() -> dict:
    from .models import Link, LinkList, WordSpinner

    def remote(model):
        return model.objects.filter(enabled=True, remote_id__isnull=False).order_by("name")[:200]

    return {
        "fields": ["first_name", "last_name", "url", "custom", "custom1", "custom2", "custom3", "custom4",
                   "shorten_url", "unsubscription_link"],
        "links": remote(Link), "link_lists": remote(LinkList), "spinners": remote(WordSpinner),
    }


def review(request, pk):
    broadcast = get_object_or_404(Broadcast.objects.select_related("campaign", "template", "account"), pk=pk)
    if broadcast.state not in (Broadcast.State.DRAFT, Broadcast.State.ESTIMATED):
        return redirect("campaigns:broadcast_detail", pk=pk)
    body = broadcast_body(broadcast)
    objects = token_objects(broadcast.account)
    renderer = rendering.compile(body, context=render_context(broadcast.account, spinners=objects["spinners"]))
    if broadcast.type == Broadcast.Type.SINGLE:
        people = [{"phone": broadcast.recipient}]
    else:
        people = recipients_for_send(
            recipient_list_ids=list(broadcast.recipient_lists.values_list("pk", flat=True)),
            unsubscribe_list_ids=list(broadcast.unsubscribe_lists.values_list("pk", flat=True)),
        ).values(*RECIPIENT_FIELDS)[:PREVIEW_RECIPIENTS]
    previews = [(person["phone"], text, sms.count(text)) for person in people for text in [renderer(person)]]
    recurrence = RecurringBroadcast.objects.filter(definition=broadcast).first()
    return render(request, "campaigns/review.html", {
        "broadcast": broadcast, "previews": previews, "local": broadcast.local_estimate,
        "remote": broadcast.estimate, "recurrence": recurrence,
        "recurrence_text": describe_recurrence(recurrence) if recurrence else "",
        "errors": [p for p in broadcast.local_estimate.get("problems", []) if p["severity"] == rendering.ERROR],
        "estimating": broadcast.estimated_at is None, "problem": confirm_problem(broadcast),
        "public_base_url": settings.PUBLIC_BASE_URL,
        "own_links": tracking.uses_own_links(broadcast.account) and any(
            token.name in tracking.REDIRECTED | {tracking.OPT_OUT} for token in rendering.parse(body)),
    })


@require_POST
def re_estimate(request, pk):
    broadcast = get_object_or_404(Broadcast, pk=pk)
    if Broadcast.objects.filter(pk=pk, state__in=(Broadcast.State.DRAFT, Broadcast.State.ESTIMATED)).update(
            estimated_at=None):
        estimate_broadcast.delay(broadcast.pk, request.user.pk)
    return redirect("campaigns:broadcast_review", pk=pk)


@require_POST
def confirm(request, pk):
    broadcast = get_object_or_404(Broadcast.objects.select_related("account"), pk=pk)
    if problem := confirm_problem(broadcast):
        messages.error(request, problem)
        return redirect("campaigns:broadcast_review", pk=pk)
    recurrence = RecurringBroadcast.objects.filter(definition=broadcast).first()
    try:
        if recurrence is not None:
            recurrence.enabled = True
            recurring_broadcast_save(recurrence)
            messages.success(request, f"“{broadcast}” will go out {describe_recurrence(recurrence)}.")
            return redirect("campaigns:broadcast_list")
        if broadcast.send_at:
            broadcast_schedule(broadcast, send_at=broadcast.send_at, time_zone=broadcast.time_zone, actor=request.user)
            messages.success(request, f"Scheduled “{broadcast}”. You can cancel it until shortly before it goes out.")
        else:
            # Claimed first (a conditional update), so a second click or a replayed POST is refused
            # here instead of queuing a second submission.
            broadcast_transition_or_raise(broadcast, Broadcast.State.SCHEDULED, actor=request.user,
                                          reason="Confirmed: sending now")
            transaction.on_commit(lambda: submit_broadcast.delay(broadcast.pk, request.user.pk))
            messages.success(request, f"Sending “{broadcast}”.")
    except TransitionRefused as problem:
        messages.error(request, str(problem))
    return redirect(reverse("campaigns:broadcast_detail", args=[pk]))


@require_POST
def stop_recurrence(request, pk):
    recurrence = get_object_or_404(RecurringBroadcast, pk=pk)
    recurring_broadcast_stop(recurrence)
    messages.success(request, f"Stopped “{recurrence.definition}”. Broadcasts already sent are not affected.")
    return redirect("campaigns:broadcast_list")


def describe_recurrence(recurrence: RecurringBroadcast) -> str:
    days = {value: label.lower() for value, label in WEEKDAYS}.get(recurrence.day_of_week,
                                                                   f"on days {recurrence.day_of_week}")
    return f"{days} at {int(recurrence.hour):02d}:{int(recurrence.minute):02d} {recurrence.time_zone}"
