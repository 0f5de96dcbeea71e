from django import forms

from .models import ProviderAccount
from .netguard import AddressRefused, check_url, destination


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
        fields = ["name", "kind", "base_url", "api_key", "currency", "is_active", "approval_threshold",
                  "superusers_approve_own"]

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
