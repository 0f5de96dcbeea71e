
from django import forms

from messaging.models import WhatsAppTemplate

from ..generic.forms import TestSendForm


class WhatsAppTemplateForm(forms.ModelForm):
    header_media_url = forms.URLField(label="Header media URL", required=False, assume_scheme="https")
    buttons_text = forms.CharField(
        label="Buttons", required=False, widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false"}),
        help_text='One per line. Quick reply: the label. Call to action: url|Label|https://… or phone|Label|+44…')

    class Meta:
        model = WhatsAppTemplate
        fields = ["name", "language", "header_type", "header_text", "header_media_url", "body", "footer",
                  "button_type", "limited_time_offer"]
        widgets = {"body": forms.Textarea(attrs={"rows": 5})}
        help_texts = {"body": "Variables are {{1}}, {{2}}, …", "name": "As approved at the provider."}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_bound and self.instance.buttons:
            self.initial["buttons_text"] = "\n".join(
                b["text"] if "type" not in b else f"{b['type']}|{b['text']}|{b.get('value', '')}"
                for b in self.instance.buttons)

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
        super()._post_clean()  # runs WhatsAppTemplate.clean(): the template rules

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

    def body_values(self) -> list[str]:
        return self.cleaned_data["body_values_text"].splitlines()


