"""The compose forms: what a broadcast (or a smart broadcast's next segment) sends, to whom, and when."""

import json
import re
import zoneinfo
from datetime import datetime, timedelta
from decimal import Decimal

from django import forms
from django.conf import settings
from django.utils import timezone

from messaging.forms import RETRY_POLICY_FIELDS, retry_fields_setup, retry_policy_clean
from messaging.models import GenericProviderConfig, ProviderAccount, Sender, SenderList, WhatsAppTemplate
from recipients.models import RecipientList, UnsubscribeList
from recipients.selectors import column_tokens

from . import policy, rendering
from .abtests import MAX_VARIANTS, MIN_VARIANTS
from .estimates import text_parts_problem, typical_token_values
from .models import AbTest, Broadcast, Campaign, Template, Trigger, WordSpinner
from .retries import retry_policy_copy

WHEN_CHOICES = [("now", "Send now"), ("later", "At a date and time"), ("trigger", "When a trigger fires"),
                ("recurring", "On a recurring schedule")]
RETRY_CHOICES = [("account", "As the account's default says"), ("off", "Off"), ("custom", "As set here")]
WEEKDAYS = [("*", "Every day"), ("1", "Mondays"), ("2", "Tuesdays"), ("3", "Wednesdays"), ("4", "Thursdays"),
            ("5", "Fridays"), ("6", "Saturdays"), ("0", "Sundays"), ("1-5", "Weekdays")]
COMMON_ZONES = ["UTC", "Europe/Kyiv", "Europe/London", "Europe/Berlin", "Europe/Warsaw", "America/New_York",
                "America/Chicago", "America/Los_Angeles", "Asia/Dubai", "Asia/Singapore", "Asia/Kolkata",
                "Australia/Sydney"]


ZONE_CHOICES = [(z, z) for z in COMMON_ZONES + sorted(zoneinfo.available_timezones() - set(COMMON_ZONES))]


def _enabled(model):
    return model.objects.filter(enabled=True).order_by("name")




def send_at(local: datetime, zone: str) -> datetime:
    """The instant a wall-clock time in `zone` means (the form's datetime is naive local time)."""
    naive = timezone.make_naive(local) if timezone.is_aware(local) else local
    return naive.replace(tzinfo=zoneinfo.ZoneInfo(zone))


def default_account(accounts):
    """The account compose starts with: the only active one, else the generic provider marked as
    the default for SMS (compose writes SMS; WhatsApp templates are chosen explicitly)."""
    if len(accounts) == 1:
        return accounts[0]
    config = GenericProviderConfig.objects.filter(account__in=accounts, channel=GenericProviderConfig.Channel.SMS,
                                                  is_default=True).select_related("account").first()
    return config.account if config else None


def counted_tokens(textarea: forms.Widget, spinners, *, any_account: bool = False) -> None:
    """Have the live counter count tokens at the lengths the estimate assumes (static/js/sms-counter.js),
    and flag a text over MAX_MESSAGE_PARTS as it is typed. With `any_account`, static/js/compose.js
    also gets the lengths for HTTP providers, whose links are Textcast's own, to switch to when
    such an account is chosen."""
    textarea.attrs["data-token-values"] = json.dumps(typical_token_values(spinners))
    if any_account:
        textarea.attrs["data-provider-token-values"] = textarea.attrs["data-token-values"]
        textarea.attrs["data-own-token-values"] = json.dumps(typical_token_values(spinners, own_links=True))
    textarea.attrs["data-max-parts"] = settings.MAX_MESSAGE_PARTS


def account_kinds(accounts) -> str:
    """{account id: "messagewhiz" | "sms" | "whatsapp"} as JSON, for static/js/compose.js to show
    only the fields that apply to the chosen account."""
    kinds = {}
    for account in accounts.select_related("generic"):
        generic = getattr(account, "generic", None) if account.kind == ProviderAccount.Kind.GENERIC else None
        kinds[account.pk] = generic.channel if generic else account.kind
    return json.dumps(kinds)


# The name a token starts with, up to its closing braces (or a fallback after "|").
_TOKEN_NAME = re.compile(r"\{\{\s*(\w+)\s*(?=[|}])")


