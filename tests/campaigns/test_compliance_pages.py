"""The compliance page: login and model permissions, the policy form (bad input is explained, never a
500), the latest opt-outs with their proof, one number's CSV, manual changes and GDPR erasure."""

import pytest
from django.contrib.auth.models import Permission, User

from messaging.models import ProviderAccount, SendingPolicy
from recipients.consent import consent_record, erased_hash
from recipients.models import ConsentEvent, Suppression

pytestmark = pytest.mark.django_db


@pytest.fixture
def account():
    return ProviderAccount.objects.create(name="Main", kind=ProviderAccount.Kind.GENERIC, api_key="")


def user_with(client, *perms):
    user = User.objects.create_user("officer", password="pw-12345-long")
    for perm in perms:
        app, codename = perm.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app, codename=codename))
    client.force_login(user)
    return user


def url(account, tail=""):
    return f"/accounts/{account.pk}/compliance/{tail}"


def test_the_page_needs_login_and_the_view_permission(client, account):
    assert client.get(url(account)).status_code == 302
    user_with(client)
    assert client.get(url(account)).status_code == 403
    assert client.post(url(account), {"window_start": "09:00"}).status_code == 403


def test_it_shows_the_window_caps_words_and_latest_opt_outs_with_proof(client, account, settings):
    settings.SENDING_WINDOW = "08:00-21:00"  # the production default
    user_with(client, "messaging.view_sendingpolicy")
    consent_record(account=account, phones=["380501234567"], kind="opt_out", source="keyword",
                   evidence={"inbound_message": 7, "text": "СТОП"})
    page = client.get(url(account)).content.decode()
    assert "08:00–21:00 in each recipient's local time" in page  # noqa: RUF001 — the page writes a time range with an en dash
    assert "380501234567" in page and "Keyword reply" in page and "СТОП" in page
    assert "<code>STOPALL</code>" in page
    assert "Change the policy" not in page  # no change permission


def test_saving_the_policy_and_bad_values_explained(client, account):
    user_with(client, "messaging.view_sendingpolicy", "messaging.change_sendingpolicy")
    form = {"window_start": "09:00", "window_end": "20:00", "days": "01234", "country_windows": '{"gb": {"start": '
            '"10:00", "end": "18:00"}}', "cap_messages": "3", "cap_hours": "24", "optout_words": "STOP",
            "optin_words": "START"}
    assert client.post(url(account), form).status_code == 302
    policy = SendingPolicy.objects.get(account=account)
    assert (str(policy.window_start), policy.cap_messages, policy.country_windows) == (
        "09:00:00", 3, {"GB": {"start": "10:00", "end": "18:00"}})
    for bad in ({"window_end": "08:00"}, {"days": "78"}, {"country_windows": "[1]"},
                {"country_windows": '{"GB": {"start": "late"}}'}, {"country_windows": "{nope"}):
        response = client.post(url(account), {**form, **bad})
        assert response.status_code == 200 and 'role="alert"' in response.content.decode()


def test_one_numbers_history_csv_manual_change_and_erasure(client, account):
    user = user_with(client, "messaging.view_sendingpolicy", "recipients.view_consentevent",
                     "recipients.add_consentevent", "recipients.erase_consentevent")
    assert client.post(url(account, "consent/"), {"phone": "+380501234567", "kind": "opt_out",
                                                  "note": "asked by phone"}).status_code == 302
    event = ConsentEvent.objects.get()
    assert (event.source, event.actor, event.evidence) == ("manual", user, {"note": "asked by phone"})
    assert client.post(url(account, "consent/"), {"phone": "nope", "kind": "opt_out", "note": "x"}).status_code == 302
    page = client.get(url(account), {"phone": "+380 50 123 45 67"}).content.decode()
    assert "asked by phone" in page and "GDPR erasure" in page
    csv = client.get(url(account, "consent.csv"), {"phone": "380501234567"})
    assert csv["Content-Type"] == "text/csv"
    assert "manual" in csv.content.decode() and "officer" in csv.content.decode()

    assert client.post(url(account, "erase/"), {"phone": "380501234567"}).status_code == 302
    assert ConsentEvent.objects.get().phone == erased_hash("380501234567")
    assert Suppression.objects.get().phone == erased_hash("380501234567")


def test_changes_need_their_own_permissions(client, account):
    user_with(client, "messaging.view_sendingpolicy")
    assert client.post(url(account, "consent/"), {"phone": "380501234567", "kind": "opt_in",
                                                  "note": "x"}).status_code == 403
    assert client.post(url(account, "erase/"), {"phone": "380501234567"}).status_code == 403
    assert client.get(url(account, "consent.csv"), {"phone": "380501234567"}).status_code == 403


def test_the_admin_ledger_is_read_only(admin_client, account):
    consent_record(account=account, phones=["380501234567"], kind="opt_out", source="api", evidence={})
    event = ConsentEvent.objects.get()
    assert admin_client.get(f"/admin/recipients/consentevent/{event.pk}/delete/").status_code == 403
    assert admin_client.get("/admin/recipients/consentevent/add/").status_code == 403
    response = admin_client.post("/admin/recipients/consentevent/", {"action": "erase_numbers",
                                                                     "_selected_action": [event.pk]})
    assert response.status_code == 302
    assert ConsentEvent.objects.get().phone.startswith("erased:")


def test_the_api_records_consent_with_the_tokens_user_as_actor(client, account):
    from messaging.models import ApiToken

    user = User.objects.create_user("crm")
    _, key = ApiToken.issue(name="CRM", user=user)
    auth = {"HTTP_AUTHORIZATION": f"Bearer {key}"}

    def post(body, **headers):
        return client.post("/api/consent", body, content_type="application/json", **headers)

    assert post({"account": "Main", "phone": "+380501234567", "kind": "opt_out"}).status_code == 401
    assert post({"account": "Main", "phone": "+380501234567", "kind": "opt_out"}, **auth).status_code == 403
    user.user_permissions.add(Permission.objects.get(codename="add_consentevent"))
    for bad in ("[1]", "{nope", {"account": "Nope"}, {"account": "Main", "phone": "12", "kind": "opt_out"},
                {"account": "Main", "phone": "+380501234567", "kind": "maybe"},
                {"account": "Main", "phone": "+380501234567", "kind": "opt_out", "evidence": "x" * 10}):
        assert post(bad, **auth).status_code == 400
    response = post({"account": "Main", "phone": "+380501234567", "kind": "opt_out",
                     "evidence": {"crm_case": "C-1"}}, **auth)
    assert response.json() == {"ok": True, "phone": "380501234567", "kind": "opt_out"}
    event = ConsentEvent.objects.get()
    assert (event.source, event.actor, event.evidence) == ("api", user, {"crm_case": "C-1"})
    assert Suppression.objects.filter(phone="380501234567").exists()
