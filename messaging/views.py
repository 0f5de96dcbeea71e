from django.shortcuts import render

from .models import ProviderAccount


def account_list(request):
    return render(request, "messaging/account_list.html", {"accounts": ProviderAccount.objects.all()})