def columns_as_tokens(body: str, recipient_lists) -> tuple[str, str]:
    """`body` with each {{name}} of the lists' named custom columns ({{city}}) as the token
    MessageWhiz fills ({{custom1}}), and why that can't be done ("" when it can)."""
    tokens = {name: columns for name, columns in column_tokens(recipient_list_ids=[lst.pk for lst in recipient_lists])
              .items() if name not in rendering.TOKEN_NAMES}
    used = {match[1] for match in _TOKEN_NAME.finditer(body)} & tokens.keys()
    for name in sorted(used):
        if len(tokens[name]) > 1:
            return body, (f"{{{{{name}}}}} is a different column in the chosen lists "
                          f"({', '.join(sorted(tokens[name]))}); send to lists that agree, or use the column's token.")
    if not used:
        return body, ""
    return _TOKEN_NAME.sub(lambda m: "{{" + next(iter(tokens[m[1]])) if m[1] in used else m[0], body), ""


def clean_later_or_trigger(form: forms.Form, data: dict, *, what: str) -> None:
    """A form's "at a date and time" (`local_time` in `zone` → data["send_at"]) and "when a
    trigger fires" choices, for `what` is sent (a broadcast, a segment)."""
    when, zone = data.get("when"), data.get("zone")
    if when == "later" and zone is not None:  # no zone: not one we know, and the field says so
        if not data.get("local_time"):
            form.add_error("local_time", "Choose when to send.")
            return
        data["send_at"] = send_at(data["local_time"], zone)
        if data["send_at"] <= timezone.now():
            form.add_error("local_time", "That time has already passed.")
    if when == "trigger" and not data.get("trigger"):
        form.add_error("trigger", f"Choose the trigger that releases the {what}.")


