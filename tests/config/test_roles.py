"""Every page as each role: which roles may open it (GET) and which may act on it (POST).

ACCESS below is the declared table, one entry per URL pattern outside the admin. A new page fails
`test_every_page_has_an_entry` until it gets one: add `"app:url_name": (GET roles, POST roles)`.
Roles: V(iewer), M(arketer), P (Approver), A(dmin); SELF is every signed-in user, even one in no
role (their own login's pages). "Allowed" means anything but 403 (a POST with no data answers
200/302 with a form error, 404 or 405 — but never 500); the check happens before the view reads
its input. The admin's pages are Django's own model-permission checks (tested below through
the actions they offer); public pages are tests/config/test_login_required.PUBLIC.
"""

import io

import pytest
from django.contrib import admin
from django.urls import reverse

from tests.config.test_login_required import PATTERNS

V, M, P, A = "Viewer", "Marketer", "Approver", "Admin"
ROLES = (V, M, P, A)
NOBODY = "no role"
ALL = {V, M, P, A}
SELF = {*ALL, NOBODY}
MAKERS = {M, A}  # lists, content, broadcasts, sending
APPROVERS = {P, A}
ADMIN = {A}


def mirrored(app: str, model: str, **extra) -> dict:
    """The pages of a mirrored model (messaging.mirror_views.MirrorPages): everyone reads, the
    makers create, change, sync and enable/disable."""
    return {f"{app}:{model}_list": (ALL, ALL), f"{app}:{model}_sync": (MAKERS, MAKERS),
            f"{app}:{model}_create": (MAKERS, MAKERS), f"{app}:{model}_edit": (ALL, MAKERS),
            f"{app}:{model}_toggle": (MAKERS, MAKERS),
            **{f"{app}:{model}_{action}": (MAKERS, MAKERS) for action in extra.get("actions", ())}}


ACCESS = {
    "home": (ALL, ALL),
    "two_factor": (SELF, SELF), "logout": (SELF, SELF),
    "password_change": (SELF, SELF), "password_change_done": (SELF, SELF),
    # setup
    "messaging:account_list": (ALL, ALL), "messaging:account_detail": (ALL, ALL),
    **mirrored("messaging", "sender"), **mirrored("messaging", "senderlist"),
    "callbacks:settings": (ADMIN, ADMIN),
    "messaging:api_tokens": (ADMIN, ADMIN), "messaging:api_token_revoke": (ADMIN, ADMIN),
    "messaging:audit": (ADMIN, ADMIN), "messaging:audit_export": (ADMIN, ADMIN),
    **{f"webhooks:{name}": (ADMIN, ADMIN) for name in ("list", "create", "detail", "edit", "attempt", "redeliver",
                                                        "resume", "rotate", "test")},
    # The REST API's documentation (no data; its operations take tokens: test_login_required.API_V1).
    "api-v1:api-root": (SELF, SELF), "api-v1:openapi-json": (SELF, SELF), "api-v1:openapi-view": (SELF, SELF),
    "providers:list": (ALL, ALL), "providers:create": (ADMIN, ADMIN), "providers:detail": (ALL, ALL),
    "providers:edit": (ADMIN, ADMIN), "providers:test_send": (ADMIN, ADMIN),
    "providers:templates": (ALL, ALL), "providers:template_create": (MAKERS, MAKERS),
    "providers:template_edit": (MAKERS, MAKERS), "providers:template_test": (ADMIN, ADMIN),
    "providers:inbound": (ALL, ALL), "providers:prices": (ADMIN, ADMIN),
    "campaigns:provider_health": (ALL, ALL),
    # content
    **mirrored("campaigns", "campaign"), **mirrored("campaigns", "template"),
    **mirrored("campaigns", "link", actions=["refresh"]), **mirrored("campaigns", "linklist"),
    **mirrored("campaigns", "wordspinner"), **mirrored("campaigns", "trigger"),
    "campaigns:campaign_detail": (ALL, ALL),
    "campaigns:linklist_add_links": (MAKERS, MAKERS), "campaigns:linklist_import": (MAKERS, MAKERS),
    # sending
    "campaigns:otp": (MAKERS, MAKERS),
    "campaigns:broadcast_list": (ALL, ALL), "campaigns:compose": (MAKERS, MAKERS),
    "campaigns:broadcast_edit": (MAKERS, MAKERS), "campaigns:broadcast_duplicate": (MAKERS, MAKERS),
    "campaigns:broadcast_delete": (MAKERS, MAKERS), "campaigns:broadcast_test_send": (MAKERS, MAKERS),
    "campaigns:broadcast_review": (ALL, ALL), "campaigns:broadcast_estimate": (MAKERS, MAKERS),
    "campaigns:broadcast_confirm": (MAKERS, MAKERS), "campaigns:recurrence_stop": (MAKERS, MAKERS),
    "campaigns:broadcast_detail": (ALL, ALL), "campaigns:broadcast_figures": (ALL, ALL),
    "campaigns:broadcast_export": (ALL, ALL), "callbacks:broadcast_timeline": (ALL, ALL),
    "campaigns:broadcast_cancel": (MAKERS, MAKERS), "campaigns:broadcast_dispatch": (ALL, MAKERS),
    "campaigns:broadcast_continue": (MAKERS, MAKERS), "campaigns:abtest_stop": (MAKERS, MAKERS),
    "campaigns:approvals": (ALL, ALL),
    "campaigns:broadcast_approve": (APPROVERS, APPROVERS), "campaigns:broadcast_reject": (APPROVERS, APPROVERS),
    # costs: read by everyone who reads broadcasts
    **{f"campaigns:{name}": (ALL, ALL) for name in ("broadcast_costs", "broadcast_costs_export", "campaign_costs",
                                                     "campaign_costs_export", "costs", "costs_export")},
    # compliance: everyone reads it, the Admin changes it
    "campaigns:compliance": (ALL, ADMIN), "campaigns:consent_export": (ALL, ALL),
    "campaigns:consent_change": (ADMIN, ADMIN), "campaigns:consent_erase": (ADMIN, ADMIN),
    # audience
    "recipients:list_index": (ALL, ALL), "recipients:unsubscribe_index": (ALL, ALL),
    "recipients:list_new": (MAKERS, MAKERS), "recipients:list_detail": (ALL, ALL),
    "recipients:list_action": (MAKERS, MAKERS), "recipients:list_download": (ALL, ALL),
    "recipients:import_upload": (MAKERS, MAKERS), "recipients:import_map": (MAKERS, MAKERS),
    "recipients:import_job": (ALL, ALL), "recipients:import_job_status": (ALL, ALL),
    "recipients:import_job_rejects": (ALL, ALL),
}

