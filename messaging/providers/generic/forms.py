"""The generic provider form, as CleverTap's "Add SMS provider" page lays it out.

Pairs (headers, parameters, the status table) are edited as lines of text: no JavaScript needed,
and pasting a provider's curl example is easy. Secrets are write-only (see `secrets`): the
password is never rendered, other credentials are shown masked and the mask submitted back keeps
the stored value.
"""

import re
from decimal import Decimal, InvalidOperation

import phonenumbers
from django import forms

from messaging import safejson
from messaging.models import GenericProviderConfig, ProviderAccount, WhatsAppTemplate
from messaging.netguard import check_url, destination

from ..whatsapp.templates import MissingValue, template_object_from_lines
from .dlr import CANONICAL_STATUSES
from .presets import placeholders_in
from .request import (
    BATCH_SHARE_OF_RATE,
    MAX_BATCH,
    RECORDS,
    WHATSAPP_NUMBER,
    RequestTemplate,
    TemplateError,
    check_header,
    parse_json_template,
    whatsapp_number_clean,
)
from .secrets import MASK, is_secret, mask_url, unmask_url

MAX_TIMEOUT = 120  # seconds; a dispatch run must fit the answers still in flight into its time budget


def pairs_to_text(pairs, sep: str, *, mask_secrets: bool = False) -> str:
    lines = []
    for key, value in pairs or []:
        if mask_secrets and value and is_secret(key, header=sep == ":"):
            value = MASK
        lines.append(f"{key}{sep} {value}" if sep == ":" else f"{key}{sep}{value}")
    return "\n".join(lines)


def text_to_pairs(text: str, sep: str, what: str) -> list[list[str]]:
    pairs = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        key, found, value = line.partition(sep)
        if not found or not key.strip():
            raise forms.ValidationError(f"{what}, line {number}: write it as key{sep}value.")
        pairs.append([key.strip(), value.strip() if sep == ":" else value])
    return pairs


