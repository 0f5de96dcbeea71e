"""Pages for generic providers, their WhatsApp templates and inbound messages.

Pages are thin: forms validate, services write. The endpoints providers call are in
callbacks.provider_views, sending progress in campaigns.broadcast_views.
"""

import logging

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError
from django.shortcuts import get_object_or_404, redirect, render

from messaging.models import CountryPrice, GenericProviderConfig, InboundMessage, ProviderAccount, WhatsAppTemplate
from messaging.permissions import CALLBACK_URLS
from messaging.prices import price_table_save

from .generic.forms import GenericProviderForm, PriceTableForm, TestSendForm
from .generic.presets import preset_choices, preset_values
from .generic.request import TEMPLATE
from .generic.services import callback_urls, generic_test_send
from .whatsapp.forms import TemplateTestForm, WhatsAppTemplateForm

logger = logging.getLogger(__name__)
MAX_CALLBACK_BYTES = 1024 * 1024


VIEW = "messaging.view_genericproviderconfig"
CHANGE = "messaging.change_genericproviderconfig"


def _allowed(request, *perms):
    """Model permissions, not is_staff: a test send uses the stored credentials, so only those
    who may change the provider can send one."""
    if not request.user.has_perms(perms):
        raise PermissionDenied("You do not have permission to do this with HTTP providers.")


def _account(pk) -> ProviderAccount:
    return get_object_or_404(ProviderAccount.objects.select_related("generic"), pk=pk,
                             kind=ProviderAccount.Kind.GENERIC)


def generic_list(request):
    _allowed(request, VIEW)
    accounts = ProviderAccount.objects.filter(kind=ProviderAccount.Kind.GENERIC).select_related("generic")
    return render(request, "providers/list.html", {"accounts": accounts, "presets": preset_choices()})


def generic_create(request):
    _allowed(request, "messaging.add_provideraccount", "messaging.add_genericproviderconfig")
    preset = preset_values(request.GET.get("preset", ""))
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
    _allowed(request, CHANGE)
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
    _allowed(request, VIEW)
    account = _account(pk)
    urls = callback_urls(account) if request.user.has_perm(CALLBACK_URLS) else None
    return render(request, "providers/detail.html", {
        "account": account, "config": account.generic, "urls": urls,
        "prices": CountryPrice.objects.filter(account=account),
        "status_map": sorted((account.generic.dlr_status_map or {}).items()),
    })


PRICES_CHANGE = "messaging.change_provideraccount"


def prices_edit(request, pk):
    """The account's price per SMS part by country (what its messages are priced at when sent)."""
    _allowed(request, VIEW, PRICES_CHANGE)
    account = _account(pk)
    if request.method == "POST":
        form = PriceTableForm(request.POST)
        if form.is_valid():
            price_table_save(account=account, currency=form.cleaned_data["currency"],
                             default=form.cleaned_data["default_price"], prices=form.cleaned_data["prices_text"])
            messages.success(request, "Prices saved: messages sent from now on are priced with them.")
            return redirect("providers:detail", account.pk)
    else:
        lines = "\n".join(f"{p.country} {p.price_per_part}" for p in CountryPrice.objects.filter(account=account))
        form = PriceTableForm(initial={"currency": account.currency, "prices_text": lines,
                                       "default_price": account.default_price_per_part})
    return render(request, "providers/prices.html", {"account": account, "form": form})


def test_send(request, pk):
    _allowed(request, CHANGE)
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
    _allowed(request, "messaging.view_whatsapptemplate")
    account = _account(pk)
    return render(request, "providers/templates.html", {"account": account,
                                                        "templates": account.whatsapp_templates.all()})


def template_edit(request, pk, template_pk=None):
    _allowed(request, "messaging.change_whatsapptemplate" if template_pk else "messaging.add_whatsapptemplate")
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
    _allowed(request, CHANGE)
    account = _account(pk)
    template = get_object_or_404(WhatsAppTemplate, pk=template_pk, account=account)
    outcome = None
    form = TemplateTestForm(request.POST or None, template=template)
    if request.method == "POST" and form.is_valid():
        outcome = generic_test_send(account=account, to=form.phone(), body=template.body,
                                    objects={TEMPLATE: form.cleaned_data["payload"]})
    return render(request, "providers/test_send.html", {"account": account, "form": form, "outcome": outcome,
                                                        "template": template})


def inbound_list(request, pk):
    _allowed(request, "messaging.view_inboundmessage")
    account = _account(pk)
    received = InboundMessage.objects.filter(account=account)[:200]
    return render(request, "providers/inbound.html", {"account": account, "received": received})
