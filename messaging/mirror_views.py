"""Dashboard pages for mirrored entities: list (search, sync filter, "Sync now"), create, edit,
enable/disable.

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
from .permissions import permission_required_for
from .selectors import mirror_accounts
from .sync import resources
from .sync.pull import mirror_pull_later, pull_in_progress, pull_status
from .sync.push import mirror_changed, mirror_set_enabled

PAGE_SIZE = 50
MEMBER_PAGE_SIZE = 25
MEMBER_RESULTS = 20


def other_account_members(members, account) -> list[str]:
    """Why each of `members` of another provider account cannot join a list of `account`."""
    return [f"“{member}” belongs to the provider account “{member.account}”; this list is in “{account}”."
            for member in members if member.account_id != account.pk]


class MirroredForm(forms.ModelForm):
    """A mirrored object's fields; a list's members are added and removed explicitly (`<field>_add`,
    `<field>_remove`), so a page that shows only some of them never drops the others."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        accounts = mirror_accounts()
        if "account" in self.fields:
            self.fields["account"].queryset = accounts
            if self.instance.pk:
                self.fields["account"].disabled = True  # an object lives in one provider account
            elif accounts.count() == 1:
                self.fields["account"].initial = accounts.first()
        self.member_field = None
        for name, field in list(self.fields.items()):
            if isinstance(field, forms.ModelMultipleChoiceField):
                self.member_field = name
                del self.fields[name]
                model = field.queryset.model
                for action in ("add", "remove"):
                    self.fields[f"{name}_{action}"] = forms.ModelMultipleChoiceField(
                        model.objects.select_related("account"), required=False, widget=forms.MultipleHiddenInput,
                        error_messages={"invalid_choice": f"A {model._meta.verbose_name} you ticked to {action} "
                                                          "no longer exists (deleted meanwhile?); tick again."})
            elif isinstance(field, forms.DateTimeField):
                field.widget = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
        for name, field in self.fields.items():
            if field.help_text:
                field.widget.attrs.setdefault("aria-describedby", f"help_{name}")

    def clean(self):
        cleaned = super().clean()
        if self.member_field is None:
            return cleaned
        # The member fields are hidden inputs: their errors show with the form's own.
        for action in ("add", "remove"):
            for error in self.errors.pop(f"{self.member_field}_{action}", []):
                self.add_error(None, error)
        account = cleaned.get("account") or getattr(self.instance, "account", None)
        if account is not None:
            for error in other_account_members(cleaned.get(f"{self.member_field}_add") or [], account):
                self.add_error(None, error)
        return cleaned

    def _save_m2m(self):
        super()._save_m2m()
        if self.member_field:
            members = getattr(self.instance, self.member_field)
            members.remove(*self.cleaned_data[f"{self.member_field}_remove"])
            members.add(*self.cleaned_data[f"{self.member_field}_add"])


