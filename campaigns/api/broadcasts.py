"""Broadcasts: create (the compose form's rules), estimate, confirm (send now or at its time),
cancel, and status with figures — the same services and state machine as the dashboard."""

from datetime import datetime, time
from decimal import Decimal

from django.db import transaction
from django.shortcuts import get_object_or_404
from ninja import Router, Schema, Status

from ..compose import ComposeForm
from ..drafts import broadcast_compose_save
from ..estimates import confirm_problem, reconciled_estimate
from ..models import Broadcast
from ..scheduling import CONFIRMED_NOW, broadcast_cancel, broadcast_confirm
from ..selectors import OUTCOMES, broadcast_figures
from ..states import TransitionRefused
from ..tasks import estimate_broadcast, submit_broadcast
from .base import ApiError, IdempotencyKeyHeader, Scope, decorate_idempotent, form_errors

router = Router(tags=["broadcasts"])
EDITABLE = (Broadcast.State.DRAFT, Broadcast.State.ESTIMATED)


class NewBroadcast(Schema):
    """The compose page's fields; objects by id. `type`: 10 single, 11 base, 12 smart."""

    account: int | None = None
    name: str
    type: int = Broadcast.Type.BASE
    campaign: int | None = None
    senders: list[int] = []
    sender_lists: list[int] = []
    recipient_lists: list[int] = []
    unsubscribe_lists: list[int] = []
    recipient: str = ""
    body: str = ""
    template: int | None = None
    whatsapp_template: int | None = None
    when: str = "now"
    local_time: datetime | None = None
    zone: str = "UTC"
    repeat_days: str = ""
    repeat_time: time | None = None
    trigger: int | None = None
    delay: int | None = None
    window_start: time | None = None
    window_end: time | None = None
    eb_type: str = ""
    first_segment_size: int | None = None
    next_segment_size: int | None = None
    conversion_threshold: float | None = None
    recipient_cap: int | None = None
    exp_date: datetime | None = None
    templates: list[int] = []
    custom_parameter: str = ""


class Figures(Schema):
    recipients: int
    submitted: int
    delivered: int
    failed: int
    in_flight: int
    outcomes: dict[str, int]
    clicks_unique: int
    clicks_total: int
    delivery_rate: float | None
    click_rate: float | None
    cost: Decimal | None
    currency: str


class BroadcastOut(Schema):
    id: int
    name: str
    account: int
    type: int
    state: str
    is_final: bool
    send_at: datetime | None
    estimated: bool
    last_error: str
    figures: Figures


class EstimateOut(Schema):
    broadcast: int
    state: str
    ready: bool
    messages: int
    recipients: int
    parts: int
    cost: Decimal | None
    currency: str
    explanation: str
    problem: str


class Confirmed(Schema):
    broadcast: BroadcastOut
    outcome: str


class CancelIn(Schema):
    reason: str = ""


def broadcast_out(broadcast: Broadcast) -> dict:
    figures = broadcast_figures(broadcast)
    breakdown = {name.lower().replace(" ", "_"): count for name, count in figures["breakdown"]}
    return {
        "id": broadcast.pk, "name": broadcast.name, "account": broadcast.account_id, "type": broadcast.type,
        "state": broadcast.state, "is_final": broadcast.is_final, "send_at": broadcast.send_at,
        "estimated": broadcast.estimated_at is not None, "last_error": broadcast.last_error,
        "figures": {
            "recipients": figures["recipients"], "submitted": broadcast.sent, "delivered": broadcast.delivered,
            "failed": figures["failed"], "in_flight": breakdown.pop("in_flight"),
            "outcomes": {name: breakdown.get(name, 0) for name in OUTCOMES},
            "clicks_unique": broadcast.clicks_unique, "clicks_total": broadcast.clicks_total,
            "delivery_rate": figures["delivery_rate"], "click_rate": figures["click_rate"],
            "cost": figures["cost"], "currency": figures["currency"],
        },
    }


def _broadcast(broadcast_id: int) -> Broadcast:
    return get_object_or_404(Broadcast.objects.select_related("account", "account__generic"), pk=broadcast_id)


@router.get("/broadcasts", response=list[BroadcastOut], auth=Scope("broadcasts:read"), summary="Recent broadcasts")
def broadcasts_index(request, state: str = "", limit: int = 50):
    broadcasts = Broadcast.objects.select_related("account", "account__generic").order_by("-pk")
    if state:
        broadcasts = broadcasts.filter(state=state)
    return [broadcast_out(b) for b in broadcasts[:max(1, min(limit, 200))]]


