"""Forms of the list pages and the import wizard: whatever a browser (or a tampered POST) sends
becomes a form error, never a 500."""

from django import forms
from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, StopUpload

from .mapping import MARKERS
from .models import ImportJob, RecipientList

Mode = ImportJob.Mode
LIST_NAME_MAX = RecipientList._meta.get_field("name").max_length
COUNTRY_MAX = 64  # a code, or a country's name as the picker suggests it ("Bosnia & Herzegovina +387")


class UploadForm(forms.Form):
    file = forms.FileField(help_text="CSV (any encoding and delimiter), XLSX or XLS")

    def __init__(self, data=None, files=None, *, too_large: bool = False):
        super().__init__(data, files)
        if too_large:  # `UploadLimit` dropped the file: say why it is missing
            limit = size_limit()
            self.fields["file"].error_messages["required"] = (
                f"The file is larger than {limit}; files up to {limit} are accepted."
            )


def size_limit() -> str:
    return f"{settings.UPLOAD_MAX_BYTES / 1048576:g} MB"


class UploadLimit(FileUploadHandler):
    """Stops reading an upload as soon as it passes UPLOAD_MAX_BYTES, before anything is stored.

    The rest of the request is read and dropped (not reset), so the browser gets the page
    saying why; `request.upload_too_large` tells the view.
    """

    def __init__(self, request):
        super().__init__(request)
        request.upload_too_large = False
        self.received = 0

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > settings.UPLOAD_MAX_BYTES:
            self.request.upload_too_large = True
            raise StopUpload(connection_reset=False)
        return raw_data

    def file_complete(self, file_size):
        return None


class _ListForm(forms.Form):
    """A form that files a list under a provider account: the only one, or the one chosen."""

    account = forms.ModelChoiceField(queryset=None, required=False)

    def __init__(self, data=None, *, accounts, **kwargs):
        super().__init__(data, **kwargs)
        self.fields["account"].queryset = accounts

    def clean(self):
        data = super().clean()
        if data.get("account") is None and "account" not in self.errors:
            accounts = list(self.fields["account"].queryset[:2])
            if len(accounts) == 1:
                data["account"] = accounts[0]
            else:
                self.add_error("account", "Choose the provider account the list belongs to.")
        return data


class NumbersListForm(_ListForm):
    """A new list from pasted numbers."""

    name = forms.CharField(max_length=LIST_NAME_MAX)
    numbers = forms.CharField(widget=forms.Textarea)
    default_country = forms.CharField(max_length=COUNTRY_MAX, required=False)


class ImportOptionsForm(_ListForm):
    """The wizard's mapping step: one choice per column of the file, and where the rows go."""

    mode = forms.ChoiceField(choices=Mode.choices, initial=Mode.NEW)
    name = forms.CharField(max_length=LIST_NAME_MAX, required=False)
    target = forms.ModelChoiceField(queryset=None, required=False)
    truncate = forms.BooleanField(required=False)
    default_country = forms.CharField(max_length=COUNTRY_MAX, required=False)

    def __init__(self, data=None, *, accounts, lists, columns: int, kind: str, **kwargs):
        super().__init__(data, accounts=accounts, **kwargs)
        self.fields["target"].queryset = lists
        self.columns = columns
        self.markers = ("phone_number",) if kind == ImportJob.Kind.UNSUBSCRIBES else MARKERS
        for index in range(columns):
            self.fields[f"column_{index}"] = forms.ChoiceField(
                choices=[("", "Ignore"), *((marker, marker) for marker in self.markers)], required=False
            )

    def clean(self):
        if self.cleaned_data.get("mode") == Mode.NEW:
            self.cleaned_data["target"] = None
        else:
            self.cleaned_data["name"] = ""  # the form's name is the new list's; a replace keeps the list's
        if self.cleaned_data.get("target") is not None:
            # Rows added to a list belong to the list's account.
            self.cleaned_data["account"] = self.cleaned_data["target"].account
        data = super().clean()
        if data.get("mode", Mode.NEW) != Mode.NEW and not data.get("target"):
            self.add_error("target", "Choose the list to add to or replace.")
        data["mapping"] = {str(index): data.get(f"column_{index}", "") for index in range(self.columns)}
        return data
