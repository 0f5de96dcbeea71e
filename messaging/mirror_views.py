"""Dashboard pages for mirrored entities: list (search, sync filter), create, edit, enable/disable.

One set of views serves campaigns, senders, templates, …; each entity passes its model, form
fields and columns. Saving goes through `mirror_changed`, which pushes to the provider.
"""

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Q
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.views.decorators.http import require_POST

from .mirror import SyncState
from .models import ProviderAccount
from .sync.push import mirror_changed, mirror_set_enabled

PAGE_SIZE = 50


class MirroredForm(forms.ModelForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        accounts = ProviderAccount.objects.filter(is_active=True, kind=ProviderAccount.Kind.MESSAGEWHIZ)
        if "account" in self.fields:
            self.fields["account"].queryset = accounts
            if self.instance.pk:
                self.fields["account"].disabled = True  # an object lives in one provider account
            elif accounts.count() == 1:
                self.fields["account"].initial = accounts.first()
        for name, field in self.fields.items():
            if isinstance(field, forms.ModelMultipleChoiceField):
                field.queryset = field.queryset.filter(enabled=True)
                field.widget.attrs["size"] = 8
            if isinstance(field, forms.DateTimeField):
                field.widget = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
            field.widget.attrs.setdefault("aria-describedby", f"help_{name}")


class MirrorPages:
    """The list/create/edit/toggle pages of one mirrored model, mounted under `prefix/`."""

    def __init__(self, *, model, fields, columns=("name",), search=("name",), title=None, help_text="",
                 form_class=MirroredForm, widgets=None, actions=()):
        self.model = model
        self.title = title or model._meta.verbose_name_plural.capitalize()
        self.singular = model._meta.verbose_name
        self.columns = columns
        self.search = search
        self.help_text = help_text
        self.form_class = forms.modelform_factory(model, form=form_class, fields=["account", *fields],
                                                  widgets=widgets)
        self.name = model._meta.model_name
        self.actions = actions  # (label, url name) links shown on an object's page, e.g. "Add links"

    def urls(self):
        return [
            path("", self.list_view, name=f"{self.name}_list"),
            path("new/", self.edit_view, name=f"{self.name}_create"),
            path("<int:pk>/", self.edit_view, name=f"{self.name}_edit"),
            path("<int:pk>/toggle/", require_POST(self.toggle_view), name=f"{self.name}_toggle"),
        ]

    def _url(self, request, action, *args):
        return reverse(f"{request.resolver_match.namespace}:{self.name}_{action}", args=args)

    def list_view(self, request):
        objects = self.model.objects.select_related("account").order_by("-enabled", *self.model._meta.ordering)
        query = request.GET.get("q", "").strip()
        if query:
            condition = Q()
            for field in self.search:
                condition |= Q(**{f"{field}__icontains": query})
            objects = objects.filter(condition)
        state = request.GET.get("sync", "")
        if state in SyncState.values:
            objects = objects.filter(sync_state=state)
        page = Paginator(objects, PAGE_SIZE).get_page(request.GET.get("page"))
        rows = [
            (obj, [getattr(obj, c) for c in self.columns], self._url(request, "edit", obj.pk),
             self._url(request, "toggle", obj.pk))
            for obj in page
        ]
        return render(request, "mirror/list.html", {
            "pages": self, "page": page, "rows": rows, "query": query, "state": state,
            "states": SyncState.choices, "columns": [self.model._meta.get_field(c).verbose_name for c in self.columns],
            "create_url": self._url(request, "create"),
        })

    def edit_view(self, request, pk=None):
        obj = get_object_or_404(self.model, pk=pk) if pk else None
        form = self.form_class(request.POST or None, instance=obj)
        if request.method == "POST" and form.is_valid():
            with transaction.atomic():
                obj = form.save(commit=False)
                mirror_changed(obj)
                form.save_m2m()
            messages.success(request, f"Saved “{obj}”. It is being sent to MessageWhiz.")
            return redirect(self._url(request, "list"))
        actions = [(label, reverse(name, args=[obj.pk])) for label, name in self.actions] if obj else []
        return render(request, "mirror/form.html", {
            "pages": self, "form": form, "object": obj, "list_url": self._url(request, "list"), "actions": actions,
        })

    def toggle_view(self, request, pk):
        obj = get_object_or_404(self.model, pk=pk)
        mirror_set_enabled(obj, not obj.enabled)
        verb = "Enabled" if obj.enabled else "Disabled"
        messages.success(request, f"{verb} “{obj}”. MessageWhiz is being updated.")
        return redirect(self._url(request, "list"))