PAGES = {name: url for name, url in PATTERNS.items() if not name.startswith("admin:")}


def test_every_page_has_an_entry():
    assert set(PAGES) - set(ACCESS) == set(), "pages with no entry in ACCESS"
    assert set(ACCESS) - set(PAGES) == set(), "entries for pages that no longer exist"


@pytest.fixture
def objects(db):
    """One real object of every kind the URLs name, each with id 1 (the walked URLs use 1)."""
    from campaigns.models import Broadcast, Campaign, Link, LinkList, RecurringBroadcast, Template, Trigger, WordSpinner
    from messaging.models import GenericProviderConfig, ProviderAccount, Sender, SenderList, WhatsAppTemplate
    from recipients.models import ImportJob, RecipientList, UnsubscribeList

    # Generic (the provider pages need one); its endpoint is never called: no form below is valid.
    account = ProviderAccount.objects.create(pk=1, name="Route", kind=ProviderAccount.Kind.GENERIC, api_key="k")
    GenericProviderConfig.objects.create(account=account, endpoint="https://sms.example.invalid/send")
    WhatsAppTemplate.objects.create(pk=1, account=account, name="hello", language="en", body="Hello")
    for model, fields in ((Sender, {"name": "Shop"}), (SenderList, {}), (Campaign, {}), (Template, {"body": "Hi"}),
                          (Link, {"url": "https://shop.example/"}), (LinkList, {}), (WordSpinner, {"words": "a,b"}),
                          (Trigger, {}), (RecipientList, {}), (UnsubscribeList, {})):
        model.objects.create(pk=1, account=account, **({"name": "One"} | fields))
    ImportJob.objects.create(pk=1, account=account)
    Broadcast.objects.create(pk=1, account=account, name="Spring sale", body="Hi")
    definition = Broadcast.objects.create(pk=2, account=account, name="Weekly", body="Hi")
    RecurringBroadcast.objects.create(pk=1, definition=definition, enabled=False)
    # Ids given explicitly leave PostgreSQL's sequences behind: the next row a page makes would take 1.
    from django.core.management.color import no_style
    from django.db import connection

    with connection.cursor() as cursor:
        for sql in connection.ops.sequence_reset_sql(no_style(), [
                ProviderAccount, WhatsAppTemplate, GenericProviderConfig, Sender, SenderList, Campaign, Link, LinkList,
                Template, Trigger, WordSpinner, RecipientList, UnsubscribeList, ImportJob, Broadcast,
                RecurringBroadcast]):
            cursor.execute(sql)


def signed_in(client_class, user):
    client = client_class()
    client.force_login(user)
    return client


