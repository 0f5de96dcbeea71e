"""The REST API (/api/v1) over the test client with real tokens, ending at the live sandbox."""

import json
import re

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from campaigns.api import api
from campaigns.api.base import Scope
from campaigns.models import Broadcast
from messaging.models import API_SCOPES, ApiToken, IdempotencyKey
from recipients.consent import consent_record
from recipients.models import ConsentEvent, ImportJob, RecipientList

V1 = "/api/v1"


@pytest.fixture
def developer(django_user_model):
    return django_user_model.objects.create_superuser("dev", "dev@example.com", "pw-dev-123")


@pytest.fixture
def bearer(developer):
    """Authorization headers for a new token of `developer` with the given scopes (default: all)."""

    def make(*scopes, user=None):
        _, key = ApiToken.issue(name="CRM", user=user or developer, scopes=list(scopes) if scopes else None)
        return {"HTTP_AUTHORIZATION": f"Bearer {key}"}

    return make


def post(client, path, body=None, headers=None, key=None, **extra):
    if key:
        extra["HTTP_IDEMPOTENCY_KEY"] = key
    data = body if isinstance(body, (str, bytes)) else json.dumps(body or {})
    return client.post(V1 + path, data, content_type="application/json", **(headers or {}), **extra)


def operations():
    """(method, path, scope) of every API operation, from the API itself: a new endpoint is in here."""
    found = []
    for _, router in api._routers:
        for path, path_view in router.path_operations.items():
            for operation in path_view.operations:
                [auth] = operation.auth_callbacks  # every operation names exactly one scope
                assert isinstance(auth, Scope)
                for method in operation.methods:
                    found.append((method, re.sub(r"\{(?:int:)?(\w+)\}", lambda m: "380501234567" if m[1] == "phone"
                                                 else "999", path), auth.scope))
    return found


def test_every_endpoint_refuses_a_token_without_its_scope(client, bearer, db):
    ops = operations()
    assert len(ops) >= 15
    for method, path, scope in ops:
        headers = bearer(*(s for s in API_SCOPES if s != scope))
        response = client.generic(method, V1 + path, "{}", content_type="application/json", **headers,
                                  HTTP_IDEMPOTENCY_KEY="k-" + path)
        assert response.status_code == 403, (method, path)
        assert response.json()["errors"][0]["field"] == "Authorization"
        assert scope in response.json()["errors"][0]["message"]
        assert client.generic(method, V1 + path, "{}", content_type="application/json").status_code == 401


def test_a_scope_gives_no_more_than_the_users_permissions(client, bearer, django_user_model, mw_account):
    viewer = django_user_model.objects.create_user("viewer", password="pw-viewer-123")
    viewer.user_permissions.add(Permission.objects.get(codename="view_recipientlist"))
    headers = bearer("lists:read", "lists:write", user=viewer)
    assert client.get(f"{V1}/lists", **headers).status_code == 200
    refused = post(client, "/lists", {"name": "X", "numbers": ["380501234567"]}, headers)
    assert refused.status_code == 403
    assert not RecipientList.objects.exists()


def test_broadcast_created_estimated_and_sent_once(client, bearer, audience, sandbox,
                                                   django_capture_on_commit_callbacks):
    headers = bearer()
    body = {"account": audience["campaign"].account_id, "name": "Autumn", "campaign": audience["campaign"].pk,
            "senders": [audience["sender"].pk], "recipient_lists": [audience["list"].pk],
            "body": "Hi {{first_name}}, 20% off"}
    with django_capture_on_commit_callbacks(execute=True):
        created = post(client, "/broadcasts", body, headers)
    assert created.status_code == 201, created.content
    pk = created.json()["id"]
    estimate = client.get(f"{V1}/broadcasts/{pk}/estimate", **headers).json()
    assert estimate["ready"] and estimate["problem"] == "" and estimate["messages"] == 3

    assert post(client, f"/broadcasts/{pk}/confirm", headers=headers).status_code == 422  # no Idempotency-Key
    with django_capture_on_commit_callbacks(execute=True):
        confirmed = post(client, f"/broadcasts/{pk}/confirm", headers=headers, key="send-autumn-1")
    assert confirmed.status_code == 200, confirmed.content
    assert confirmed.json()["outcome"] == "sending"
    assert len(sandbox.state("broadcasts")) == 1

    with django_capture_on_commit_callbacks(execute=True):
        again = post(client, f"/broadcasts/{pk}/confirm", headers=headers, key="send-autumn-1")
    assert again.status_code == 200 and again["Idempotent-Replayed"] == "true"
    assert again.json() == confirmed.json()
    with django_capture_on_commit_callbacks(execute=True):
        twice = post(client, f"/broadcasts/{pk}/confirm", headers=headers, key="send-autumn-2")
    assert twice.status_code == 409  # a new key cannot confirm it twice either
    assert len(sandbox.state("broadcasts")) == 1
    assert len(sandbox.requests(method="POST", path="(?i)^/api/3/Broadcast$")) == 1

    status = client.get(f"{V1}/broadcasts/{pk}", **headers).json()
    assert status["state"] == Broadcast.State.SUBMITTED
    assert status["figures"]["recipients"] == 3 and status["figures"]["currency"] == "EUR"
    assert post(client, f"/broadcasts/{pk}/cancel", {}, headers).status_code == 409
    # The audit trail names the token's user as the one who created and sent it.
    from messaging.models import AuditEvent

    events = AuditEvent.objects.filter(object_type="campaigns.broadcast", object_id=str(pk))
    assert {(e.action, e.actor_name) for e in events if e.action in ("create", "send")} == {("create", "dev"),
                                                                                          ("send", "dev")}


