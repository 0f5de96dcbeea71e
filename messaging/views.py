from django.contrib.auth.decorators import permission_required
from django.core.paginator import Paginator
from django.db.models import Q
from django.shortcuts import get_object_or_404, render

from .models import ProviderAccount
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