class MirrorPages:
    """The list/create/edit/toggle/sync pages of one mirrored model, mounted under `prefix/`."""

    def __init__(self, *, model, fields, columns=("name",), search=("name",), title=None, help_text="",
                 form_class=MirroredForm, widgets=None, actions=(), panel="", object_actions=None):
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
        self.panel = panel  # a template shown on an object's page, e.g. a link's conversion figures
        # Buttons on an object's page, each queuing a task that takes a list of ids:
        # {"refresh": ("Refresh conversion", refresh_link_conversions), …}
        self.object_actions = object_actions or {}

    def perm(self, action: str) -> str:
        return f"{self.model._meta.app_label}.{action}_{self.name}"

    def urls(self):
        """Reading needs the model's view permission, creating its add, changing (also a sync,
        which overwrites local copies, and enabling or disabling) its change permission."""
        view, add, change = self.perm("view"), self.perm("add"), self.perm("change")
        return [
            path("", permission_required_for(view)(self.list_view), name=f"{self.name}_list"),
            path("sync/", permission_required_for(change)(require_POST(self.sync_view)), name=f"{self.name}_sync"),
            path("new/", permission_required_for(add)(self.edit_view), name=f"{self.name}_create"),
            path("<int:pk>/", permission_required_for(view, change)(self.edit_view), name=f"{self.name}_edit"),
            path("<int:pk>/toggle/", permission_required_for(change)(require_POST(self.toggle_view)),
                 name=f"{self.name}_toggle"),
            *(path(f"<int:pk>/{action}/", permission_required_for(change)(require_POST(self.object_action_view)),
                   {"action": action}, name=f"{self.name}_{action}") for action in self.object_actions),
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
        syncs = self._sync_statuses()
        return render(request, "mirror/list.html", {
            "pages": self, "page": page, "rows": rows, "query": query, "state": state,
            "states": SyncState.choices, "columns": [self.model._meta.get_field(c).verbose_name for c in self.columns],
            "create_url": self._url(request, "create"), "sync_url": self._url(request, "sync"),
            "syncs": syncs, "syncing": any(status["running"] for _, status in syncs),
            "can_add": request.user.has_perm(self.perm("add")),
            "can_change": request.user.has_perm(self.perm("change")),
        })

    def _sync_statuses(self):
        """[(account, status)] of the latest pull of this kind per account, for the "Sync now" panel."""
        key = resources.for_model(self.model).key
        statuses = []
        for account in mirror_accounts():
            status = pull_status(account.pk, key)
            statuses.append((account, {**(status or {}), "running": pull_in_progress(status)}))
        return statuses

    def sync_view(self, request):
        """"Sync now": pull this kind (its members first) from MessageWhiz for one or every account."""
        accounts = mirror_accounts()
        if request.POST.get("account", "").isdigit():
            accounts = accounts.filter(pk=request.POST["account"])
        account_ids = list(accounts.values_list("pk", flat=True))
        queued = mirror_pull_later(account_ids=account_ids, key=resources.for_model(self.model).key)
        if queued:
            messages.success(request, f"Syncing {self.title.lower()} from MessageWhiz; this page updates when done.")
        elif account_ids:
            messages.info(request, f"A sync of {self.title.lower()} is already under way; this page updates when done.")
        else:
            messages.error(request, "No active MessageWhiz account to sync from.")
        return redirect(self._url(request, "list"))

    def edit_view(self, request, pk=None):
        obj = get_object_or_404(self.model.objects.select_related("account"), pk=pk) if pk else None
        form = self.form_class(request.POST or None, instance=obj)
        if request.method == "POST" and form.is_valid():
            with transaction.atomic():
                obj = form.save(commit=False)
                mirror_changed(obj)
                form.save_m2m()
            messages.success(request, f"Saved “{obj}”. It is being sent to MessageWhiz.")
            return redirect(self._url(request, "list"))
        actions = [(label, reverse(name, args=[obj.pk])) for label, name in self.actions] if obj else []
        object_actions = [(label, self._url(request, action, obj.pk))
                          for action, (label, _) in self.object_actions.items()] if obj else []
        return render(request, "mirror/form.html", {
            "pages": self, "form": form, "object": obj, "list_url": self._url(request, "list"), "actions": actions,
            "object_actions": object_actions, "members": self._members(request, form, obj),
            "can_change": request.user.has_perm(self.perm("change")),
            "can_save": request.user.has_perm(self.perm("change" if obj else "add")),
        })

    def _members(self, request, form, obj) -> dict | None:
        """A page of the list's current members (to remove) and a search for more (to add)."""
        name = form.member_field
        if name is None:
            return None
        field = self.model._meta.get_field(name)
        model = field.related_model
        current = getattr(obj, name).select_related("account").order_by("name", "pk") if obj else model.objects.none()
        query = request.GET.get("members_q", "").strip()
        results = []
        if query:
            candidates = model.objects.select_related("account").filter(name__icontains=query)
            if obj is not None:
                candidates = candidates.filter(account=obj.account).exclude(pk__in=current.values("pk"))
            results = candidates.order_by("-enabled", "name", "pk")[:MEMBER_RESULTS]
        return {
            "label": field.verbose_name, "singular": model._meta.verbose_name, "field": name,
            "page": Paginator(current, MEMBER_PAGE_SIZE).get_page(request.GET.get("members_page")),
            "query": query, "results": results,
            "adding": {str(pk) for pk in form[f"{name}_add"].value() or []},
            "removing": {str(pk) for pk in form[f"{name}_remove"].value() or []},
        }

    def toggle_view(self, request, pk):
        obj = get_object_or_404(self.model, pk=pk)
        mirror_set_enabled(obj, not obj.enabled)
        verb = "Enabled" if obj.enabled else "Disabled"
        messages.success(request, f"{verb} “{obj}”. MessageWhiz is being updated.")
        return redirect(self._url(request, "list"))

    def object_action_view(self, request, pk, action):
        obj = get_object_or_404(self.model, pk=pk)
        label, task = self.object_actions[action]
        transaction.on_commit(lambda: task.delay([obj.pk]))
        messages.success(request, f"{label}: on its way. Reload this page in a moment to see the result.")
        return redirect(self._url(request, "edit", pk))
