"""The compose form: what a broadcast sends, to whom, and when."""

import zoneinfo
from datetime import datetime

from django import forms
from django.utils import timezone

from messaging.models import ProviderAccount, Sender, SenderList, WhatsAppTemplate
from recipients.models import RecipientList, UnsubscribeList

from .models import Broadcast, Campaign, Template, Trigger

WHEN_CHOICES = [("now", "Send now"), ("later", "At a date and time"), ("trigger", "When a trigger fires"),
                ("recurring", "On a recurring schedule")]
WEEKDAYS = [("*", "Every day"), ("1", "Mondays"), ("2", "Tuesdays"), ("3", "Wednesdays"), ("4", "Thursdays"),
            ("5", "Fridays"), ("6", "Saturdays"), ("0", "Sundays"), ("1-5", "Weekdays")]
COMMON_ZONES = ["UTC", "Europe/Kyiv", "Europe/London", "Europe/Berlin", "Europe/Warsaw", "America/New_York",
                "America/Chicago", "America/Los_Angeles", "Asia/Dubai", "Asia/Singapore", "Asia/Kolkata",
                "Australia/Sydney"]


def _enabled(model):
    return model.objects.filter(enabled=True).order_by("name")


class ComposeForm(forms.ModelForm):
    when = forms.ChoiceField(choices=WHEN_CHOICES, initial="now", widget=forms.RadioSelect, label="When")
    local_time = forms.DateTimeField(required=False, label="Send at (local time)",
                                     widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    zone = forms.ChoiceField(label="Time zone", initial="UTC",
                             choices=[(z, z) for z in COMMON_ZONES + sorted(zoneinfo.available_timezones() -
                                                                             set(COMMON_ZONES))])
    repeat_days = forms.ChoiceField(choices=WEEKDAYS, required=False, initial="1", label="Repeat on")
    repeat_time = forms.TimeField(required=False, label="At", widget=forms.TimeInput(attrs={"type": "time"}))

    class Meta:
        model = Broadcast
        fields = ["account", "name", "campaign", "type", "eb_type", "first_segment_size", "next_segment_size",
                  "conversion_threshold", "recipient_cap", "exp_date", "senders", "sender_lists", "recipient_lists",
                  "recipient", "unsubscribe_lists", "template", "whatsapp_template", "body", "trigger", "delay",
                  "custom_parameter"]
        widgets = {
            "body": forms.Textarea(attrs={"rows": 5, "data-sms-counter": "sms-count"}),
            "exp_date": forms.DateTimeInput(attrs={"type": "datetime-local"}),
            "senders": forms.SelectMultiple(attrs={"size": 4}),
            "sender_lists": forms.SelectMultiple(attrs={"size": 4}),
            "recipient_lists": forms.SelectMultiple(attrs={"size": 6}),
            "unsubscribe_lists": forms.SelectMultiple(attrs={"size": 4}),
        }
        labels = {"eb_type": "Smart type", "body": "Message"}

    AUDIENCE = ("account", "campaign", "type", "recipient_lists", "recipient", "unsubscribe_lists", "senders",
                "sender_lists", "whatsapp_template")
    SMART = ("eb_type", "first_segment_size", "next_segment_size", "conversion_threshold", "recipient_cap",
             "exp_date", "custom_parameter")

    def audience_fields(self):
        return [self[name] for name in self.AUDIENCE]

    def smart_fields(self):
        return [self[name] for name in self.SMART]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        f = self.fields
        accounts = ProviderAccount.objects.filter(is_active=True)
        f["account"].queryset = accounts
        if accounts.count() == 1:
            f["account"].initial = accounts.first()
        f["campaign"].queryset = _enabled(Campaign)
        f["campaign"].required = False  # MessageWhiz needs one (checked in clean); HTTP providers don't
        f["senders"].queryset = _enabled(Sender)
        f["sender_lists"].queryset = _enabled(SenderList)
        f["recipient_lists"].queryset = _enabled(RecipientList)
        f["unsubscribe_lists"].queryset = _enabled(UnsubscribeList)
        f["template"].queryset = _enabled(Template)
        f["trigger"].queryset = _enabled(Trigger)
        f["whatsapp_template"].queryset = WhatsAppTemplate.objects.order_by("name")
        f["whatsapp_template"].help_text = "WhatsApp providers: the approved template to send"
        f["type"].choices = [(v, label) for v, label in Broadcast.Type.choices]

    def clean(self):
        data = super().clean()
        kind, when = data.get("type"), data.get("when")
        account = data.get("account")
        messagewhiz = account is None or account.kind == ProviderAccount.Kind.MESSAGEWHIZ
        if not (data.get("body") or data.get("template") or data.get("whatsapp_template")):
            self.add_error("body", "Write a message or choose a template.")
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
        if kind == Broadcast.Type.SMART:
            if not data.get("eb_type"):
                self.add_error("eb_type", "Choose manual segments or CTR threshold.")
            if not data.get("first_segment_size"):
                self.add_error("first_segment_size", "Give the size of the first segment.")
            if data.get("eb_type") == Broadcast.SmartType.CTR:
                for name in ("next_segment_size", "conversion_threshold", "exp_date"):
                    if not data.get(name):
                        self.add_error(name, "Required for a CTR smart broadcast.")
        if when == "later":
            if not data.get("local_time"):
                self.add_error("local_time", "Choose when to send.")
            else:
                data["send_at"] = self.send_at(data["local_time"], data["zone"])
                if data["send_at"] <= timezone.now():
                    self.add_error("local_time", "That time has already passed.")
        if when == "trigger" and not data.get("trigger"):
            self.add_error("trigger", "Choose the trigger that releases the broadcast.")
        if when == "recurring" and not data.get("repeat_time"):
            self.add_error("repeat_time", "Choose the time of day.")
        return data

    @staticmethod
    def send_at(local: datetime, zone: str) -> datetime:
        """The instant a wall-clock time in `zone` means (the form's datetime is naive local time)."""
        naive = timezone.make_naive(local) if timezone.is_aware(local) else local
        return naive.replace(tzinfo=zoneinfo.ZoneInfo(zone))
