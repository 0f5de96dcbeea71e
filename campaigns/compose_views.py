"""Compose → review (preview, estimates, confirmation) → send now, schedule, or repeat."""

import zoneinfo

from django.conf import settings
from django.contrib import messages
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from recipients.models import RecipientList
from recipients.selectors import column_tokens, recipients_for_send

from . import policy, rendering, sms, tracking
from .abtests import abtest_of, abtest_remove, abtest_save
from .compose import WEEKDAYS, ComposeForm, SendTestForm
from .drafts import (
    DraftProblem,
    broadcast_compose_save,
    broadcast_delete,
    broadcast_duplicate,
    broadcast_test_send,
    draft_problem,
    sending_profile,
)
from .estimates import (
    RECIPIENT_FIELDS,
    broadcast_body,
    confirm_problem,
    reconciled_estimate,
    render_context,
    token_objects,
)
from .models import Broadcast, RecurringBroadcast
from .scheduling import CONFIRMED_RECURRING, CONFIRMED_SCHEDULED, broadcast_confirm, recurring_broadcast_stop
from .states import TransitionRefused
from .tasks import estimate_broadcast, submit_broadcast

PREVIEW_RECIPIENTS = 3


def compose(request, pk=None):
    """A new broadcast, or (with `pk`) changes to a draft; both go on to the review and its estimate."""
    editing = None
    if pk is not None:
        editing = get_object_or_404(Broadcast, pk=pk)
        if problem := draft_problem(editing):
            messages.error(request, problem)
            return redirect("campaigns:broadcast_detail", pk=pk)
    test = abtest_of(editing) if editing else None
    form = ComposeForm(request.POST or None, instance=editing, initial={**_when_initial(editing), **_ab_initial(test)},
                       user=request.user, variants_initial=_variants_initial(test))
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            try:
                broadcast = broadcast_compose_save(form, actor=request.user, editing=editing)
            except DraftProblem as problem:
                messages.error(request, str(problem))
                return redirect("campaigns:broadcast_detail", pk=pk)
            data = form.cleaned_data
            if data["ab_test"]:
                abtest_save(broadcast, share=data["ab_share"], metric=data["ab_metric"],
                            decide_after=data["ab_decide_after"], variants=data["ab_variants"])
            else:
                abtest_remove(broadcast)
            transaction.on_commit(lambda: estimate_broadcast.delay(broadcast.pk, request.user.pk))
        return redirect("campaigns:broadcast_review", pk=broadcast.pk)
    return render(request, "campaigns/compose.html", {"form": form, "tokens": _token_picker(), "editing": editing})


def _ab_initial(test) -> dict:
    if test is None:
        return {}
    return {"ab_test": True, "ab_share": test.share, "ab_metric": test.metric,
            "ab_hours": round(test.decide_after.total_seconds() / 3600, 2)}


def _variants_initial(test) -> list[dict] | None:
    """Variants B to D of a draft's test as the compose form shows them (A is the broadcast itself)."""
    if test is None:
        return None
    return [{"body": v.body, "template": v.template, "senders": list(v.senders.all()),
             "sender_lists": list(v.sender_lists.all())} for v in test.variants.exclude(label="A")]


def _when_initial(broadcast: Broadcast | None) -> dict:
    """The compose form's "when" fields as a draft being edited was saved with."""
    if broadcast is None:
        return {}
    recurrence = RecurringBroadcast.objects.filter(definition=broadcast).first()
    if recurrence is not None:
        return {"when": "recurring", "zone": recurrence.time_zone, "repeat_days": recurrence.day_of_week,
                "repeat_time": f"{int(recurrence.hour):02d}:{int(recurrence.minute):02d}"}
    if broadcast.trigger_id:
        return {"when": "trigger"}
    if broadcast.send_at:
        local = timezone.localtime(broadcast.send_at, zoneinfo.ZoneInfo(broadcast.time_zone))
        return {"when": "later", "zone": broadcast.time_zone, "local_time": local.replace(tzinfo=None)}
    return {"when": "now"}


@require_POST
def duplicate(request, pk):
    broadcast = get_object_or_404(Broadcast, pk=pk)
    copy = broadcast_duplicate(broadcast, actor=request.user)
    messages.success(request, f"Made “{copy}”, a draft: change what you need, then preview and estimate.")
    return redirect("campaigns:broadcast_edit", pk=copy.pk)


