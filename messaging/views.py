from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.paginator import Paginator
from django.db.models import Q
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from .models import API_SCOPES, ApiToken, ProviderAccount
from .selectors import mirror_sync_problems


@permission_required("messaging.view_provideraccount", raise_exception=True)
def account_list(request):
    query = request.GET.get("q", "").strip()
    accounts = ProviderAccount.objects.order_by("name")
    if query:
        accounts = accounts.filter(Q(name__icontains=query) | Q(base_url__icontains=query))
    page = Paginator(accounts, 50).get_page(request.GET.get("page"))
    return render(request, "messaging/account_list.html", {"page": page, "query": query})


@permission_required("messaging.view_provideraccount", raise_exception=True)
def account_detail(request, pk):
    account = get_object_or_404(ProviderAccount, pk=pk)
    return render(request, "messaging/account_detail.html",
                  {"account": account, "problems": mirror_sync_problems(account=account, limit=50)})


class ApiTokenForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="Which system will use it")
    scopes = forms.MultipleChoiceField(
        choices=[(scope, f"{scope} — {label}") for scope, (label, _) in API_SCOPES.items()],
        widget=forms.CheckboxSelectMultiple, help_text="What it may do; never more than you may do yourself.")


@never_cache
@permission_required("messaging.add_apitoken", raise_exception=True)
def api_tokens(request):
    """The user's own API tokens; a new token's key is shown on this answer only (only its hash is kept)."""
    form = ApiTokenForm(request.POST or None)
    key = None
    if request.method == "POST" and form.is_valid():
        _, key = ApiToken.issue(name=form.cleaned_data["name"], user=request.user,
                                    scopes=form.cleaned_data["scopes"])
        form = ApiTokenForm()
    tokens = ApiToken.objects.filter(user=request.user).order_by("-is_active", "-created_at")
    return render(request, "messaging/api_tokens.html", {
        "form": form, "key": key, "tokens": [(token, [(scope, token.allows(scope)) for scope in token.scopes])
                                            for token in tokens]})


@require_POST
@permission_required("messaging.add_apitoken", raise_exception=True)
def api_token_revoke(request, pk):
    token = get_object_or_404(ApiToken, pk=pk, user=request.user)
    ApiToken.objects.filter(pk=token.pk).update(is_active=False)
    messages.success(request, f"Revoked “{token}”: requests with it are refused from now on.")
    return redirect("messaging:api_tokens")
