"""The compliance page of a provider account: its sending window, caps and keywords (editable), the
latest opt-outs with their proof, one number's consent history (CSV), manual changes and erasure.
Each action checks its model permission; the logic is in campaigns.policy and recipients.consent."""

import json

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from messaging import audit
from messaging.api_auth import api_token_required
from messaging.models import ProviderAccount, SendingPolicy
from recipients.consent import (
    consent_erase,
    consent_export_csv,
    consent_history,
    consent_record,
    optout_words_for,
    sending_policy_for,
)
from recipients.models import ConsentEvent
from recipients.phones import PhoneRejected, normalize_phone

LATEST = 50


class SendingPolicyForm(forms.ModelForm):
    class Meta:
        model = SendingPolicy
        fields = ["window_start", "window_end", "days", "country_windows", "cap_messages", "cap_hours",
                  "optout_words", "optin_words"]
        widgets = {"window_start": forms.TimeInput(attrs={"type": "time"}),
                   "window_end": forms.TimeInput(attrs={"type": "time"}),
                   "optout_words": forms.Textarea(attrs={"rows": 6}), "optin_words": forms.Textarea(attrs={"rows": 2})}
        help_texts = {
            "country_windows": 'Per country, e.g. {"GB": {"start": "09:00", "end": "20:00", "days": "01234"}}'}

    def clean_days(self):
        days = self.cleaned_data["days"].strip()
        if not days or any(c not in "0123456" for c in days):
            raise forms.ValidationError("Weekday digits, Monday = 0 … Sunday = 6, e.g. 01234 for weekdays.")
        return "".join(sorted(set(days)))

    def clean_country_windows(self):
        value = self.cleaned_data["country_windows"] or {}
        if not isinstance(value, dict):
            raise forms.ValidationError("A JSON object keyed by two-letter country codes.")
        for code, window in value.items():
            if not (isinstance(code, str) and len(code) == 2 and code.isalpha() and isinstance(window, dict)):
                raise forms.ValidationError(f"“{code}”: give a two-letter country code and an object.")
            try:
                start = forms.TimeField().clean(window.get("start", "00:00"))
                end = forms.TimeField().clean(window.get("end", "23:59"))
            except forms.ValidationError:
                raise forms.ValidationError(f"{code}: start and end are times such as 09:00.") from None
            if start >= end:
                raise forms.ValidationError(f"{code}: the window must end after it starts.")
        return {code.upper(): window for code, window in value.items()}

    def clean(self):
        data = super().clean()
        if data.get("window_start") and data.get("window_end") and data["window_start"] >= data["window_end"]:
            self.add_error("window_end", "The window must end after it starts (local time, same day).")
        return data


def _account(pk: int) -> ProviderAccount:
    return get_object_or_404(ProviderAccount.objects.select_related("generic"), pk=pk)


def _require(request, perm: str) -> None:
    if not request.user.has_perm(perm):
        raise PermissionDenied


def compliance_page(request, pk):
    _require(request, "messaging.view_sendingpolicy")
    account = _account(pk)
    policy = sending_policy_for(account)
    form = SendingPolicyForm(instance=policy)
    if request.method == "POST":
        _require(request, "messaging.change_sendingpolicy")
        if not policy.pk:
            policy = SendingPolicy(account=account)
        form = SendingPolicyForm(request.POST, instance=policy)
        if form.is_valid():
            form.save()
            messages.success(request, "Saved: every send path applies it from the next message on.")
            return redirect("campaigns:compliance", pk=account.pk)
    phone, history, phone_error = request.GET.get("phone", "").strip(), None, ""
    if phone:
        try:
            phone = normalize_phone(phone)
            history = list(consent_history(account=account, phone=phone))
        except PhoneRejected as exc:
            phone_error = str(exc)
    latest = (ConsentEvent.objects.filter(account=account, kind=ConsentEvent.Kind.OPT_OUT)
              .select_related("actor").order_by("-created_at", "-pk")[:LATEST])
    return render(request, "campaigns/compliance.html", {
        "account": account, "policy": policy, "form": form, "latest": latest,
        "optout_words": [w for w in optout_words_for(account).splitlines() if w.strip()],
        "generic_words": account.kind == ProviderAccount.Kind.GENERIC, "phone": phone, "history": history,
        "phone_error": phone_error, "kinds": ConsentEvent.Kind.choices,
    })