@pytest.mark.parametrize("name", sorted(PAGES))
def test_each_role_opens_and_uses_exactly_its_pages(name, objects, role_user, django_user_model):
    from django.test import Client

    users = {role: role_user(role) for role in ROLES}
    users[NOBODY] = django_user_model.objects.create_user("newcomer")
    may_get, may_post = ACCESS[name]
    url = PAGES[name]
    for role, user in users.items():
        client = signed_in(Client, user)
        for method, allowed in (("get", may_get), ("post", may_post)):
            status = getattr(client, method)(url).status_code
            assert status < 500, (name, role, method, status)
            assert (status != 403) == (role in allowed), (name, role, method.upper(), status)


@pytest.mark.django_db
def test_the_menu_shows_only_the_pages_the_role_may_open(client, role_user):
    from config.context_processors import NAVIGATION

    names = [name for _, links in NAVIGATION for _, name in links]
    for role in ROLES:
        client.force_login(role_user(role))
        menu = client.get(reverse("campaigns:approvals")).content.decode()
        menu = menu.split('<nav aria-label="Main">')[1].split("</nav>")[0]
        for name in names:
            assert (f'href="{reverse(name)}"' in menu) == (role in ACCESS[name][0]), (role, name)


@pytest.mark.django_db
def test_buttons_for_what_the_role_may_not_do_are_not_shown(client, objects, role_user):
    client.force_login(role_user(V))
    detail = client.get(reverse("campaigns:broadcast_detail", args=[1])).content.decode()
    for name in ("broadcast_review", "broadcast_edit", "broadcast_test_send", "broadcast_delete",
                 "broadcast_duplicate", "broadcast_cancel"):
        assert reverse(f"campaigns:{name}", args=[1]) not in detail, name
    templates = client.get(reverse("campaigns:template_list")).content.decode()
    assert reverse("campaigns:template_create") not in templates
    assert reverse("campaigns:template_toggle", args=[1]) not in templates
    client.force_login(role_user(M))
    detail = client.get(reverse("campaigns:broadcast_detail", args=[1])).content.decode()
    assert reverse("campaigns:broadcast_review", args=[1]) in detail
    assert reverse("campaigns:template_create") in client.get(reverse("campaigns:template_list")).content.decode()


def test_every_admin_action_names_the_permission_it_needs():
    """Django checks an action's `allowed_permissions`; one without them would be open to anyone
    who may merely view the list. (delete_selected checks the delete permission itself; the
    beat schedule's admin is django-celery-beat's, and no role holds its permissions.)"""
    ours = {"messaging", "recipients", "campaigns", "callbacks"}
    for model, model_admin in admin.site._registry.items():
        for action in model_admin.actions or () if model._meta.app_label in ours else ():
            func = getattr(model_admin, action) if isinstance(action, str) else action
            assert getattr(func, "allowed_permissions", None), (model.__name__, action)


@pytest.mark.django_db
def test_the_admin_offers_each_role_only_its_models_and_actions(client, role_user):
    viewer, admin_user = role_user(V, is_staff=True), role_user(A, "boss", is_staff=True)
    client.force_login(viewer)
    assert client.get(reverse("admin:messaging_apitoken_changelist")).status_code == 403
    assert client.get(reverse("admin:messaging_provideraccount_add")).status_code == 403
    assert client.get(reverse("admin:auth_user_changelist")).status_code == 403
    links = client.get(reverse("admin:campaigns_link_changelist"))
    assert links.status_code == 200 and b"push_now" not in links.content and b"export_csv" in links.content
    client.force_login(admin_user)
    for name in ("admin:messaging_apitoken_changelist", "admin:messaging_provideraccount_add",
                 "admin:auth_user_changelist"):
        assert client.get(reverse(name)).status_code == 200, name
    assert b"push_now" in client.get(reverse("admin:campaigns_link_changelist")).content


@pytest.mark.django_db
def test_roles_follow_permissions_added_later(django_user_model):
    """A permission a later migration declares lands in its group when `sync_roles` (or migrate) runs."""
    from django.contrib.auth.models import Group, Permission
    from django.core.management import call_command

    marketer = Group.objects.get(name=M)
    send = Permission.objects.get(codename="send_broadcast")
    marketer.permissions.remove(send)
    stray = Permission.objects.get(codename="delete_provideraccount")
    marketer.permissions.add(stray)
    call_command("sync_roles", stdout=io.StringIO())
    held = set(marketer.permissions.values_list("codename", flat=True))
    assert "send_broadcast" in held and "delete_provideraccount" not in held
    assert "approve_broadcast" not in held
    assert "approve_broadcast" in set(Group.objects.get(name=P).permissions.values_list("codename", flat=True))
