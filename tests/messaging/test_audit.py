"""The audit trail: who changed what (secrets only as "changed"), who signed in or failed to,
what was exported, with the address; a page with filters and a CSV export; entries the database
itself refuses to change."""

import csv
import io
import uuid

import pytest
from django.db import DatabaseError, transaction
from django.urls import reverse

from messaging.models import AuditEvent, ProviderAccount
from recipients.models import Recipient, RecipientList
from tests.providers.stub import StubServer
from tests.providers.test_pages import form_data

pytestmark = pytest.mark.django_db
PASSWORD = "a-long-passphrase-42"


@pytest.fixture(autouse=True)
def _own_cache(settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                   "LOCATION": uuid.uuid4().hex}}


@pytest.fixture
def stub():
    server = StubServer().start()
    yield server
    server.stop()


def test_provider_changes_are_recorded_with_the_actor_and_never_the_secrets(admin_client, admin_user, stub):
    admin_client.post("/providers/generic/new/", form_data(stub, params_text="api_key=P-777"),
                      REMOTE_ADDR="198.51.100.7")
    account = ProviderAccount.objects.get(name="Acme SMS")
    admin_client.post(f"/providers/generic/{account.pk}/edit/",
                      form_data(stub, name="Acme SMS (EU)", password="n3w-pass", headers_text="apikey: KEY-999",
                                endpoint=f"{stub.url}/v2/sms?token=T-42", params_text="api_key=P-778"))

    created = AuditEvent.objects.get(action="create", object_type="messaging.provideraccount")
    assert (created.actor, created.actor_name, created.ip) == (admin_user, "admin", "198.51.100.7")
    change = AuditEvent.objects.get(action="change", object_type="messaging.genericproviderconfig")
    assert change.changes["password"] == "changed" and change.changes["headers"] == "changed"
    assert change.changes["params"] == "changed"
    assert change.changes["endpoint"][1].endswith("/v2/sms?token=********")
    renamed = AuditEvent.objects.get(action="change", object_type="messaging.provideraccount")
    assert renamed.changes == {"name": ["Acme SMS", "Acme SMS (EU)"]}
    # Not one secret, old or new, anywhere in the trail.
    trail = repr(list(AuditEvent.objects.values()))
    for secret in ("s3cret-pass", "n3w-pass", "KEY-123456", "KEY-999", "P-777", "P-778", "T-42"):
        assert secret not in trail

    page = admin_client.get(reverse("messaging:audit"), {"object_type": "messaging.genericproviderconfig"})
    text = page.content.decode()
    assert page.status_code == 200 and "password</span> changed" in text and "n3w-pass" not in text


def test_sign_ins_and_failed_ones_are_recorded_without_the_password(client, django_user_model):
    django_user_model.objects.create_user("marketer", password=PASSWORD)
    client.post(reverse("login"), {"username": "marketer", "password": "wrong-guess-123"}, REMOTE_ADDR="203.0.113.9")
    client.post(reverse("login"), {"username": "marketer", "password": PASSWORD}, REMOTE_ADDR="203.0.113.9")
    failed, signed_in = AuditEvent.objects.filter(action__in=["login_failed", "login"]).order_by("pk")
    assert (failed.action, failed.object_repr, failed.ip, failed.actor) == ("login_failed", "marketer",
                                                                           "203.0.113.9", None)
    assert (signed_in.action, signed_in.actor_name, signed_in.ip) == ("login", "marketer", "203.0.113.9")
    assert "wrong-guess-123" not in repr(list(AuditEvent.objects.values()))


def test_exports_are_recorded(admin_client, mw_account):
    people = RecipientList.objects.create(account=mw_account, name="VIP")
    Recipient.objects.create(recipient_list=people, phone="380501112233")
    download = admin_client.get(reverse("recipients:list_download", args=["recipients", people.pk, "csv"]))
    assert download.status_code == 200
    event = AuditEvent.objects.get(action="export")
    assert (event.object_repr, event.detail, event.actor_name) == ("VIP", "Download as CSV", "admin")


def test_the_page_filters_and_its_csv_holds_what_it_shows(admin_client, mw_account):
    RecipientList.objects.create(account=mw_account, name="=HYPERLINK(\"http://evil\")")
    RecipientList.objects.create(account=mw_account, name="Newsletter")
    url = reverse("messaging:audit")
    page = admin_client.get(url, {"q": "Newsletter"}).content.decode()
    assert "Newsletter" in page and "HYPERLINK" not in page
    assert "The end is before the start." in admin_client.get(
        url, {"since": "2026-12-07", "until": "2026-12-01"}).content.decode()
    assert admin_client.get(url, {"since": "not a date"}).status_code == 200
    assert "No entry matches these filters." in admin_client.get(url, {"action": "cancel"}).content.decode()

    export = admin_client.get(reverse("messaging:audit_export"), {"object_type": "recipients.recipientlist"})
    rows = list(csv.reader(io.StringIO(b"".join(export.streaming_content).decode("utf-8-sig"))))
    assert rows[0][:3] == ["time (UTC)", "user", "action"]
    assert sorted(row[5] for row in rows[1:]) == ["'=HYPERLINK(\"http://evil\")", "Newsletter"]
    assert AuditEvent.objects.filter(action="export", object_type="messaging.auditevent").count() == 1


def test_the_trail_needs_its_permission(client, django_user_model):
    from django.contrib.auth.models import Permission

    user = django_user_model.objects.create_user("viewer", password=PASSWORD)
    client.force_login(user)
    assert client.get(reverse("messaging:audit")).status_code == 403
    assert client.get(reverse("messaging:audit_export")).status_code == 403
    assert b"Audit trail" not in client.get(reverse("home")).content
    user.user_permissions.add(Permission.objects.get(codename="view_auditevent"))
    assert client.get(reverse("messaging:audit")).status_code == 200


def test_the_database_refuses_to_change_an_entry(mw_account):
    event = AuditEvent.objects.filter(object_type="messaging.provideraccount").get()  # its creation
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(action="nothing happened")
    with pytest.raises(ValueError, match="append-only"):
        event.save()
    event.refresh_from_db()
    assert event.action == "create" and event.actor is None and event.actor_name == ""  # made outside a request
