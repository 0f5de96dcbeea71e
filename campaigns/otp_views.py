"""OTP from the dashboard (a page with two forms) and as a JSON API for back-office systems.

POST /api/otp/send    {"phone": "380501234567", "sender": "ShopCo", "message": "Code: {{verification_code}}",
                       "campaign": 12, "template": 3?, "account": "Main"?}  → 200 {"broadcast": id}
POST /api/otp/verify  {"phone": "380501234567", "code": "1234", "account": "Main"?} → 200 {"valid": bool}
Authenticated with `Authorization: Bearer <API token>` with the scope otp:send (tokens: the "API tokens" page).
The same, with idempotency keys and field-path errors: /api/v1/otp/send and /api/v1/otp/verify.
"""


from django import forms
from django.contrib import messages
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from messaging import safejson
from messaging.api_auth import api_token_required
from messaging.models import ProviderAccount, Sender

from .models import Campaign
from .otp import OtpProblem, messagewhiz_account, otp_objects, otp_send, otp_verify
from .singles import FAST, MAX_PASTED, TINY, SingleProblem, pasted_send, single_send


class OtpSendForm(forms.Form):
    account = forms.ModelChoiceField(ProviderAccount.objects.filter(is_active=True), required=False,
                                     empty_label="The only account")
    # Chosen every time: codes counted under whichever campaign happened to be newest would skew
    # that campaign's figures and bills.
    campaign = forms.ModelChoiceField(Campaign.objects.filter(enabled=True, remote_id__isnull=False),
                                      help_text="The campaign the codes are sent and counted under")
    sender = forms.ModelChoiceField(Sender.objects.filter(enabled=True, remote_id__isnull=False))
    phone = forms.CharField(max_length=32, help_text="International format, e.g. 380501234567")
    message = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), initial="Your code: {{verification_code}}",
                              help_text="Must contain {{verification_code}}")


class SingleForm(forms.Form):
    sender = forms.CharField(max_length=20, help_text="Up to 11 letters or 20 digits, as recipients will see it")
    phone = forms.CharField(max_length=32, help_text="International format, e.g. 380501234567")
    text = forms.CharField(widget=forms.Textarea(attrs={"rows": 3, "data-sms-counter": "single-count"}),
                           label="Message")
    endpoint = forms.ChoiceField(label="Send through", initial=FAST, widget=forms.RadioSelect, choices=[
        (FAST, "Fast single: its delivery report comes straight back to this message"),
        (TINY, "Tiny single (MessageWhiz's older endpoint): its report comes through “DLR to webhook”"),
    ])


class PastedForm(forms.Form):
    name = forms.CharField(max_length=200, required=False, help_text="Optional; shown in the broadcast list")
    sender = forms.CharField(max_length=20, help_text="Up to 11 letters or 20 digits, as recipients will see it")
    numbers = forms.CharField(widget=forms.Textarea(attrs={"rows": 5}), label="Phone numbers",
                              help_text=f"One per line (or separated by commas), international format; "
                                        f"up to {MAX_PASTED:,}")
    text = forms.CharField(widget=forms.Textarea(attrs={"rows": 3, "data-sms-counter": "pasted-count"}),
                           label="Message")


class OtpVerifyForm(forms.Form):
    phone = forms.CharField(max_length=32)
    code = forms.CharField(max_length=10)


def otp_page(request):
    """Four forms on one page; a POST names its form by a field of its prefix (verify otherwise)."""
    forms_ = {prefix: form_class(prefix=prefix) for prefix, (form_class, _, _) in PAGE_ACTIONS.items()}
    if request.method == "POST":
        prefix = next((prefix for prefix, (_, field, _) in PAGE_ACTIONS.items()
                       if field and f"{prefix}-{field}" in request.POST), "verify")
        form_class, _, act = PAGE_ACTIONS[prefix]
        form = forms_[prefix] = form_class(request.POST, prefix=prefix)
        if form.is_valid():
            try:
                return act(request, form.cleaned_data)
            except (OtpProblem, SingleProblem) as problem:
                form.add_error(None, str(problem))
    return render(request, "campaigns/otp.html", {f"{prefix}_form": form for prefix, form in forms_.items()})


def _send_single(request, data):
    message = single_send(account=messagewhiz_account(None), sender=data["sender"], phone=data["phone"],
                          text=data["text"], endpoint=data["endpoint"], actor=request.user)
    return _sent(request, message.broadcast, f"Message to {message.phone} sent; its delivery report will show on "
                                             f"“{message.broadcast}”.")


def _send_pasted(request, data):
    broadcast = pasted_send(account=messagewhiz_account(None), sender=data["sender"], numbers=data["numbers"],
                            text=data["text"], name=data["name"], actor=request.user)
    return _sent(request, broadcast, f"Sent to {broadcast.recipients_count} numbers; delivery reports will show on "
                                     f"“{broadcast}”.")


def _send_code(request, data):
    account = data["account"] or messagewhiz_account(None)
    if data["campaign"].account_id != account.pk:
        raise OtpProblem(f"The campaign “{data['campaign']}” belongs to another account.")
    sent = otp_send(account=account, campaign=data["campaign"],
                    sender=data["sender"], phone=data["phone"], body=data["message"], actor=request.user)
    messages.success(request, f"Code sent to {sent.broadcast.recipient}.")
    return redirect("campaigns:otp")


def _verify_code(request, data):
    valid = otp_verify(account=messagewhiz_account(None), phone=data["phone"], code=data["code"])
    level = messages.SUCCESS if valid else messages.ERROR
    messages.add_message(request, level, "The code is valid." if valid else "The code is not valid.")
    return redirect("campaigns:otp")


# prefix → (form, the field whose presence names it in a POST, what a valid POST does)
PAGE_ACTIONS = {
    "single": (SingleForm, "phone", _send_single),
    "pasted": (PastedForm, "numbers", _send_pasted),
    "send": (OtpSendForm, "phone", _send_code),
    "verify": (OtpVerifyForm, None, _verify_code),
}


def _sent(request, broadcast, success: str):
    """After a send: the broadcast's page, with why its outcome is unclear if it is."""
    if broadcast.last_error:
        messages.warning(request, broadcast.last_error)
    else:
        messages.success(request, success)
    return redirect("campaigns:broadcast_detail", pk=broadcast.pk)


def _json_body(request) -> dict:
    try:
        body = safejson.loads(request.body or b"{}")
    except safejson.JSONError as exc:
        raise OtpProblem("The body must be a JSON object.") from exc
    if not isinstance(body, dict):
        raise OtpProblem("The body must be a JSON object.")
    return body


def _api(handler):
    @api_token_required(scope="otp:send")
    @require_POST
    def view(request):
        try:
            return JsonResponse(handler(request, _json_body(request)))
        except OtpProblem as problem:
            return JsonResponse({"error": str(problem)}, status=problem.status)

    return view


@_api
def api_otp_send(request, body):
    account = messagewhiz_account(body.get("account"))
    sent = otp_send(account=account, **otp_objects(account, sender=body.get("sender"), campaign=body.get("campaign"),
                                                    template=body.get("template")),
                    phone=str(body.get("phone") or ""), body=str(body.get("message") or ""), actor=request.user)
    return {"broadcast": sent.broadcast.pk, "remote_id": sent.remote_id}


@_api
def api_otp_verify(request, body):
    return {"valid": otp_verify(account=messagewhiz_account(body.get("account")), phone=str(body.get("phone") or ""),
                                code=str(body.get("code") or ""))}