def consent_export(request, pk):
    _require(request, "recipients.view_consentevent")
    account = _account(pk)
    try:
        phone = normalize_phone(request.GET.get("phone", ""))
    except PhoneRejected as exc:
        messages.error(request, f"The number: {exc}")
        return redirect("campaigns:compliance", pk=account.pk)
    audit.record("export", account, detail=f"Consent records of {phone} as CSV")
    response = HttpResponse(consent_export_csv(phone=phone, account=account), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="consent-{phone}.csv"'
    return response


def consent_change(request, pk):
    """A manual opt-in or opt-out, with the user and their note as its proof."""
    _require(request, "recipients.add_consentevent")
    account = _account(pk)
    if request.method != "POST":
        return redirect("campaigns:compliance", pk=account.pk)
    kind, note = request.POST.get("kind", ""), request.POST.get("note", "").strip()[:500]
    try:
        phone = normalize_phone(request.POST.get("phone", ""))
    except PhoneRejected as exc:
        messages.error(request, f"The number: {exc}")
        return redirect("campaigns:compliance", pk=account.pk)
    if kind not in ConsentEvent.Kind.values or not note:
        messages.error(request, "Choose opt-in or opt-out and say why (the note is the proof).")
        return redirect("campaigns:compliance", pk=account.pk)
    consent_record(account=account, phones=[phone], kind=kind, source=ConsentEvent.Source.MANUAL,
                   evidence={"note": note}, actor=request.user)
    messages.success(request, f"Recorded: {phone} {ConsentEvent.Kind(kind).label.lower()}.")
    return redirect(reverse("campaigns:compliance", kwargs={"pk": account.pk}) + f"?phone={phone}")


def consent_erase_view(request, pk):
    _require(request, "recipients.erase_consentevent")
    account = _account(pk)
    if request.method == "POST":
        try:
            phone = normalize_phone(request.POST.get("phone", ""))
        except PhoneRejected as exc:
            messages.error(request, f"The number: {exc}")
        else:
            rows = consent_erase(phone=phone, actor=request.user)
            messages.success(request, f"Erased: {rows} ledger row(s) now hold a hash instead of the number; "
                                      "if it had opted out, it stays suppressed.")
    return redirect("campaigns:compliance", pk=account.pk)


# --- outside the dashboard: the API and the unsubscribe link -----------------------------------------
@api_token_required(scope="consent:write")
@require_POST
def api_consent(request):
    """`POST /api/consent` {"account": name, "phone": …, "kind": "opt_in" | "opt_out", "evidence": {…}}:
    a back-office system records a consent change; the token's user is the actor."""
    if not request.user.has_perm("recipients.add_consentevent"):
        return JsonResponse({"error": "This token's user may not record consent."}, status=403)
    try:
        body = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        body = None
    if not isinstance(body, dict):
        return JsonResponse({"error": "The body must be a JSON object."}, status=400)
    account = ProviderAccount.objects.filter(name=str(body.get("account") or "")).first()
    if account is None:
        return JsonResponse({"error": 'Give "account": the name of a provider account.'}, status=400)
    evidence = body.get("evidence") or {}
    if body.get("kind") not in ConsentEvent.Kind.values or not isinstance(evidence, dict):
        return JsonResponse({"error": '"kind" is "opt_in" or "opt_out"; "evidence" an object.'}, status=400)
    try:
        phone = normalize_phone(str(body.get("phone") or ""))
    except PhoneRejected as exc:
        return JsonResponse({"error": f"phone: {exc}"}, status=400)
    if len(json.dumps(evidence)) > 5000:
        return JsonResponse({"error": '"evidence" is limited to 5,000 characters.'}, status=400)
    consent_record(account=account, phones=[phone], kind=body["kind"], source=ConsentEvent.Source.API,
                   evidence=evidence, actor=request.user)
    return JsonResponse({"ok": True, "phone": phone, "kind": body["kind"]})
