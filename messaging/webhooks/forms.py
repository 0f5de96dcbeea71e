from django import forms

from messaging.netguard import AddressRefused, check_url

from .models import EVENT_TYPES, WebhookEndpoint


class WebhookEndpointForm(forms.ModelForm):
    url = forms.URLField(label="URL", max_length=500, assume_scheme="https",
                         help_text="Where events are POSTed (https recommended)")
    event_types = forms.MultipleChoiceField(choices=EVENT_TYPES, widget=forms.CheckboxSelectMultiple,
                                            help_text="Events this endpoint receives")
    batch_size = forms.IntegerField(min_value=1, max_value=5000, initial=500,
                                    help_text="With batching on: at most this many events per request")

    class Meta:
        model = WebhookEndpoint
        fields = ["name", "url", "event_types", "enabled", "batch", "batch_size"]

    def clean_url(self):
        url = self.cleaned_data["url"].strip()
        if not url.lower().startswith(("https://", "http://")):
            raise forms.ValidationError("Use an http:// or https:// address.")
        try:
            check_url(url)
        except AddressRefused as exc:
            raise forms.ValidationError(str(exc)) from None
        return url