@router.post("/broadcasts", response={201: BroadcastOut}, auth=Scope("broadcasts:write"),
             summary="Create a broadcast (a draft, estimated at once)")
def broadcast_create(request, payload: NewBroadcast):
    """Checked as the compose page checks it; the estimate runs in the background (poll
    `GET /broadcasts/{id}/estimate` until `ready`), then confirm."""
    data = {name: value for name, value in payload.dict().items() if value not in (None, "", [])}
    form = ComposeForm(data, user=request.user)
    if not form.is_valid():
        raise form_errors(form)
    with transaction.atomic():
        broadcast = broadcast_compose_save(form, actor=request.user)
        user_id = request.user.pk
        transaction.on_commit(lambda: estimate_broadcast.delay(broadcast.pk, user_id))
    return Status(201, broadcast_out(_broadcast(broadcast.pk)))


@router.get("/broadcasts/{int:broadcast_id}", response=BroadcastOut, auth=Scope("broadcasts:read"),
            summary="A broadcast's state and figures")
def broadcast_get(request, broadcast_id: int):
    return broadcast_out(_broadcast(broadcast_id))


def estimate_out(broadcast: Broadcast) -> dict:
    ready = broadcast.estimated_at is not None
    return {"broadcast": broadcast.pk, "state": broadcast.state, "ready": ready, **reconciled_estimate(broadcast),
            "problem": confirm_problem(broadcast) if broadcast.state in EDITABLE else ""}


@router.get("/broadcasts/{int:broadcast_id}/estimate", response=EstimateOut, auth=Scope("broadcasts:read"),
            summary="The estimate to confirm")
def broadcast_estimate_get(request, broadcast_id: int):
    """Messages, SMS parts and cost as the review page shows them; `problem` says why it can't be
    confirmed yet ("" when it can)."""
    return estimate_out(_broadcast(broadcast_id))


@router.post("/broadcasts/{int:broadcast_id}/estimate", response={202: EstimateOut}, auth=Scope("broadcasts:write"),
             summary="Estimate again")
def broadcast_estimate_again(request, broadcast_id: int):
    broadcast = _broadcast(broadcast_id)
    if not Broadcast.objects.filter(pk=broadcast.pk, state__in=EDITABLE).update(estimated_at=None):
        raise ApiError(409, f"“{broadcast}” is {broadcast.get_state_display().lower()}: only drafts and estimated "
                            f"broadcasts are estimated.")
    user_id = request.user.pk
    transaction.on_commit(lambda: estimate_broadcast.delay(broadcast.pk, user_id))
    broadcast.estimated_at = None
    return Status(202, estimate_out(broadcast))


@router.post("/broadcasts/{int:broadcast_id}/confirm", response=Confirmed, auth=Scope("broadcasts:send"),
             summary="Confirm: send now, or at its time")
@decorate_idempotent
def broadcast_confirm_view(request, broadcast_id: int, idempotency_key: str = IdempotencyKeyHeader):
    """Needs a finished estimate without errors. `outcome`: sending, scheduled or recurring. A
    second confirmation is refused (409); a retry with the same Idempotency-Key gets the first answer."""
    broadcast = _broadcast(broadcast_id)
    try:
        outcome = broadcast_confirm(broadcast, actor=request.user)
    except TransitionRefused as exc:
        raise ApiError(409, str(exc)) from None
    if outcome == CONFIRMED_NOW:
        user_id = request.user.pk
        transaction.on_commit(lambda: submit_broadcast.delay(broadcast.pk, user_id))
    return {"broadcast": broadcast_out(_broadcast(broadcast.pk)), "outcome": outcome}


@router.post("/broadcasts/{int:broadcast_id}/cancel", response=BroadcastOut, auth=Scope("broadcasts:send"),
             summary="Cancel before it goes out")
def broadcast_cancel_view(request, broadcast_id: int, payload: CancelIn | None = None):
    broadcast = _broadcast(broadcast_id)
    try:
        broadcast_cancel(broadcast, actor=request.user, reason=(payload.reason.strip() if payload else "")
                         or "Cancelled through the API")
    except TransitionRefused as exc:
        raise ApiError(409, str(exc)) from None
    return broadcast_out(_broadcast(broadcast.pk))
