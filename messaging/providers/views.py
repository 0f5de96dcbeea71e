"""Pages for generic providers, their WhatsApp templates and inbound messages, and the two
provider-facing endpoints (delivery reports, inbound messages).

Pages are thin: forms validate, services write. The provider-facing endpoints follow the webhook
order — authenticate (the account's callback token, constant-time) → parse strictly → store →
apply — and answer 404 for an unknown token, 400 for a body the provider must fix, never a 500.
"""

import hmac
import logging

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied
from django.db import DatabaseError, IntegrityError
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from messaging.models import GenericProviderConfig, InboundMessage, ProviderAccount, WhatsAppTemplate

from . import inbound as inbound_service
from .generic import dlr
from .generic.forms import GenericProviderForm, TestSendForm
from .generic.presets import PRESETS, preset_choices
from .generic.request import TEMPLATE
from .generic.services import callback_urls, generic_test_send
from .whatsapp.forms import TemplateTestForm, WhatsAppTemplateForm
from .whatsapp.templates import template_object

logger = logging.getLogger(__name__)
MAX_CALLBACK_BYTES = 1024 * 1024


def _staff(request):
    if not request.user.is_staff:
        raise PermissionDenied("Only staff can change provider accounts.")


def _account(pk) -> ProviderAccount:
    return get_object_or_404(ProviderAccount.objects.select_related("generic"), pk=pk,
                             kind=ProviderAccount.Kind.GENERIC)


def generic_list(request):
    accounts = ProviderAccount.objects.filter(kind=ProviderAccount.Kind.GENERIC).select_related("generic")
    return render(request, "providers/list.html", {"accounts": accounts, "presets": preset_choices()})


def generic_create(request):
    _staff(request)
    preset = PRESETS.get(request.GET.get("preset", ""))
    if request.method == "POST":
        form = GenericProviderForm(request.POST, instance=GenericProviderConfig())
        if form.is_valid():
            config = form.save_account()
            messages.success(request, "Saved. Send a test message to check the integration.")
            return redirect("providers:test_send", config.account_id)
    else:
        initial = {k: v for k, v in (preset or {}).items() if k != "label"}
        form = GenericProviderForm(instance=GenericProviderConfig(), initial=initial)
    return render(request, "providers/form.html", {"form": form, "presets": preset_choices(), "preset": preset})


def generic_edit(request, pk):
    _staff(request)
    account = _account(pk)
    if request.method == "POST":
        form = GenericProviderForm(request.POST, instance=account.generic, account=account)
        if form.is_valid():
            form.save_account()
            messages.success(request, "Saved. Send a test message to check the changes.")
            return redirect("providers:detail", account.pk)
    else:
        form = GenericProviderForm(instance=account.generic, account=account)
    return render(request, "providers/form.html", {"form": form, "account": account})


def generic_detail(request, pk):
    account = _account(pk)
    return render(request, "providers/detail.html", {
        "account": account, "config": account.generic, "urls": callback_urls(account),
        "status_map": sorted((account.generic.dlr_status_map or {}).items()),
    })


def test_send(request, pk):
    _staff(request)
    account = _account(pk)
    outcome = None
    if request.method == "POST":
        form = TestSendForm(request.POST)
        if form.is_valid():
            outcome = generic_test_send(account=account, to=form.phone(), body=form.cleaned_data["message"])
    else:
        form = TestSendForm()
    return render(request, "providers/test_send.html", {"account": account, "form": form, "outcome": outcome})


# --- WhatsApp templates ------------------------------------------------------------------------------
def template_list(request, pk):
    account = _account(pk)
    return render(request, "providers/templates.html", {"account": account,
                                                        "templates": account.whatsapp_templates.all()})


def template_edit(request, pk, template_pk=None):
    _staff(request)
    account = _account(pk)
    template = (get_object_or_404(WhatsAppTemplate, pk=template_pk, account=account) if template_pk
                else WhatsAppTemplate(account=account))
    form = WhatsAppTemplateForm(request.POST or None, instance=template)
    if request.method == "POST" and form.is_valid():
        try:
            form.save()
        except IntegrityError:
            form.add_error("name", "This account already has a template with this name and language.")
        else:
            messages.success(request, f"Template {form.instance} saved.")
            return redirect("providers:templates", account.pk)
    return render(request, "providers/template_form.html", {"account": account, "form": form, "template": template})