def test_same_key_with_another_body_is_refused(client, bearer, mw_account, sandbox):
    headers = bearer()
    first = post(client, "/messages/single", {"sender": "ShopCo", "phone": "380501234567", "text": "Hello"},
                 headers, key="k1")
    assert first.status_code == 201, first.content
    other = post(client, "/messages/single", {"sender": "ShopCo", "phone": "380501234567", "text": "Hello again"},
                 headers, key="k1")
    assert other.status_code == 422
    assert other.json()["errors"][0]["field"] == "Idempotency-Key"
    replay = post(client, "/messages/single", {"sender": "ShopCo", "phone": "380501234567", "text": "Hello"},
                  headers, key="k1")
    assert replay.json() == first.json()
    assert len(sandbox.requests(method="POST", path="^/sms$")) == 1
    assert IdempotencyKey.objects.get().status == 201


def test_estimate_cancel_and_compose_errors(client, bearer, audience, sandbox, django_capture_on_commit_callbacks):
    headers = bearer()
    bad = post(client, "/broadcasts", {"name": "X", "account": audience["campaign"].account_id,
                                       "recipient_lists": [999]}, headers)
    assert bad.status_code == 422
    fields = {error["field"] for error in bad.json()["errors"]}
    assert {"body", "campaign", "senders", "recipient_lists"} <= fields
    with django_capture_on_commit_callbacks(execute=True):
        pk = post(client, "/broadcasts", {"account": audience["campaign"].account_id, "name": "Later",
                                          "campaign": audience["campaign"].pk, "senders": [audience["sender"].pk],
                                          "recipient_lists": [audience["list"].pk], "body": "Hi",
                                          "when": "later", "local_time": "2031-07-06T10:00:00",
                                          "zone": "Europe/Kyiv"}, headers).json()["id"]
    with django_capture_on_commit_callbacks(execute=True):
        again = post(client, f"/broadcasts/{pk}/estimate", headers=headers)
    assert again.status_code == 202
    assert client.get(f"{V1}/broadcasts/{pk}/estimate", **headers).json()["ready"]
    scheduled = post(client, f"/broadcasts/{pk}/confirm", headers=headers, key="later-1")
    assert scheduled.json()["outcome"] == "scheduled"
    cancelled = post(client, f"/broadcasts/{pk}/cancel", {"reason": "Changed plans"}, headers)
    assert cancelled.status_code == 200 and cancelled.json()["state"] == Broadcast.State.CANCELLED
    assert sandbox.state("broadcasts") == []
    listed = client.get(f"{V1}/broadcasts?state=cancelled", **headers).json()
    assert [b["id"] for b in listed] == [pk]


def test_lists_create_append_read_with_field_paths(client, bearer, mw_account, sandbox):
    headers = bearer()
    created = post(client, "/lists", {"name": "VIP", "numbers": ["380501234567", "hello", "380501234568"]}, headers)
    assert created.status_code == 201, created.content
    result = created.json()
    assert (result["inserted"], result["wrong"]) == (2, 1)
    assert result["rejected"][0]["field"] == "numbers[1]"
    pk = result["list"]["id"]
    appended = post(client, f"/lists/{pk}/numbers", {"numbers": ["380501234569", "380501234567"]}, headers)
    assert appended.json()["inserted"] == 1 and appended.json()["duplicate"] == 1
    assert client.get(f"{V1}/lists/{pk}", **headers).json()["recipient_count"] == 3
    assert [item["name"] for item in client.get(f"{V1}/lists", **headers).json()] == ["VIP"]
    assert client.get(f"{V1}/lists/12345", **headers).status_code == 404

    wrong_type = post(client, "/lists", {"name": "X", "numbers": ["380501234567", 5, None]}, headers)
    assert wrong_type.status_code == 422
    assert [e["field"] for e in wrong_type.json()["errors"]] == ["numbers[1]", "numbers[2]"]
    assert post(client, "/lists", {"numbers": []}, headers).json()["errors"][0]["field"] == "name"