class VariantForm(forms.Form):
    """Variant B, C or D of an A/B test: its own text or template, and optionally its own senders."""

    body = forms.CharField(required=False, label="Message",
                           widget=forms.Textarea(attrs={"rows": 3}))
    template = forms.ModelChoiceField(Template.objects.none(), required=False)
    senders = forms.ModelMultipleChoiceField(Sender.objects.none(), required=False,
                                             widget=forms.SelectMultiple(attrs={"size": 3}),
                                             help_text="Empty: variant A's senders")
    sender_lists = forms.ModelMultipleChoiceField(SenderList.objects.none(), required=False,
                                                  widget=forms.SelectMultiple(attrs={"size": 3}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["template"].queryset = _enabled(Template)
        self.fields["senders"].queryset = _enabled(Sender)
        self.fields["sender_lists"].queryset = _enabled(SenderList)
        self.fields["body"].widget.attrs["data-sms-counter"] = f"{self.prefix}-count"
        # Labels of their own, so that each field says which variant it belongs to (screen readers too).
        letter = "BCDEFG"[int(self.prefix.rsplit("-", 1)[-1])] if self.prefix and self.prefix[-1].isdigit() else ""
        if letter:
            for name, label in (("body", "message"), ("template", "template"), ("senders", "senders"),
                                ("sender_lists", "sender lists")):
                self.fields[name].label = f"Variant {letter} {label}"

    def content(self) -> dict:
        data = self.cleaned_data
        return {"body": data["body"].strip(), "template": data["template"], "senders": list(data["senders"]),
                "sender_lists": list(data["sender_lists"])}


# Variants B to D are shown; a fourth form posted (five variants) is read and refused, not ignored.
VariantFormSet = forms.formset_factory(VariantForm, extra=MAX_VARIANTS - 1, max_num=MAX_VARIANTS - 1,
                                       absolute_max=MAX_VARIANTS)


class ComposeForm(forms.ModelForm):
    when = forms.ChoiceField(choices=WHEN_CHOICES, initial="now", widget=forms.RadioSelect, label="When")
    local_time = forms.DateTimeField(required=False, label="Send at (local time)",
                                     widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    zone = forms.ChoiceField(label="Time zone", initial="UTC", choices=ZONE_CHOICES)
    repeat_days = forms.ChoiceField(choices=WEEKDAYS, required=False, initial="1", label="Repeat on")
    repeat_time = forms.TimeField(required=False, label="At", widget=forms.TimeInput(attrs={"type": "time"}))
    ab_test = forms.BooleanField(required=False, label="A/B test this broadcast",
                                 help_text="The message above is variant A; write 1 to 3 more below")
    ab_share = forms.IntegerField(required=False, initial=10, label="Test share (%)",
                                  help_text="Of the recipients, split evenly between the variants; the rest get the "
                                            "winner")
    ab_metric = forms.ChoiceField(choices=AbTest.Metric.choices, initial=AbTest.Metric.CTR, label="Winner by",
                                  required=False)
    ab_hours = forms.DecimalField(required=False, initial=4, decimal_places=2, label="Choose the winner after (hours)",
                                  help_text="Counted from when the variants go out")
    retry_mode = forms.ChoiceField(choices=RETRY_CHOICES, initial="account", required=False,
                                   label="Retry undelivered messages",
                                   help_text="Once, through another route, within the sending window")

    class Meta:
        model = Broadcast
        fields = ["account", "name", "campaign", "type", "eb_type", "first_segment_size", "next_segment_size",
                  "conversion_threshold", "recipient_cap", "exp_date", "templates", "senders", "sender_lists",
                  "recipient_lists", "recipient", "unsubscribe_lists", "template", "whatsapp_template", "body",
                  "trigger", "delay", "custom_parameter", "window_start", "window_end", "retry_enabled",
                  *RETRY_POLICY_FIELDS]
        widgets = {
            "window_start": forms.TimeInput(attrs={"type": "time"}),
            "window_end": forms.TimeInput(attrs={"type": "time"}),
            "body": forms.Textarea(attrs={"rows": 5, "data-sms-counter": "sms-count"}),
            "exp_date": forms.DateTimeInput(attrs={"type": "datetime-local"}),
            "templates": forms.SelectMultiple(attrs={"size": 4}),
            "senders": forms.SelectMultiple(attrs={"size": 4}),
            "sender_lists": forms.SelectMultiple(attrs={"size": 4}),
            "recipient_lists": forms.SelectMultiple(attrs={"size": 6}),
            "unsubscribe_lists": forms.SelectMultiple(attrs={"size": 4}),
        }
        labels = {"eb_type": "Smart type", "body": "Message", "templates": "Segment templates",
                  "window_start": "Not before (their time)", "window_end": "Not after (their time)"}
        help_texts = {"body": "{{first_name|there}} says “there” to recipients without a first name (HTTP "
                              "providers and single messages; MessageWhiz broadcasts fill in tokens themselves)."}

    AUDIENCE = ("account", "campaign", "type", "recipient_lists", "recipient", "unsubscribe_lists", "senders",
                "sender_lists", "whatsapp_template")
    SMART = ("eb_type", "first_segment_size", "next_segment_size", "conversion_threshold", "recipient_cap",
             "exp_date", "templates", "custom_parameter")

    def retry_fields(self):
        return [self[name] for name in ("retry_mode", *RETRY_POLICY_FIELDS)]

    def audience_fields(self):
        return [self[name] for name in self.AUDIENCE]

    def smart_fields(self):
        return [self[name] for name in self.SMART]

    AB = ("ab_share", "ab_metric", "ab_hours")
    AB_MAX_HOURS = 24 * 30

    def ab_fields(self):
        return [self[name] for name in self.AB]

    def __init__(self, *args, user=None, variants_initial=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user  # who saves it: widening the account's window needs a permission
        # Posted variants stand on their own: with initial values, an unchanged extra form would be skipped.
        self.variants = VariantFormSet(self.data or None, prefix="variant",
                                       initial=None if self.is_bound else variants_initial)
        f = self.fields
        f["window_start"].help_text = "Empty: the account's sending window (its Compliance page)"
        accounts = ProviderAccount.objects.filter(is_active=True)
        f["account"].queryset = accounts
        f["account"].initial = default_account(accounts)
        f["account"].widget.attrs["data-account-kinds"] = account_kinds(accounts)
        f["campaign"].queryset = _enabled(Campaign)
        f["campaign"].required = False  # MessageWhiz needs one (checked in clean); HTTP providers don't
        f["senders"].queryset = _enabled(Sender)
        f["sender_lists"].queryset = _enabled(SenderList)
        f["recipient_lists"].queryset = _enabled(RecipientList)
        f["unsubscribe_lists"].queryset = _enabled(UnsubscribeList)
        f["template"].queryset = _enabled(Template)
        f["templates"].queryset = _enabled(Template)
        f["templates"].help_text = "Manual smart broadcasts: templates MessageWhiz uses for the segments' messages"
        f["trigger"].queryset = _enabled(Trigger)
        f["whatsapp_template"].queryset = WhatsAppTemplate.objects.order_by("name")
        f["whatsapp_template"].help_text = "WhatsApp providers: the approved template to send"
        f["type"].choices = [(v, label) for v, label in Broadcast.Type.choices]
        spinners = WordSpinner.objects.filter(enabled=True, remote_id__isnull=False)
        counted_tokens(f["body"].widget, {spinner.remote_id: spinner for spinner in spinners}, any_account=True)
        retry_fields_setup(self)
        if self.instance.pk:
            self.initial.setdefault("retry_mode", "custom" if self.instance.retry_enabled else "off")

    def clean(self):
        data = super().clean()
        kind, account = data.get("type"), data.get("account")
        messagewhiz = account is None or account.kind == ProviderAccount.Kind.MESSAGEWHIZ
        if not (data.get("body") or data.get("template") or data.get("whatsapp_template")):
            self.add_error("body", "Write a message or choose a template.")
        for name, text in (("body", data.get("body")), ("template", getattr(data.get("template"), "body", ""))):
            if text and (problem := text_parts_problem(text, account=account)):
                self.add_error(name, problem)
        if messagewhiz:
            if not data.get("campaign"):
                self.add_error("campaign", "MessageWhiz sends every broadcast under a campaign: choose one.")
            if not (data.get("senders") or data.get("sender_lists")):
                self.add_error("senders", "Choose at least one sender or sender list.")
        elif kind == Broadcast.Type.SMART:
            self.add_error("type", "Smart broadcasts are a MessageWhiz feature; choose a base broadcast.")
        elif data.get("when") == "trigger":
            self.add_error("trigger", "Triggers are a MessageWhiz feature.")
        if kind == Broadcast.Type.SINGLE:
            digits = "".join(ch for ch in data.get("recipient") or "" if ch.isdigit())
            if not 10 <= len(digits) <= 15:
                self.add_error("recipient", "A single message needs one number, 10 to 15 digits.")
            data["recipient"] = digits
        elif not data.get("recipient_lists"):
            self.add_error("recipient_lists", "Choose at least one recipient list.")
        elif data.get("body"):
            data["body"], problem = columns_as_tokens(data["body"], data["recipient_lists"])
            if problem:
                self.add_error("body", problem)
        if kind == Broadcast.Type.SMART:
            if not data.get("eb_type"):
                self.add_error("eb_type", "Choose manual segments or CTR threshold.")
            if not data.get("first_segment_size"):
                self.add_error("first_segment_size", "Give the size of the first segment.")
            if data.get("eb_type") == Broadcast.SmartType.CTR:
                for name in ("next_segment_size", "conversion_threshold", "exp_date"):
                    if not data.get(name):
                        self.add_error(name, "Required for a CTR smart broadcast.")
                if data.get("recipient_cap") is not None and data["recipient_cap"] <= 2:
                    self.add_error("recipient_cap", "The cap must be greater than 2; leave it empty for no limit.")
        if data.get("templates") and not (kind == Broadcast.Type.SMART and data.get("eb_type") == "manual"):
            self.add_error("templates", "Segment templates are for manual smart broadcasts; otherwise choose one "
                                        "template above.")
        self._clean_when(data)
        self._clean_window(data, account)
        self._clean_retry(data, account)
        if data.get("ab_test"):
            self._clean_ab_test(data, account)
        return data

    def _clean_ab_test(self, data: dict, account) -> None:
        """2 to 4 variants, a share that leaves someone on both sides, a decision after sending."""
        if self.user is not None and not self.user.has_perm("campaigns.add_abtest"):
            self.add_error("ab_test", "Running A/B tests needs the “Can add A/B test” permission.")
        if data.get("type") not in (None, Broadcast.Type.BASE):
            self.add_error("type", "An A/B test sends base broadcasts: choose “Base broadcast”.")
        if data.get("when") in ("trigger", "recurring"):
            self.add_error("when", "An A/B test is sent now or at a date and time.")
        if data.get("whatsapp_template"):
            self.add_error("whatsapp_template", "A/B tests compare texts; a WhatsApp template can't be tested.")
        if not data.get("ab_metric"):
            self.add_error("ab_metric", "Choose how the winner is chosen.")
        share = data.get("ab_share")
        if share is None:
            self.add_error("ab_share", "Give the share of recipients the variants go to, 1 to 99%.")
        elif not 1 <= share <= 99:
            self.add_error("ab_share", "The test share must be 1 to 99%: 0% tests no one, 100% leaves no one for the "
                                       "winner.")
        hours = data.get("ab_hours")
        if hours is None:
            self.add_error("ab_hours", "Give how many hours after sending the winner is chosen.")
        elif hours <= 0:
            self.add_error("ab_hours", "That decision time is in the past: the winner is chosen after the variants go "
                                       "out, so give a number of hours above 0.")
        elif hours > self.AB_MAX_HOURS:
            self.add_error("ab_hours", f"Choose the winner within {self.AB_MAX_HOURS} hours (30 days).")
        else:
            data["ab_decide_after"] = timedelta(hours=float(Decimal(hours)))
        if not self.variants.is_valid():
            # More forms than absolute_max (or a broken management form): refused, never cut short.
            management = self.variants.management_form
            posted = management.cleaned_data.get("TOTAL_FORMS") if management.is_valid() else None
            self.add_error("ab_test", f"An A/B test has {MIN_VARIANTS} to {MAX_VARIANTS} variants"
                                      f"{f'; this one has {1 + posted}' if posted else ''}.")
            return
        filled = [form for form in self.variants.forms if any(form.cleaned_data.get(name) for name in form.fields)]
        count = 1 + len(filled)
        if count < MIN_VARIANTS:
            self.add_error("ab_test", f"An A/B test has {MIN_VARIANTS} to {MAX_VARIANTS} variants: write variant B "
                                      "below.")
        elif count > MAX_VARIANTS:
            self.add_error("ab_test", f"An A/B test has {MIN_VARIANTS} to {MAX_VARIANTS} variants; this one has "
                                      f"{count}.")
        for form in filled:
            self._clean_variant(form, data, account)
        data["ab_variants"] = [form.content() for form in filled if not form.errors]

    def _clean_variant(self, form: VariantForm, data: dict, account) -> None:
        variant = form.cleaned_data
        if not (variant["body"].strip() or variant["template"]):
            form.add_error("body", "Write this variant's message or choose a template.")
            self.add_error("ab_test", "Each variant needs a message or a template.")
            return
        for name, text in (("body", variant["body"]), ("template", getattr(variant["template"], "body", ""))):
            if text and (problem := text_parts_problem(text, account=account)):
                form.add_error(name, problem)
        if variant["body"] and data.get("recipient_lists"):
            variant["body"], problem = columns_as_tokens(variant["body"], data["recipient_lists"])
            if problem:
                form.add_error("body", problem)
        if form.errors:
            self.add_error("ab_test", "A variant below needs fixing.")

    def _clean_retry(self, data: dict, account) -> None:
        """The account's default policy (copied: changing the account later leaves this broadcast's
        alone), none, or the one set here."""
        mode = data.get("retry_mode") or "account"
        if mode == "account" and account is not None:
            retry_policy_copy(account, self.instance)  # also what the form leaves out
            for name in RETRY_POLICY_FIELDS:
                data[name] = getattr(account, name)
        retry_policy_clean(self, data, account=account, enabled=mode == "custom")
        # Not rendered: the mode says it (a checkbox field, so the model form always writes it).
        data["retry_enabled"] = mode == "custom" or (mode == "account" and bool(account and account.retry_enabled))

    def _clean_window(self, data: dict, account) -> None:
        """A broadcast's window may narrow the account's; widening it needs the permission that
        campaigns.policy checks again when it sends."""
        start, end = data.get("window_start"), data.get("window_end")
        if start and end and start >= end:
            self.add_error("window_end", "The window must end after it starts.")
            return
        if account is None or (self.user is not None and self.user.has_perm("campaigns.widen_sending_window")):
            return
        for name, bounds in (("window_start", (start, None)), ("window_end", (None, end))):
            if policy.window_widened(account, start=bounds[0], end=bounds[1]):
                self.add_error(name, "That is outside the account's sending window; only users allowed to widen "
                                     "it may.")

    def _clean_when(self, data: dict) -> None:
        when, zone = data.get("when"), data.get("zone")
        if when not in ("later", "recurring"):
            data["zone"] = "UTC"  # the zone only says what a chosen time means
        elif zone is None:
            return  # not a zone we know: the field says so
        clean_later_or_trigger(self, data, what="broadcast")
        if when == "recurring" and not data.get("repeat_time"):
            self.add_error("repeat_time", "Choose the time of day.")


class ContinueSegmentForm(forms.Form):
    """The next segment of a submitted smart broadcast (/api/3/Segments)."""

    size = forms.IntegerField(min_value=1, label="Recipients in the segment")
    body = forms.CharField(required=False, label="Message",
                           widget=forms.Textarea(attrs={"rows": 3, "data-sms-counter": "seg-count"}))
    templates = forms.ModelMultipleChoiceField(Template.objects.none(), required=False,
                                               widget=forms.SelectMultiple(attrs={"size": 4}),
                                               help_text="Instead of a message")
    senders = forms.ModelMultipleChoiceField(Sender.objects.none(), required=False,
                                             widget=forms.SelectMultiple(attrs={"size": 4}))
    sender_lists = forms.ModelMultipleChoiceField(SenderList.objects.none(), required=False,
                                                  widget=forms.SelectMultiple(attrs={"size": 4}))
    when = forms.ChoiceField(choices=WHEN_CHOICES[:3], initial="now", widget=forms.RadioSelect, label="When")
    local_time = forms.DateTimeField(required=False, label="Send at (local time)",
                                     widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    zone = forms.ChoiceField(label="Time zone", initial="UTC", choices=ZONE_CHOICES)
    trigger = forms.ModelChoiceField(Trigger.objects.none(), required=False)
    # Continuing a paused CTR threshold broadcast: its next batch.
    first_segment_size = forms.IntegerField(min_value=1, required=False)
    next_segment_size = forms.IntegerField(min_value=1, required=False)
    recipient_cap = forms.IntegerField(min_value=3, required=False, help_text="Empty: no limit")

    CTR = ("first_segment_size", "next_segment_size", "recipient_cap")

    def __init__(self, *args, broadcast: Broadcast, remaining: int, **kwargs):
        kwargs.setdefault("initial", {"body": broadcast.body, "senders": list(broadcast.senders.all()),
                                      "sender_lists": list(broadcast.sender_lists.all())})
        super().__init__(*args, **kwargs)
        self.account = broadcast.account
        self.broadcast = broadcast
        self.remaining = remaining
        self.fields["size"].help_text = f"At most {remaining:,}: the recipients who have not had a message yet"

        def remote(model):
            return _enabled(model).filter(account=broadcast.account, remote_id__isnull=False)

        for name, model in (("templates", Template), ("senders", Sender), ("sender_lists", SenderList),
                            ("trigger", Trigger)):
            self.fields[name].queryset = remote(model)
        if broadcast.eb_type != Broadcast.SmartType.CTR:
            for name in self.CTR:
                del self.fields[name]
        spinners = remote(WordSpinner)
        counted_tokens(self.fields["body"].widget, {spinner.remote_id: spinner for spinner in spinners})

    def ctr_fields(self):
        return [self[name] for name in self.CTR if name in self.fields]

    def clean_size(self):
        size = self.cleaned_data["size"]
        if size > self.remaining:
            raise forms.ValidationError(f"Only {self.remaining:,} recipients have not had a message yet: a segment "
                                        f"can have at most {self.remaining:,}.")
        return size

    def clean(self):
        data = super().clean()
        if data.get("body"):
            # A segment goes to the broadcast's lists: their named columns ({{city}}) as on compose.
            data["body"], problem = columns_as_tokens(data["body"], self.broadcast.recipient_lists.all())
            if problem := problem or text_parts_problem(data["body"], account=self.account):
                self.add_error("body", problem)
        clean_later_or_trigger(self, data, what="segment")
        return data

    def segment(self) -> dict:
        """segments.segment_continue's arguments."""
        data = self.cleaned_data
        later, trigger = data["when"] == "later", data["when"] == "trigger"
        return {
            "size": data["size"], "body": data["body"].strip(), "templates": list(data["templates"]),
            "senders": list(data["senders"]), "sender_lists": list(data["sender_lists"]),
            "send_at": data["send_at"] if later else None,
            "trigger": data["trigger"] if trigger else None,
            **{name: data[name] for name in self.CTR if name in data},
        }


class SendTestForm(forms.Form):
    """Where a test of a broadcast goes: the user's own number or a seed list (remembered per user)."""

    to = forms.ChoiceField(choices=[("me", "My number"), ("seed", "A seed list")], initial="me",
                           widget=forms.RadioSelect, label="Send the test to")
    phone = forms.CharField(required=False, max_length=40, label="Phone number",
                            help_text="In international format, e.g. +380 50 123 45 67; remembered for next time")
    seed_list = forms.ModelChoiceField(RecipientList.objects.none(), required=False, label="Seed list",
                                       help_text="A small list of your team's phones (at most 25)")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["seed_list"].queryset = _enabled(RecipientList)

    def clean(self):
        data = super().clean()
        if data.get("to") == "me" and not data.get("phone", "").strip():
            self.add_error("phone", "Enter your number.")
        if data.get("to") == "seed" and not data.get("seed_list"):
            self.add_error("seed_list", "Choose the seed list.")
        return data
