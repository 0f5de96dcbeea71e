
from django import forms

from messaging.models import WhatsAppTemplate

from ..generic.forms import TestSendForm
from .templates import LOCATION_FIELDS, MissingValue, template_object


class WhatsAppTemplateForm(forms.ModelForm):
    header_media_url = forms.URLField(label="Header media URL", required=False, assume_scheme="https")
    latitude = forms.CharField(label="Location latitude", required=False, max_length=20,
                               help_text="Location headers: where the message points, e.g. 19.0760.")
    longitude = forms.CharField(label="Location longitude", required=False, max_length=20)
    location_name = forms.CharField(label="Location name", required=False, max_length=100)
    location_address = forms.CharField(label="Location address", required=False, max_length=200)
    buttons_text = forms.CharField(
        label="Buttons", required=False, widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false"}),
        help_text='One per line. Quick reply: the label. Call to action: url|Label|https://… or phone|Label|+44…')

    class Meta:
        model = WhatsAppTemplate
        fields = ["name", "language", "header_type", "header_text", "header_media_url", "body", "footer",
                  "button_type", "limited_time_offer"]
        widgets = {"body": forms.Textarea(attrs={"rows": 5})}
        help_texts = {"body": "Variables are {{1}}, {{2}}, …", "name": "As approved at the provider.",
                      "limited_time_offer": "Each send carries the offer's expiry (a broadcast's “Expires”)."}

    field_order = ["name", "language", "header_type", "header_text", "header_media_url", "latitude", "longitude",
                   "location_name", "location_address"]
    LOCATION = dict(zip(LOCATION_FIELDS, ("latitude", "longitude", "location_name", "location_address"),
                        strict=True))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_bound and self.instance.buttons:
            self.initial["buttons_text"] = "\n".join(
                b["text"] if "type" not in b else f"{b['type']}|{b['text']}|{b.get('value', '')}"
                for b in self.instance.buttons)
        if not self.is_bound:
            for key, field in self.LOCATION.items():
                self.initial.setdefault(field, (self.instance.header_location or {}).get(key, ""))

    def clean_buttons_text(self):
        buttons = []
        for line in self.cleaned_data["buttons_text"].splitlines():
            if not line.strip():
                continue
            parts = [p.strip() for p in line.split("|")]
            if self.data.get("button_type") == "cta":
                if len(parts) != 3:
                    raise forms.ValidationError("Write calls to action as type|Label|value.")
                buttons.append({"type": parts[0], "text": parts[1], "value": parts[2]})
            else:
                buttons.append({"text": line.strip()})
        return buttons

    def _post_clean(self):
        self.instance.buttons = self.cleaned_data.get("buttons_text", [])
        location = {key: self.cleaned_data.get(field, "").strip() for key, field in self.LOCATION.items()}
        self.instance.header_location = {key: value for key, value in location.items() if value}
        super()._post_clean()  # runs WhatsAppTemplate.clean(): the template rules

    def _update_errors(self, errors):
        # The template rules name the model's header_location; this form edits it as four fields.
        if "header_location" in getattr(errors, "error_dict", {}):
            errors.error_dict["latitude"] = errors.error_dict.pop("header_location")
        super()._update_errors(errors)

    def clean(self):
        data = super().clean()
        taken = WhatsAppTemplate.objects.filter(account_id=self.instance.account_id, name=data.get("name"),
                                                language=data.get("language")).exclude(pk=self.instance.pk)
        if taken.exists():
            self.add_error("name", "This account already has a template with this name and language.")
        return data


class TemplateTestForm(TestSendForm):
    message = None
    header_value = forms.CharField(required=False, label="Header variable {{1}}")
    body_values_text = forms.CharField(required=False, label="Body variables",
                                       help_text="One per line: {{1}}, {{2}}, …",
                                       widget=forms.Textarea(attrs={"rows": 3}))
    offer_expires = forms.DateTimeField(required=False, label="Offer expires",
                                        help_text="Limited-time offers only.",
                                        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))

    def __init__(self, *args, template: WhatsAppTemplate, **kwargs):
        super().__init__(*args, **kwargs)
        self.template = template

    def clean(self):
        data = super().clean()
        if not self.errors:
            try:
                data["payload"] = template_object(
                    self.template, header_value=data["header_value"],
                    body_values=data["body_values_text"].splitlines(), offer_expires=data["offer_expires"])
            except MissingValue as exc:
                raise forms.ValidationError(str(exc)) from None
        return data