@pytest.mark.parametrize("body", ["{not json", "[" * 5000 + "]" * 5000, '{"name": "a\\u0000b", "numbers": []}',
                                  '{"name": NaN}', b"\xff\xfe\x00"])
def test_malformed_bodies_are_400_not_500(client, bearer, mw_account, body):
    response = post(client, "/lists", body, bearer())
    assert response.status_code == 400
    assert response.json()["errors"][0]["message"].startswith("The body is not JSON we accept")


def test_not_an_object_is_a_field_error(client, bearer, mw_account):
    response = post(client, "/lists", "[1, 2]", bearer())
    assert response.status_code == 422 and response.json()["errors"]


def test_import_a_file_with_the_mapping_rules(client, bearer, mw_account, sandbox, django_capture_on_commit_callbacks):
    headers = bearer()
    upload = SimpleUploadedFile("people.csv", b"phone,first\n380501234567,Ann\n380501234568,Bob\nnope,Cy\n",
                                content_type="text/csv")
    with django_capture_on_commit_callbacks(execute=True):
        started = client.post(f"{V1}/lists/imports", {"file": upload, "name": "Imported",
                                                      "mapping": '{"0": "phone_number", "1": "first_name"}'},
                              **headers)
    assert started.status_code == 202, started.content
    job = client.get(f"{V1}/lists/imports/{started.json()['id']}", **headers).json()
    assert job["status"] == ImportJob.Status.SUCCEEDED and (job["inserted"], job["wrong"]) == (2, 1)
    assert RecipientList.objects.get(pk=job["list"]).recipients.get(phone="380501234567").first_name == "Ann"

    upload = SimpleUploadedFile("people.csv", b"phone\n380501234567\n", content_type="text/csv")
    bad = client.post(f"{V1}/lists/imports", {"file": upload, "name": "X", "mapping": '{"0": "shoe_size"}'},
                      **headers)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "mapping"
    missing = client.post(f"{V1}/lists/imports", {"name": "X"}, **headers)
    assert missing.status_code == 422
    assert {e["field"] for e in missing.json()["errors"]} == {"file", "mapping"}


def test_pasted_numbers_name_the_wrong_ones(client, bearer, mw_account, sandbox):
    response = post(client, "/messages/pasted", {"sender": "ShopCo", "text": "Hi",
                                                 "numbers": ["380501234567", "380501234568", "12"]},
                    bearer(), key="p1")
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "numbers[2]"
    assert sandbox.requests(method="POST", path="(?i)combined") == []
    sent = post(client, "/messages/pasted", {"sender": "ShopCo", "text": "Hi",
                                             "numbers": ["380501234567", "380501234568"]}, bearer(), key="p2")
    assert sent.status_code == 201 and sent.json()["recipients"] == 2


def test_otp_through_the_api(client, bearer, audience, sandbox):
    from django.core.cache import cache

    cache.delete_many([f"textcast:otp:{action}:380501234567" for action in ("send", "verify")])
    headers = bearer("otp:send")
    body = {"phone": "380501234567", "sender": "ShopCo", "campaign": audience["campaign"].pk,
            "message": "Your code: {{verification_code}}"}
    sent = post(client, "/otp/send", body, headers, key="otp-1")
    assert sent.status_code == 201, sent.content
    assert post(client, "/otp/send", body, headers, key="otp-1").json() == sent.json()
    [otp] = sandbox.state("otps")
    verified = post(client, "/otp/verify", {"phone": "380501234567", "code": otp["code"]}, headers)
    assert verified.json() == {"valid": True}
    # The older endpoint keeps working for tokens with the scope, and refuses those without.
    old = client.post("/api/otp/send", json.dumps(body), content_type="application/json", **headers)
    assert old.status_code == 200 and old.json()["broadcast"] != sent.json()["broadcast"]
    assert len(sandbox.state("otps")) == 2
    refused = client.post("/api/otp/verify", "{}", content_type="application/json", **bearer("lists:read"))
    assert refused.status_code == 403


def test_consent_lookup(client, bearer, mw_account):
    consent_record(account=mw_account, phones=["380501234567"], kind=ConsentEvent.Kind.OPT_OUT,
                   source=ConsentEvent.Source.KEYWORD, evidence={"text": "STOP"})
    found = client.get(f"{V1}/consent/+380501234567", **bearer("consent:read")).json()
    assert found["phone"] == "380501234567"
    assert found["accounts"] == [{"account": mw_account.pk, "name": mw_account.name, "opted_out": True}]
    assert [(e["kind"], e["source"]) for e in found["events"]] == [("opt_out", "keyword")]
    wrong = client.get(f"{V1}/consent/hello", **bearer("consent:read"))
    assert wrong.status_code == 422 and wrong.json()["errors"][0]["field"] == "phone"