def delete(request, pk):
    """Asks first (GET), deletes on POST."""
    broadcast = get_object_or_404(Broadcast, pk=pk)
    if problem := draft_problem(broadcast):
        messages.error(request, problem)
        return redirect("campaigns:broadcast_detail", pk=pk)
    if request.method == "POST":
        try:
            broadcast_delete(broadcast, actor=request.user)
        except DraftProblem as problem:
            messages.error(request, str(problem))
            return redirect("campaigns:broadcast_detail", pk=pk)
        messages.success(request, f"Deleted the draft “{broadcast}”.")
        return redirect("campaigns:broadcast_list")
    return render(request, "campaigns/delete.html", {"broadcast": broadcast})


def test_send(request, pk):
    """Send the broadcast's message to the user's own number or a seed list, as a broadcast of its own."""
    broadcast = get_object_or_404(Broadcast.objects.select_related("account"), pk=pk)
    profile = sending_profile(request.user)
    form = SendTestForm(request.POST or None, initial={"to": "seed" if profile.seed_list and not profile.phone
                                                       else "me", "phone": profile.phone,
                                                       "seed_list": profile.seed_list})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            test = broadcast_test_send(broadcast, phone=data["phone"] if data["to"] == "me" else "",
                                       seed_list=data["seed_list"] if data["to"] == "seed" else None,
                                       actor=request.user)
        except DraftProblem as problem:
            form.add_error(None, str(problem))
        else:
            transaction.on_commit(lambda: submit_broadcast.delay(test.pk, request.user.pk))
            messages.success(request, f"Sending the test “{test}”. “{broadcast}” itself is not sent or changed.")
            return redirect("campaigns:broadcast_detail", pk=test.pk)
    return render(request, "campaigns/test_send.html", {"broadcast": broadcast, "form": form})


def _token_picker() -> dict:
    from .models import Link, LinkList, WordSpinner

    def remote(model):
        return model.objects.filter(enabled=True, remote_id__isnull=False).order_by("name")[:200]

    return {
        "fields": ["first_name", "last_name", "url", "custom", "custom1", "custom2", "custom3", "custom4",
                   "shorten_url", "unsubscription_link"],
        "links": remote(Link), "link_lists": remote(LinkList), "spinners": remote(WordSpinner),
        "columns": sorted(column_tokens(recipient_list_ids=RecipientList.objects.filter(enabled=True)
                                        .values_list("pk", flat=True)).keys() - rendering.TOKEN_NAMES),
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
        "remote": broadcast.estimate, "estimate": reconciled_estimate(broadcast), "recurrence": recurrence,
        "recurrence_text": describe_recurrence(recurrence) if recurrence else "",
        "errors": [p for p in broadcast.local_estimate.get("problems", []) if p["severity"] == rendering.ERROR],
        "estimating": broadcast.estimated_at is None, "problem": confirm_problem(broadcast),
        "public_base_url": settings.PUBLIC_BASE_URL,
        "own_links": tracking.uses_own_links(broadcast.account) and any(
            token.name in tracking.REDIRECTED | {tracking.OPT_OUT} for token in rendering.parse(body)),
        "outlook": policy.broadcast_outlook(broadcast),
        "ab": abtest_of(broadcast),
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
    try:
        outcome = broadcast_confirm(broadcast, actor=request.user)
    except TransitionRefused as problem:
        messages.error(request, str(problem))
        return redirect(reverse("campaigns:broadcast_detail", args=[pk]))
    if outcome == CONFIRMED_RECURRING:
        recurrence = RecurringBroadcast.objects.get(definition=broadcast)
        messages.success(request, f"“{broadcast}” will go out {describe_recurrence(recurrence)}.")
        return redirect("campaigns:broadcast_list")
    if outcome == CONFIRMED_SCHEDULED:
        messages.success(request, f"Scheduled “{broadcast}”. You can cancel it until shortly before it goes out.")
    else:
        transaction.on_commit(lambda: submit_broadcast.delay(broadcast.pk, request.user.pk))
        messages.success(request, f"Sending “{broadcast}”.")
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
