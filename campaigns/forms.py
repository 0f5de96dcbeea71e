from django import forms

from messaging.mirror_views import MirroredForm

from .models import WordSpinner


class WordSpinnerForm(MirroredForm):
    words = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text="One word or phrase per line; each message gets one of them at random.",
    )

    class Meta:
        model = WordSpinner
        fields = ["account", "name", "words"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["words"] = "\n".join(self.instance.words)

    def clean_words(self):
        words = [line.strip() for line in self.cleaned_data["words"].splitlines() if line.strip()]
        if len(words) < 2:
            raise forms.ValidationError("Give at least two words, one per line, to spin between.")
        return words


class NewLinksForm(forms.Form):
    links = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text="One link per line: a URL, or a name, a comma and a URL (“Shop, https://shop.example.com”).",
    )

    def clean_links(self):
        from .link_lists import MAX_LINKS, link_problem

        links, errors = [], []
        for number, line in enumerate(self.cleaned_data["links"].splitlines(), start=1):
            if not line.strip():
                continue
            label, _, url = line.rpartition(",") if "," in line else ("", "", line)
            label, url = label.strip(), url.strip()
            problem = link_problem(url)
            if problem:
                errors.append(f"Line {number} (“{line.strip()[:80]}”): {problem}.")
            links.append((label or url, url))
        if errors:
            raise forms.ValidationError(errors)
        if not links:
            raise forms.ValidationError("Add at least one link.")
        if len(links) > MAX_LINKS:
            raise forms.ValidationError(f"At most {MAX_LINKS:,} links at a time.")
        return links


class LinkFileForm(forms.Form):
    file = forms.FileField(help_text="CSV, XLSX or XLS with one link per row.")
    url_column = forms.IntegerField(min_value=1, initial=2, label="URL column", help_text="1 is the first column")
    name_column = forms.IntegerField(min_value=1, required=False, initial=1, label="Name column",
                                     help_text="Leave empty to name each link by its URL")
    has_header = forms.BooleanField(required=False, initial=True, label="The first row is a header")

    def mapping(self) -> dict:
        data = self.cleaned_data
        mapping = {str(data["url_column"] - 1): "url"}
        if data.get("name_column"):
            if data["name_column"] == data["url_column"]:
                raise forms.ValidationError("The name and URL columns must differ.")
            mapping[str(data["name_column"] - 1)] = "name"
        return mapping
