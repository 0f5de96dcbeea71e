"""The webhooks pages: thin; delivery.py does the work.

Reading (endpoints, the outbox, the delivery log) needs messaging.view_webhookendpoint; creating
needs add_webhookendpoint, and every change (edit, rotate the secret, redeliver, send a test,
resume after a pause) change_webhookendpoint. A secret is shown once, on the page right after it
was made (it travels through the session, popped on first display), and never again.
"""

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from . import delivery
from .forms import WebhookEndpointForm
from .models import WebhookAttempt, WebhookEndpoint, WebhookMessage

VIEW, ADD, CHANGE = ("messaging.view_webhookendpoint", "messaging.add_webhookendpoint",
                     "messaging.change_webhookendpoint")
ONCE = "webhook_secret_once"  # session key of a secret to show once
P = WebhookMessage.State


def _show_secret_once(request, endpoint: WebhookEndpoint, secret: str) -> None:
    request.session[ONCE] = {"endpoint": endpoint.pk, "secret": secret}


@permission_required(VIEW, raise_exception=True)
def endpoint_list(request):
    endpoints = WebhookEndpoint.objects.annotate(
        pending=Count("messages", filter=Q(messages__state__in=[P.PENDING, P.SENDING])),
        failed=Count("messages", filter=Q(messages__state=P.FAILED)))
    return render(request, "messaging/webhooks/list.html", {"endpoints": endpoints})


@permission_required(ADD, raise_exception=True)
def endpoint_create(request):
    form = WebhookEndpointForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        endpoint = form.save(commit=False)
        secret = delivery.endpoint_create(endpoint=endpoint, user=request.user)
        _show_secret_once(request, endpoint, secret)
        return redirect("webhooks:detail", endpoint.pk)
    return render(request, "messaging/webhooks/form.html", {"form": form})


@permission_required(CHANGE, raise_exception=True)
def endpoint_edit(request, pk):
    endpoint = get_object_or_404(WebhookEndpoint, pk=pk)
    form = WebhookEndpointForm(request.POST or None, instance=endpoint)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, "Saved.")
        return redirect("webhooks:detail", endpoint.pk)
    return render(request, "messaging/webhooks/form.html", {"form": form, "endpoint": endpoint})


@permission_required(VIEW, raise_exception=True)
def endpoint_detail(request, pk):
    endpoint = get_object_or_404(WebhookEndpoint, pk=pk)
    once = request.session.pop(ONCE, None)
    secret = once["secret"] if once and once.get("endpoint") == endpoint.pk else None
    state = request.GET.get("state", "")
    outbox = endpoint.messages.order_by("-pk")
    if state in P.values:
        outbox = outbox.filter(state=state)
    return render(request, "messaging/webhooks/detail.html", {
        "endpoint": endpoint, "secret": secret, "state": state, "states": P.choices,
        "outbox": Paginator(outbox.defer("body"), 50).get_page(request.GET.get("page")),
        "attempts": endpoint.attempts.order_by("-created_at", "-pk")[:50],
    })


@permission_required(VIEW, raise_exception=True)
def attempt_detail(request, pk, attempt_pk):
    attempt = get_object_or_404(WebhookAttempt, pk=attempt_pk, endpoint_id=pk)
    return render(request, "messaging/webhooks/attempt.html", {"endpoint": attempt.endpoint, "attempt": attempt})


@require_POST
@permission_required(CHANGE, raise_exception=True)
def secret_rotate(request, pk):
    endpoint = get_object_or_404(WebhookEndpoint, pk=pk)
    _show_secret_once(request, endpoint, delivery.secret_rotate(endpoint=endpoint))
    messages.success(request, "New secret made. The previous one keeps signing beside it for 24 hours.")
    return redirect("webhooks:detail", endpoint.pk)


@require_POST
@permission_required(CHANGE, raise_exception=True)
def message_redeliver(request, pk, message_pk):
    message = get_object_or_404(WebhookMessage, pk=message_pk, endpoint_id=pk)
    delivery.message_redeliver(message=message)
    messages.success(request, f"Event {message.event_id} queued for delivery again.")
    return redirect("webhooks:detail", pk)


@require_POST
@permission_required(CHANGE, raise_exception=True)
def test_send(request, pk):
    endpoint = get_object_or_404(WebhookEndpoint, pk=pk)
    delivery.test_send(endpoint=endpoint, user=request.user)
    messages.success(request, "A webhook.test event is on its way: it appears in the delivery log below.")
    return redirect("webhooks:detail", endpoint.pk)


@require_POST
@permission_required(CHANGE, raise_exception=True)
def endpoint_resume(request, pk):
    endpoint = get_object_or_404(WebhookEndpoint, pk=pk)
    delivery.endpoint_resume(endpoint=endpoint)
    messages.success(request, "Resumed: delivery starts again with the next run.")
    return redirect("webhooks:detail", endpoint.pk)
