"""The Approvals page, and approving or rejecting a broadcast that waits (campaigns.approvals)."""

from django.contrib import messages
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from messaging.permissions import permission_required_for

from .approvals import APPROVE, ApprovalRefused, awaiting_approval, broadcast_approve, broadcast_reject
from .estimates import reconciled_estimate
from .models import Broadcast
from .tasks import submit_broadcast


@permission_required_for("campaigns.view_broadcast")
def approvals(request):
    waiting = list(awaiting_approval()[:200])
    rows = [(broadcast, reconciled_estimate(broadcast), broadcast.created_by_id == request.user.pk)
            for broadcast in waiting]
    return render(request, "campaigns/approvals.html", {"rows": rows})


@permission_required_for(APPROVE)
@require_POST
def approve(request, pk):
    broadcast = get_object_or_404(Broadcast.objects.select_related("account", "created_by"), pk=pk)
    try:
        send_now = broadcast_approve(broadcast, actor=request.user)
    except ApprovalRefused as problem:
        messages.error(request, str(problem))
        return redirect("campaigns:broadcast_detail", pk=pk)
    if send_now:
        transaction.on_commit(lambda: submit_broadcast.delay(broadcast.pk, request.user.pk))
        messages.success(request, f"Approved “{broadcast}”: sending now.")
    else:
        messages.success(request, f"Approved “{broadcast}”: it goes out as its composer confirmed it.")
    return redirect("campaigns:broadcast_detail", pk=pk)


@permission_required_for(APPROVE)
@require_POST
def reject(request, pk):
    broadcast = get_object_or_404(Broadcast.objects.select_related("account"), pk=pk)
    try:
        broadcast_reject(broadcast, actor=request.user, reason=request.POST.get("reason", ""))
    except ApprovalRefused as problem:
        messages.error(request, str(problem))
    else:
        messages.success(request, f"Rejected “{broadcast}”: it is a draft again, with your reason on its page.")
    return redirect("campaigns:broadcast_detail", pk=pk)
