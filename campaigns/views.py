import tempfile

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render

from messaging.models import ProviderAccount
from messaging.permissions import permission_required_for
from messaging.selectors import worker_heartbeat
from recipients.errors import ImportProblem

from .forms import LinkFileForm, NewLinksForm
from .link_lists import link_list_add_new_links, link_list_import
from .models import Campaign, LinkList
from .selectors import broadcasts_search, campaign_figures, overview


def home(request):
    """The overview for whoever may read broadcasts; a user without a role yet is told so."""
    if not request.user.has_perm("campaigns.view_broadcast"):
        return render(request, "no_role.html", status=403)
    days = 30 if request.GET.get("days") == "30" else 7
    return render(request, "home.html", {"account_count": ProviderAccount.objects.count(),
                                         "heartbeat": worker_heartbeat(), **overview(days=days)})


@permission_required_for("campaigns.view_campaign")
def campaign_detail(request, pk):
    """A campaign's figures (summed over its broadcasts) and its broadcasts."""
    campaign = get_object_or_404(Campaign.objects.select_related("account"), pk=pk)
    page = Paginator(broadcasts_search(campaign=campaign), 25).get_page(request.GET.get("page"))
    return render(request, "campaigns/campaign_detail.html",
                  {"campaign": campaign, "figures": campaign_figures(campaign), "page": page})


@permission_required_for("campaigns.change_linklist")
def link_list_add_links(request, pk):
    link_list = get_object_or_404(LinkList, pk=pk)
    form = NewLinksForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        links = form.cleaned_data["links"]
        link_list_add_new_links(account=link_list.account, links=links, link_list=link_list)
        messages.success(request, f"Added {len(links)} link(s) to “{link_list}”. MessageWhiz is being updated.")
        return redirect("campaigns:linklist_edit", pk=link_list.pk)
    return render(request, "campaigns/link_list_add_links.html", {"form": form, "link_list": link_list})


@permission_required_for("campaigns.change_linklist")
def link_list_import_file(request, pk):
    link_list = get_object_or_404(LinkList, pk=pk)
    form = LinkFileForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            with tempfile.NamedTemporaryFile(suffix=".upload") as stored:
                for chunk in form.cleaned_data["file"].chunks():
                    stored.write(chunk)
                stored.flush()
                result = link_list_import(account=link_list.account, path=stored.name, mapping=form.mapping(),
                                          link_list=link_list, has_header=form.cleaned_data["has_header"])
        except (ImportProblem, forms.ValidationError) as problem:
            form.add_error(None, getattr(problem, "message", None) or "; ".join(problem.messages))
        else:
            messages.success(request, f"Added {result.inserted} link(s) to “{link_list}”; "
                                      f"{len(result.rejected)} row(s) skipped. MessageWhiz is being updated.")
            return render(request, "campaigns/link_list_import.html",
                          {"form": LinkFileForm(), "link_list": link_list, "result": result})
    return render(request, "campaigns/link_list_import.html", {"form": form, "link_list": link_list})