class GenericProviderForm(forms.ModelForm):
    name = forms.CharField(label="Nickname", max_length=100)
    is_active = forms.BooleanField(label="Active", required=False, initial=True)
    headers_text = forms.CharField(
        label="Headers", required=False, widget=forms.Textarea(attrs={"rows": 4, "spellcheck": "false"}),
        help_text="One per line, Key: Value. Values may use $$To, $$Body, $$MessageID. "
                  f"Credential values are write-only: {MASK} keeps the saved value.")
    params_text = forms.CharField(
        label="Parameters", required=False, widget=forms.Textarea(attrs={"rows": 4, "spellcheck": "false"}),
        help_text="GET or x-www-form-urlencoded: one per line, key=value.")
    password = forms.CharField(
        required=False, strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Write-only. Leave blank to keep the saved password.")
    status_map_text = forms.CharField(
        label="Status mapping", required=False, widget=forms.Textarea(attrs={"rows": 5, "spellcheck": "false"}),
        help_text=f"One per line, provider value=our status ({', '.join(CANONICAL_STATUSES)}).")

    class Meta:
        model = GenericProviderConfig
        fields = ["channel", "method", "endpoint", "auth", "username", "password", "body_format", "body_template",
                  "batch_enabled", "batch_size", "batch_record_template", "batch_envelope", "max_concurrency",
                  "rate_limit", "timeout", "dedupes_message_id", "response_id_field", "is_default",
                  "dlr_enabled", "dlr_ref_field", "dlr_id_field", "dlr_status_field", "dlr_error_field",
                  "whatsapp_number", "auto_reply", "auto_reply_text", "auto_reply_template", "stop_keywords",
                  "optout_list"]
        widgets = {
            "endpoint": forms.TextInput(attrs={"spellcheck": "false"}),
            "body_template": forms.Textarea(attrs={"rows": 6, "spellcheck": "false"}),
            "batch_record_template": forms.Textarea(attrs={"rows": 3, "spellcheck": "false"}),
            "batch_envelope": forms.Textarea(attrs={"rows": 3, "spellcheck": "false"}),
            "auto_reply_text": forms.Textarea(attrs={"rows": 2}),
            "stop_keywords": forms.Textarea(attrs={"rows": 3}),
        }
        help_texts = {
            "body_template": "JSON or raw body; $$To, $$Body and $$MessageID are filled in. JSON: escaped as JSON. "
                             "Raw: escaped for the Content-Type header you send — as JSON string content for "
                             "application/json (write \"$$Body\" inside quotes), percent-encoded for "
                             "x-www-form-urlencoded, otherwise inserted as written.",
            "max_concurrency": "30 to 1,000 requests in flight at once.",
            "rate_limit": "Empty: no cap.",
            "batch_size": f"Records per request, at most {MAX_BATCH:,}. With a messages-per-second cap, at most "
                          f"1/{BATCH_SHARE_OF_RATE} of it, so that no second goes over the cap.",
            "timeout": f"1 to {MAX_TIMEOUT} seconds.",
            "whatsapp_number": f"WhatsApp: the number you send from, with its country code (fills {WHATSAPP_NUMBER}).",
            "auto_reply_text": "SMS: the reply. WhatsApp: one line per variable of the reply template.",
            "auto_reply_template": "WhatsApp accounts reply with an approved template (add one under Templates).",
        }

    def __init__(self, *args, account: ProviderAccount | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.account = account or ProviderAccount(kind=ProviderAccount.Kind.GENERIC, api_key="")
        config = self.instance
        if not self.is_bound:
            initial = self.initial
            initial.setdefault("name", self.account.name)
            initial.setdefault("is_active", self.account.is_active if self.account.pk else True)
            initial.setdefault("headers_text", pairs_to_text(initial.get("headers", config.headers), ":",
                                                             mask_secrets=bool(config.pk)))
            initial.setdefault("params_text", pairs_to_text(initial.get("params", config.params), "=",
                                                            mask_secrets=bool(config.pk)))
            if config.pk:
                initial["endpoint"] = mask_url(config.endpoint)
            status_map = initial.get("dlr_status_map", config.dlr_status_map) or {}
            initial.setdefault("status_map_text", pairs_to_text(status_map.items(), "="))
        self.fields["optout_list"].required = False
        # A new account has no templates yet (account_id None matches nothing).
        self.fields["auto_reply_template"].queryset = WhatsAppTemplate.objects.filter(account_id=self.account.pk)

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        if ProviderAccount.objects.filter(name=name).exclude(pk=self.account.pk).exists():
            raise forms.ValidationError("Another provider account has this nickname.")
        return name

    @property
    def moved(self) -> bool:
        """Whether the endpoint now names another host (or port) than the saved one. Saved secrets
        (password, credential headers, parameters and query values) are then not kept: a secret is
        only ever sent to the host it was entered for, or whoever may edit the endpoint could
        point it at their own server and collect it with a test send."""
        endpoint = self.cleaned_data.get("endpoint")
        return bool(self.instance.pk and endpoint and destination(endpoint) != destination(self.instance.endpoint))

    def clean_endpoint(self):
        submitted = self.cleaned_data["endpoint"].strip()
        saved = self.instance.endpoint if self.instance.pk else ""
        if saved and destination(submitted) != destination(saved):
            saved = ""  # masked query values are not carried over to a new host
        try:
            endpoint = unmask_url(submitted, saved)
            if "<" not in endpoint:  # a preset's placeholder is refused in clean()
                check_url(endpoint)
        except ValueError as exc:  # AddressRefused included
            raise forms.ValidationError(str(exc)) from None
        return endpoint

    def _unmask(self, pairs, saved_pairs, what: str):
        """A masked value submitted back unchanged means "keep the saved one" (same host only)."""
        saved = {k.lower(): v for k, v in (saved_pairs or [])} if self.instance.pk else {}
        for pair in pairs:
            if pair[1] == MASK:
                if self.moved:
                    raise forms.ValidationError(f"The endpoint points at another host now: enter the {what} "
                                                f"{pair[0]} again.")
                if pair[0].lower() not in saved:
                    raise forms.ValidationError(f"Enter a value for the {what} {pair[0]}.")
                pair[1] = saved[pair[0].lower()]
        return pairs

    def clean_headers_text(self):
        pairs = self._unmask(text_to_pairs(self.cleaned_data["headers_text"], ":", "Headers"),
                             self.instance.headers, "header")
        for key, value in pairs:
            try:
                check_header(key, value)
            except TemplateError as exc:
                raise forms.ValidationError(str(exc)) from None
        return pairs

    def clean_params_text(self):
        return self._unmask(text_to_pairs(self.cleaned_data["params_text"], "=", "Parameters"),
                            self.instance.params, "parameter")

    def clean_password(self):
        password = self.cleaned_data["password"]
        if password or not self.instance.pk:
            return password
        if self.moved:
            if self.instance.password and self.cleaned_data.get("auth") == "basic":
                raise forms.ValidationError("The endpoint points at another host now: enter the password again.")
            return ""
        return self.instance.password

    def clean_status_map_text(self):
        table = {}
        for key, value in text_to_pairs(self.cleaned_data["status_map_text"], "=", "Status mapping"):
            value = value.strip().lower()
            if value not in CANONICAL_STATUSES:
                raise forms.ValidationError(f"“{value}” is not one of our statuses ({', '.join(CANONICAL_STATUSES)}).")
            table[key.strip()] = value
        return table

    def clean_max_concurrency(self):
        value = self.cleaned_data["max_concurrency"]
        if not 30 <= value <= 1000:
            raise forms.ValidationError("Between 30 and 1,000.")
        return value

    def clean_timeout(self):
        value = self.cleaned_data["timeout"]
        if not 1 <= value <= MAX_TIMEOUT:
            raise forms.ValidationError(f"Between 1 and {MAX_TIMEOUT} seconds.")
        return value

    def clean_whatsapp_number(self):
        try:
            return whatsapp_number_clean(self.cleaned_data["whatsapp_number"])
        except ValueError:
            raise forms.ValidationError("The number with its country code, digits only, e.g. 918889500122.") from None

    def clean_batch_size(self):
        value = self.cleaned_data["batch_size"]
        if not 1 <= value <= MAX_BATCH:
            raise forms.ValidationError(f"Between 1 and {MAX_BATCH:,}.")
        return value

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        # What the saved configuration will be (the instance itself is only filled in after clean()).
        config = GenericProviderConfig(**{name: data.get(name) for name in ("method", "endpoint", "auth", "username",
                                                                          "password", "body_format", "body_template",
                                                                          "batch_enabled", "batch_size",
                                                                          "batch_record_template", "batch_envelope",
                                                                          "whatsapp_number")},
                                       headers=data["headers_text"], params=data["params_text"])
        if data["auth"] == "basic" and not data["username"]:
            self.add_error("username", "Basic authentication needs a username.")
        if "<" in data["endpoint"]:
            self.add_error("endpoint", "Replace the placeholder with your provider's endpoint.")
            return data
        if self._placeholders_left(data):
            return data
        if data["channel"] == GenericProviderConfig.Channel.WHATSAPP and not data["whatsapp_number"]:
            self.add_error("whatsapp_number", "Enter the WhatsApp number you send from, with its country code.")
        if data["batch_enabled"]:
            if data["method"] != "POST" or data["body_format"] != "json":
                self.add_error("batch_enabled", "Batch mode sends JSON: choose POST and JSON.")
            elif RECORDS not in data["batch_envelope"]:
                self.add_error("batch_envelope", f'Put "{RECORDS}" where the records go.')
        if data["auto_reply"]:
            if data["channel"] == GenericProviderConfig.Channel.WHATSAPP and not data["auto_reply_template"]:
                self.add_error("auto_reply_template", "WhatsApp replies must use an approved template: choose one.")
            elif data["channel"] == GenericProviderConfig.Channel.SMS and not data["auto_reply_text"].strip():
                self.add_error("auto_reply_text", "Write the reply.")
            elif data["channel"] == GenericProviderConfig.Channel.WHATSAPP and \
                    data["auto_reply_template"].limited_time_offer:
                # Each send of an offer carries its expiry, which a reply to an inbound message has not.
                self.add_error("auto_reply_template", "A limited-time offer cannot be the auto-reply: "
                                                      "choose a template without one.")
            elif data["channel"] == GenericProviderConfig.Channel.WHATSAPP:
                try:
                    template_object_from_lines(data["auto_reply_template"], data["auto_reply_text"].splitlines())
                except MissingValue as exc:
                    self.add_error("auto_reply_text", f"{exc} Write one line per variable of the reply template.")
        if data["dlr_enabled"] and not (data["dlr_status_field"] and (data["dlr_ref_field"] or data["dlr_id_field"])):
            self.add_error("dlr_enabled", "Name the status field and the message id field of the reports.")
        if data["method"] == "POST" and data["body_format"] == "json":
            try:
                parse_json_template(data["body_template"].replace("$$CallbackURL", "") or "{}", "The JSON parameters")
            except TemplateError as exc:
                self.add_error("body_template", str(exc))
                return data
        try:
            RequestTemplate(config)
        except TemplateError as exc:
            self.add_error(None, str(exc))
        return data

    def _placeholders_left(self, data) -> bool:
        """Refuse a preset's <placeholders> left in any field, naming the field (they would be sent as written)."""
        found = []
        for name, value in (("username", data["username"]), ("password", data["password"])):
            found += [(name, f"Replace {p} with your own value.") for p in placeholders_in(value, whole_value=True)]
        for field, what, pairs in (("headers_text", "header", data["headers_text"]),
                                   ("params_text", "parameter", data["params_text"])):
            found += [(field, f"Replace {p} in the {what} {key} with your own value.")
                      for key, value in pairs for p in placeholders_in(value, whole_value=True)]
        for name in ("body_template", "batch_record_template", "batch_envelope"):
            found += [(name, f"Replace {p} with your own value.") for p in _placeholders_in_body(data[name])]
        for name, message in found:
            self.add_error(name, message)
        return bool(found)

    def _get_validation_exclusions(self):
        # Marking this account default un-marks the previous one (services.generic_account_save);
        # the partial unique constraint on is_default is only the database's backstop.
        return {*super()._get_validation_exclusions(), "is_default"}

    def save_account(self):
        from .services import generic_account_save

        self.instance.headers = self.cleaned_data["headers_text"]
        self.instance.params = self.cleaned_data["params_text"]
        self.instance.dlr_status_map = self.cleaned_data["status_map_text"]
        self.account.name = self.cleaned_data["name"]
        self.account.is_active = self.cleaned_data["is_active"]
        return generic_account_save(account=self.account, config=self.instance)


def _placeholders_in_body(text: str) -> list[str]:
    """Placeholders in a body: in a JSON body, any string value that is one; in a raw body (XML
    has angle brackets of its own), the presets' own."""
    try:
        parsed = safejson.loads(text.replace("$$CallbackURL", ""))
    except safejson.JSONError:
        return placeholders_in(text)
    found, stack = [], [parsed]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            found += placeholders_in(node, whole_value=True)
        elif isinstance(node, dict):
            stack += node.values()
        elif isinstance(node, list):
            stack += node
    return found


class TestSendForm(forms.Form):
    country_code = forms.RegexField(regex=r"^\+?\d{1,4}$", max_length=5, initial="+",
                                    error_messages={"invalid": "Digits, e.g. +44."})
    number = forms.RegexField(regex=r"^[\d\s\-()]{4,16}$", label="Mobile number",
                              error_messages={"invalid": "Digits only."})
    message = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=1600)

    def phone(self) -> str:
        digits = "".join(c for c in self.cleaned_data["number"] if c.isdigit())
        return self.cleaned_data["country_code"].lstrip("+") + digits


class PriceTableForm(forms.Form):
    """A generic account's prices: one "GB 0.0450" line per country, a default, the currency."""

    currency = forms.RegexField(
        regex=r"^[A-Za-z]{3}$", max_length=3, error_messages={"invalid": "Three letters, such as EUR or USD."},
        help_text="ISO code of the currency this provider bills in; every price here is in it.")
    prices_text = forms.CharField(
        label="Price per SMS part by country", required=False, widget=forms.Textarea(attrs={"rows": 8}),
        help_text="One country per line: its ISO code and the price of one SMS part, e.g. “GB 0.0450”.")
    default_price = forms.DecimalField(
        label="Price per part elsewhere", required=False, min_value=0, max_digits=10, decimal_places=4,
        help_text="For countries not listed. Empty: their messages' cost is unknown.")

    MAX_PRICE = Decimal(10) ** 6

    def clean_currency(self):
        return self.cleaned_data["currency"].upper()

    def clean_prices_text(self):
        prices, errors = {}, []
        for number, line in enumerate(self.cleaned_data["prices_text"].splitlines(), 1):
            if not line.strip():
                continue
            fields = re.split(r"[\s;,]+", line.strip(), maxsplit=1)
            if len(fields) != 2 or not fields[1].strip():
                errors.append(f"Line {number}: write a country code and a price, e.g. “GB 0.0450”.")
                continue
            country, text = fields[0].upper(), fields[1].strip().replace(",", ".")
            if country not in phonenumbers.SUPPORTED_REGIONS:
                errors.append(f"Line {number}: “{fields[0][:10]}” is not an ISO country code.")
                continue
            try:
                price = Decimal(text)
            except InvalidOperation:
                errors.append(f"Line {number}: the price must be a number, e.g. 0.0450.")
                continue
            if not price.is_finite() or not 0 <= price < self.MAX_PRICE or price.as_tuple().exponent < -4:
                errors.append(f"Line {number}: the price must be from 0 to 999999.9999, with at most 4 decimals.")
            elif country in prices:
                errors.append(f"Line {number}: {country} is listed twice.")
            else:
                prices[country] = price
        if errors:
            raise forms.ValidationError(errors)
        return prices
