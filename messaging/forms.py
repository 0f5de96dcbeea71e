from django import forms
from django.conf import settings

from .models import RETRY_STATUSES, ProviderAccount, Sender, SenderList
from .netguard import AddressRefused, check_url, destination

RETRY_POLICY_FIELDS = ["retry_statuses", "retry_no_report_minutes", "retry_wait_minutes", "retry_account",
                       "retry_sender", "retry_sender_list"]


def retry_fields_setup(form: forms.ModelForm) -> None:
    """The retry policy's fields on a form (the account's default, or a broadcast's own)."""
    f = form.fields
    f["retry_statuses"] = forms.MultipleChoiceField(
        choices=RETRY_STATUSES, required=False, widget=forms.CheckboxSelectMultiple,
        label="Final statuses that count as undelivered", initial=[value for value, _ in RETRY_STATUSES])
    f["retry_account"].queryset = ProviderAccount.objects.filter(is_active=True)
    f["retry_sender"].queryset = Sender.objects.filter(enabled=True).select_related("account")
    f["retry_sender_list"].queryset = SenderList.objects.filter(enabled=True).select_related("account")
    f["retry_sender"].help_text = "MessageWhiz routes: a sender of the retry account"
    f["retry_wait_minutes"].required = False
    f["retry_wait_minutes"].help_text = ("Generic accounts: after each undelivered report; MessageWhiz accounts: "
                                         "after sending, once, to every number undelivered by then")
    f["retry_no_report_minutes"].help_text = (
        f"Only messages the provider took and never reported on at all; at least "
        f"{settings.RETRY_NO_REPORT_MIN_MINUTES} minutes (a carrier may still deliver before then)")


def retry_policy_clean(form: forms.Form, data: dict, *, account: ProviderAccount | None, enabled: bool) -> None:
    """Field errors for a retry policy that is on: it must name something to retry and a route
    that differs from the original one, and a sender of the account it goes through."""
    if data.get("retry_wait_minutes") is None:
        data["retry_wait_minutes"] = ProviderAccount._meta.get_field("retry_wait_minutes").default
    if not enabled:
        return
    route = data.get("retry_account") or account
    sender, sender_list = data.get("retry_sender"), data.get("retry_sender_list")
    if not (data.get("retry_statuses") or data.get("retry_no_report_minutes") is not None):
        form.add_error("retry_statuses", "Choose the statuses to retry, or a time after which no report counts.")
    no_report = data.get("retry_no_report_minutes")
    if no_report is not None and no_report < settings.RETRY_NO_REPORT_MIN_MINUTES:
        form.add_error("retry_no_report_minutes", f"At least {settings.RETRY_NO_REPORT_MIN_MINUTES} minutes: until "
                                                  "then the provider may still deliver it.")
    if account is not None and account.kind == ProviderAccount.Kind.GENERIC:
        config = getattr(account, "generic", None)
        if config is not None and not config.has_dlr:
            form.add_error("retry_statuses", "This provider sends no delivery reports, so nothing is known to be "
                                             "undelivered: turn its reports on first.")
    if route is None:
        return
    for name, value in (("retry_sender", sender), ("retry_sender_list", sender_list)):
        if value is None:
            continue
        if route.kind != ProviderAccount.Kind.MESSAGEWHIZ:
            form.add_error(name, "An HTTP provider's sender is set in its request configuration: choose another "
                                 "account instead.")
        elif value.account_id != route.pk:
            form.add_error(name, f"Choose one of {route}'s own.")
    if (account is None or route.pk == account.pk) and not (sender or sender_list):
        form.add_error("retry_account", "The retry needs another route: choose another account, a sender or a "
                                        "sender list.")


class ProviderAccountForm(forms.ModelForm):
    """Edits an account without ever rendering its API key back to the browser."""

    api_key = forms.CharField(
        label="API key",
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Write-only. Leave blank to keep the current key.",
    )

    base_url = forms.URLField(
        label="Base URL", assume_scheme="https", help_text="API root, e.g. https://sms.messagewhiz.com"
    )

    currency = forms.RegexField(
        regex=r"^[A-Za-z]{3}$", required=False, max_length=3, label="Currency",
        error_messages={"invalid": "Three letters, such as EUR or USD."},
        help_text="What the provider's prices and estimates are in (ISO code, e.g. EUR); empty: EUR",
    )

    class Meta:
        model = ProviderAccount
        fields = ["name", "kind", "base_url", "api_key", "currency", "default_price_per_part", "is_active",
                  "breaker_error_rate", "breaker_min_requests", "breaker_cooldown", "approval_threshold",
                  "superusers_approve_own", "retry_enabled", *RETRY_POLICY_FIELDS]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        retry_fields_setup(self)
        self.fields["retry_enabled"].help_text = "The default of new broadcasts of this account; off by default"
        if self.instance.pk:
            self.fields["retry_account"].queryset = self.fields["retry_account"].queryset.exclude(
                pk=self.instance.pk)

    def clean(self):
        data = super().clean()
        retry_policy_clean(self, data, account=self.instance if self.instance.pk else None,
                           enabled=bool(data.get("retry_enabled")))
        return data

    def clean_currency(self):
        return self.cleaned_data["currency"].upper() or "EUR"

    def clean_base_url(self):
        url = self.cleaned_data["base_url"]
        try:
            check_url(url)
        except AddressRefused as exc:
            raise forms.ValidationError(str(exc)) from None
        return url

    def clean_api_key(self):
        key = self.cleaned_data["api_key"]
        if key:
            return key
        if self.instance.pk and self.instance.api_key:
            moved = "base_url" in self.cleaned_data and \
                destination(self.cleaned_data["base_url"]) != destination(self.instance.base_url)
            if moved:  # the saved key is never sent to a host it was not entered for
                raise forms.ValidationError("The base URL points at another host now: enter the API key again.")
            return self.instance.api_key
        if self.data.get("kind", self.instance.kind) != ProviderAccount.Kind.MESSAGEWHIZ:
            return ""  # HTTP providers authenticate as their own configuration says
        raise forms.ValidationError("An API key is required.")