def test_rate_limit_per_token(client, bearer, db, settings):
    settings.API_RATE_LIMIT = 3
    headers, other = bearer(), bearer()
    for _ in range(3):
        assert client.get(f"{V1}/lists", **headers).status_code == 200
    limited = client.get(f"{V1}/lists", **headers)
    assert limited.status_code == 429
    assert 1 <= int(limited["Retry-After"]) <= settings.API_RATE_WINDOW_SECONDS
    assert client.get(f"{V1}/lists", **other).status_code == 200  # per token


def test_schema_and_docs(admin_client, client):
    schema = admin_client.get(f"{V1}/schema")
    assert schema.status_code == 200
    document = json.loads(schema.content)
    assert document["openapi"].startswith("3.")
    for path in ("/api/v1/lists", "/api/v1/lists/imports", "/api/v1/broadcasts/{broadcast_id}/confirm",
                 "/api/v1/messages/single", "/api/v1/otp/send", "/api/v1/consent/{phone}"):
        assert path in document["paths"], path
    confirm = document["paths"]["/api/v1/broadcasts/{broadcast_id}/confirm"]["post"]
    assert confirm["x-scope"] == "broadcasts:send" and "`broadcasts:send`" in confirm["description"]
    assert {p["name"] for p in confirm["parameters"]} >= {"broadcast_id", "Idempotency-Key"}
    docs = admin_client.get(f"{V1}/docs")
    page = docs.content.decode()
    assert docs.status_code == 200 and "script-src 'self'" in docs["Content-Security-Policy"]
    assert re.findall(r"<script(?![^>]*(?:src=|application/json))", page) == []  # no inline code
    assert "/static/ninja/swagger-ui-bundle.js" in page and "cdn" not in page.lower()
    assert client.get(f"{V1}/docs").status_code == 302  # a dashboard page: sign in first


def test_tokens_page_shows_the_key_once_and_revokes(client, django_user_model, mw_account):
    user = django_user_model.objects.create_user("crm", password="pw-crm-12345")
    client.force_login(user)
    assert client.get(reverse("messaging:api_tokens")).status_code == 403
    user.user_permissions.add(Permission.objects.get(codename="add_apitoken"),
                              Permission.objects.get(codename="view_recipientlist"))
    page = client.post(reverse("messaging:api_tokens"), {"name": "CRM", "scopes": ["lists:read"]})
    [key] = re.findall(r"<code class=\"secret\">(tc_[\w-]+)</code>", page.content.decode())
    assert page["Cache-Control"].startswith("max-age=0")
    assert key not in client.get(reverse("messaging:api_tokens")).content.decode()
    token = ApiToken.objects.get(user=user)
    assert token.scopes == ["lists:read"] and token.key_hash == ApiToken.hash(key)
    assert client.get(f"{V1}/lists", HTTP_AUTHORIZATION=f"Bearer {key}").status_code == 200
    client.post(reverse("messaging:api_token_revoke", args=[token.pk]))
    assert client.get(f"{V1}/lists", HTTP_AUTHORIZATION=f"Bearer {key}").status_code == 401


def test_a_key_still_running_is_409_and_an_expired_one_is_forgotten(client, bearer, mw_account, sandbox):
    from datetime import timedelta

    from django.utils import timezone

    headers = bearer()
    body = {"sender": "ShopCo", "phone": "380501234567", "text": "Hello"}
    assert post(client, "/messages/single", body, headers, key="k1").status_code == 201
    IdempotencyKey.objects.update(status=None)  # as if the first request were still being answered
    running = post(client, "/messages/single", body, headers, key="k1")
    assert running.status_code == 409 and running.json()["errors"][0]["field"] == "Idempotency-Key"
    IdempotencyKey.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert post(client, "/messages/single", body, headers, key="k1").status_code == 201
    assert len(sandbox.requests(method="POST", path="^/sms$")) == 2


def test_expired_idempotency_keys_are_pruned_by_beat_whatever_the_token(developer, db):
    from datetime import timedelta

    from django.conf import settings
    from django.utils import timezone

    from campaigns.tasks import prune_idempotency_keys

    idle, _ = ApiToken.issue(name="Idle", user=developer)  # never used again: its own claims never clear it
    now = timezone.now()
    IdempotencyKey.objects.create(token=idle, key="old", fingerprint="x", status=201, expires_at=now - timedelta(1))
    IdempotencyKey.objects.create(token=idle, key="live", fingerprint="x", status=201, expires_at=now + timedelta(1))
    assert "campaigns.tasks.prune_idempotency_keys" in {e["task"] for e in settings.CELERY_BEAT_SCHEDULE.values()}
    assert prune_idempotency_keys.apply().get() == 1
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["live"]
