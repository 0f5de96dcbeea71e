import re

import pytest
from django.urls import URLResolver, get_resolver, resolve, reverse

from campaigns.api import operation_names

# Reachable without signing in, each for a reason. Static files are served by whitenoise before
# URL routing and are not URL patterns.
PUBLIC = {
    "healthz",  # load balancers
    "favicon",  # browsers ask for it on the login page too
    "login", "admin:login",
    # Django's password reset: the link in the e-mail is the credential.
    "password_reset", "password_reset_done", "password_reset_confirm", "password_reset_complete",
    # Providers post reports and clicks; the secret token in the URL authenticates them.
    "callbacks:dlr", "callbacks:dlr_batch", "callbacks:click", "callbacks:ping",
    "provider_callbacks:dlr", "provider_callbacks:inbound",
    # Recipients open the links in their messages; the signed token in the URL names the message.
    "link_redirect", "optout",
    # Back-office systems call these with a bearer token (messaging.api_auth).
    "campaigns:api_otp_send", "campaigns:api_otp_verify", "campaigns:api_consent",
}
# The REST API's operations, likewise (tests/campaigns/test_api.py: 401 without a token).
API_V1 = {f"api-v1:{name}" for name in operation_names()}
PUBLIC |= API_V1
SAMPLE = {"int": "1", "str": "x", "path": "x", "slug": "x", "uuid": "00000000-0000-0000-0000-000000000000"}


def url_patterns(patterns=None, prefix="", namespace=""):
    """(name, an example URL) of every URL pattern, the included ones too."""
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from url_patterns(pattern.url_patterns, route,
                                    f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace)
            continue
        name = f"{namespace}{pattern.name or route}"
        if name not in PUBLIC:
            yield name, "/" + example(route)


def example(route: str) -> str:
    """A path matching the route: converters get a sample value; a regex group its first
    alternative (admin's app list) or "x"."""
    route = re.sub(r"<(?:(\w+):)?\w+>", lambda m: SAMPLE[m.group(1) or "str"], route)
    route = re.sub(r"\(\?P<\w+>(\w*)[^)]*\)", lambda m: m.group(1) or "x", route)
    return route.replace("^", "").replace("$", "")


PATTERNS = dict(url_patterns())


def test_every_pattern_is_walked():
    for name, url in PATTERNS.items():
        match = resolve(url)
        assert f"{match.namespace}:{match.url_name}".lstrip(":") == name or match.url_name is None, (name, url)
    assert {"home", "campaigns:broadcast_detail", "callbacks:settings", "admin:index"} <= set(PATTERNS)
    assert len(PATTERNS) > 100  # the admin's pages included


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "url"), PATTERNS.items(), ids=PATTERNS.keys())
def test_every_page_redirects_anonymous_users_to_login(client, name, url):
    response = client.get(url)
    assert response.status_code == 302, (name, url, response.status_code)
    assert response["Location"].split("?")[0] in (reverse("login"), reverse("admin:login")), response["Location"]


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(PUBLIC - API_V1 - {"password_reset_confirm", "admin:login"}))
def test_public_endpoints_answer_without_login(client, name):
    with_token = name.startswith(("callbacks:", "provider_callbacks:")) or name in (
        "link_redirect", "optout")
    url = reverse(name, kwargs={"token": "x"} if with_token else None)
    response = client.get(url)
    assert "login" not in response.get("Location", ""), (name, response.status_code)


def test_the_admin_signs_in_through_the_sites_own_page(client):
    """The admin's login form neither throttles nor asks for the second factor: it hands over."""
    response = client.get(reverse("admin:login") + "?next=/admin/messaging/")
    assert response.status_code == 302
    assert response["Location"] == reverse("login") + "?next=%2Fadmin%2Fmessaging%2F"


@pytest.mark.django_db
def test_signed_in_user_sees_the_dashboard(client, django_user_model):
    django_user_model.objects.create_user("marketer", password="a-long-passphrase-42")
    response = client.post(reverse("login"), {"username": "marketer", "password": "a-long-passphrase-42"})
    assert response.status_code == 302
    page = client.get(reverse("home"))
    assert page.status_code == 200
    assert b"Overview" in page.content


@pytest.mark.django_db
def test_wrong_password_shows_an_error(client, django_user_model):
    django_user_model.objects.create_user("marketer", password="a-long-passphrase-42")
    response = client.post(reverse("login"), {"username": "marketer", "password": "nope"})
    assert response.status_code == 200
    assert b"username and password didn&#x27;t match" in response.content


@pytest.mark.django_db
def test_health_check_needs_no_login(client):
    response = client.get(reverse("healthz"))
    assert response.status_code == 200
    assert response.json() == {"ok": True}


@pytest.mark.django_db
def test_static_files_are_served(client):
    # whitenoise serves /static/ (with finders in tests); the stylesheet must be reachable.
    from django.contrib.staticfiles import finders

    assert finders.find("css/app.css")


# Provider settings and callback URLs (which carry the token that authenticates delivery reports)
# need model permissions; being signed in, or staff, is not enough.
NEEDS_PERMISSION = {name: url for name, url in PATTERNS.items()
                    if name.startswith(("providers:", "messaging:account_")) or name == "callbacks:settings"}


@pytest.mark.django_db
@pytest.mark.parametrize("staff", [False, True], ids=["user", "staff"])
def test_users_without_permissions_get_403_on_provider_and_callback_pages(client, django_user_model, staff):
    assert len(NEEDS_PERMISSION) >= 10
    client.force_login(django_user_model.objects.create_user("marketer", password="pw", is_staff=staff))
    for name, url in NEEDS_PERMISSION.items():
        assert client.get(url).status_code == 403, (name, url)
        assert client.post(url, {}).status_code == 403, (name, url)
    menu = client.get(reverse("home")).content.decode()
    for name in ("callbacks:settings", "providers:list", "messaging:account_list"):
        assert f'href="{reverse(name)}"' not in menu, name


@pytest.mark.django_db
def test_the_change_permission_on_provider_accounts_shows_the_callback_urls(client, django_user_model):
    from django.contrib.auth.models import Permission

    from messaging.models import ProviderAccount

    account = ProviderAccount.objects.create(name="Sandbox", api_key="k")
    user = django_user_model.objects.create_user("admin2", password="pw")
    user.user_permissions.add(Permission.objects.get(codename="change_provideraccount"))
    client.force_login(user)
    page = client.get(reverse("callbacks:settings"))
    assert page.status_code == 200 and account.callback_token in page.content.decode()
    assert f'href="{reverse("callbacks:settings")}"' in client.get(reverse("home")).content.decode()
@pytest.mark.django_db
def test_favicon_is_served_without_login(client):
    from django.contrib.staticfiles import finders

    response = client.get("/favicon.ico")
    assert response.status_code == 302
    assert response["Location"].endswith("favicon.ico")
    with open(finders.find("favicon.ico"), "rb") as icon:
        assert icon.read(4) == b"\x00\x00\x01\x00"  # an ICO file
    page = client.get(reverse("login")).content.decode()
    assert 'rel="icon" href="/static/favicon.ico"' in page