def template_test(request, pk, template_pk):
    _staff(request)
    account = _account(pk)
    template = get_object_or_404(WhatsAppTemplate, pk=template_pk, account=account)
    outcome = None
    form = TemplateTestForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        payload = template_object(template, body_values=form.body_values(),
                                  header_value=form.cleaned_data["header_value"])
        outcome = generic_test_send(account=account, to=form.phone(), body=template.body,
                                    objects={TEMPLATE: payload})
    return render(request, "providers/test_send.html", {"account": account, "form": form, "outcome": outcome,
                                                        "template": template})


def inbound_list(request, pk):
    account = _account(pk)
    received = InboundMessage.objects.filter(account=account)[:200]
    return render(request, "providers/inbound.html", {"account": account, "received": received})


# --- sending progress and control (campaigns.dispatch) -------------------------------------------------
def broadcast_dispatch(request, pk):
    from campaigns import dispatch
    from campaigns.models import Broadcast

    broadcast = get_object_or_404(Broadcast.objects.select_related("account"), pk=pk,
                                  account__kind=ProviderAccount.Kind.GENERIC)
    if request.method == "POST":
        action = {"pause": dispatch.dispatch_pause, "resume": dispatch.dispatch_resume,
                  "cancel": dispatch.dispatch_cancel}.get(request.POST.get("action"))
        if action is None:
            raise Http404
        if not action(broadcast):
            messages.error(request, "The broadcast is not in a state that allows this.")
        return redirect("providers:broadcast_dispatch", broadcast.pk)
    progress = dispatch.dispatch_progress(broadcast)
    if request.headers.get("Accept") == "application/json":
        return JsonResponse(progress)
    return render(request, "providers/dispatch.html", {"broadcast": broadcast, "progress": progress})


# --- provider-facing endpoints -----------------------------------------------------------------------
def _account_for_token(token: str) -> ProviderAccount | None:
    account = (ProviderAccount.objects.select_related("generic")
               .filter(callback_token=token, kind=ProviderAccount.Kind.GENERIC, is_active=True).first())
    # The database finds the row; the comparison that decides is constant-time.
    if account is None or not hmac.compare_digest(account.callback_token.encode(), token.encode()):
        return None
    return account


def _error(status: int, reason: str) -> JsonResponse:
    return JsonResponse({"ok": False, "error": reason}, status=status)


@csrf_exempt
@login_not_required
def dlr_receive(request, token):
    account = _account_for_token(token)
    if account is None:
        return _error(404, "not found")
    if request.method not in ("GET", "POST"):
        return _error(405, "use GET or POST")
    if not account.generic.has_dlr:
        return _error(404, "delivery reports are not enabled for this account")
    body = request.body if request.method == "POST" else b""
    if len(body) > MAX_CALLBACK_BYTES:
        return _error(413, "body too large")
    try:
        records = dlr.records_from_request(method=request.method, content_type=request.content_type or "",
                                           body=body, query=request.GET.dict())
        reports, skipped = dlr.map_records(account.generic, records)
        dlr.reports_apply(account=account, reports=reports)
    except (dlr.Malformed, UnicodeDecodeError) as exc:
        return _error(400, str(exc) if isinstance(exc, dlr.Malformed) else "body is not UTF-8")
    except DatabaseError:
        logger.exception("Could not store a delivery report for account %s", account.pk)
        return _error(503, "try again")
    return JsonResponse({"ok": True, "applied": len(reports), "unmapped": skipped})


@csrf_exempt
@login_not_required
@require_POST
def inbound_receive(request, token):
    account = _account_for_token(token)
    if account is None:
        return _error(404, "not found")
    if len(request.body) > MAX_CALLBACK_BYTES:
        return _error(413, "body too large")
    try:
        stored = inbound_service.inbound_receive(account=account, raw=request.body)
    except inbound_service.Malformed as exc:
        return _error(400, str(exc))
    except DatabaseError:
        logger.exception("Could not store an inbound message for account %s", account.pk)
        return _error(503, "try again")
    return JsonResponse({"ok": True, "duplicate": stored is None})

