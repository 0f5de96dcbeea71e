"""Fault injection and the request log."""

import time

import pytest
import requests


def wait_for_log(sandbox, predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        entries = [e for e in sandbox.requests() if predicate(e)]
        if entries:
            return entries
        time.sleep(0.05)
    raise AssertionError("no matching request log entry")


def test_fail_next_is_consumed_one_entry_per_request(api, sandbox):
    sandbox.faults(fail_next=[{"status": 503}, {"status": 429, "retry_after": 2}])
    first = api.request("GET", "/api/3/campaign")
    assert first.status_code == 503 and first.json()["errorCode"] == 503
    second = api.request("GET", "/api/3/campaign")
    assert second.status_code == 429 and second.headers["Retry-After"] == "2"
    assert api.request("GET", "/api/3/campaign").status_code == 200
    log = sandbox.requests(path="campaign")
    assert [e["status"] for e in log] == [503, 429, 200]
    assert log[0]["fault"] == {"source": "fail_next", "status": 503, "apply": False}


def test_faults_on_the_nest_services_use_their_shape(api, sandbox):
    sandbox.faults(fail_next=[{"status": 429}])
    response = api.request("POST", "/sms", json={})
    assert response.status_code == 429 and response.headers["Retry-After"] == "1"
    assert response.json() == {"statusCode": 429, "message": "ThrottlerException: Too Many Requests"}


def test_hang_with_apply_performs_the_action_and_loses_the_answer(api, sandbox):
    sandbox.faults(fail_next=[{"hang": 1, "apply": True}])
    with pytest.raises(requests.Timeout):
        api.request("POST", "/api/3/campaign", json={"name": "Applied"}, timeout=0.3)
    assert [c["name"] for c in sandbox.state("campaigns")] == ["Applied"]


def test_hang_without_apply_answers_504_and_changes_nothing(api, sandbox):
    sandbox.faults(fail_next=[{"hang": 0.5}])
    with pytest.raises(requests.Timeout):
        api.request("POST", "/api/3/campaign", json={"name": "Lost"}, timeout=0.2)
    [entry] = wait_for_log(sandbox, lambda e: e["status"] == 504)
    assert entry["fault"]["hang"] == 0.5
    assert sandbox.state("campaigns") == []


def test_status_fault_with_apply(api, sandbox):
    sandbox.faults(fail_next=[{"status": 500, "apply": True}])
    assert api.request("POST", "/api/3/sender", json={"name": "Twice"}).status_code == 500
    assert len(sandbox.state("senders")) == 1


def test_status_fault_with_a_message_and_the_reference_default(api, sandbox):
    sandbox.faults(fail_next=[{"status": 403, "error_message": "User is disabled"}, {"status": 403}])
    assert api.error("POST", "/api/3/sender", 403, json={"name": "A"}) == {
        "errorCode": 403, "errorMessage": "User is disabled", "errorType": "Forbidden",
        "executionTime": pytest.approx(0, abs=1), "result": None,
    }
    assert api.error("POST", "/sms", 403, key=None, json={"api_key": api.key}) == {
        "statusCode": 403, "message": "User/company is either disabled or doesn't have enough permissions",
        "error": "Forbidden",
    }
    assert sandbox.state("senders") == []


def test_error_code_inside_a_200(api, sandbox):
    sandbox.faults(fail_next=[{"status": 200, "error_code": 7, "error_message": "Campaign is disabled"},
                              {"status": 200, "error_code": 404}])
    body = api.error("GET", "/api/3/campaign", 200)
    assert (body["errorCode"], body["errorMessage"], body["result"]) == (7, "Campaign is disabled", None)
    # The NestJS family has no shape for it: the v3 envelope, as the client must parse anyway.
    body = api.error("POST", "/sms", 200, key=None, json={"api_key": api.key})
    assert (body["errorCode"], body["errorMessage"], body["errorType"]) == (404, "An entity is not found", "Not found")
    assert sandbox.requests()[0]["fault"] == {
        "source": "fail_next", "status": 200, "apply": False, "error_code": 7, "error_message": "Campaign is disabled",
    }


def test_random_errors_apply_or_not(api, sandbox):
    sandbox.faults(error_rate=1.0, error_status=500)
    assert api.request("POST", "/api/3/campaign", json={"name": "Lost"}).status_code == 500
    assert sandbox.state("campaigns") == []
    sandbox.faults(error_rate=1.0, error_status=502, error_apply=True)
    assert api.request("POST", "/api/3/campaign", json={"name": "Applied"}).status_code == 502
    assert [c["name"] for c in sandbox.state("campaigns")] == ["Applied"]


def test_path_regex_restricts_faults(api, sandbox):
    sandbox.faults(path="^/api/3/sender", error_rate=1.0, error_status=502)
    assert api.request("GET", "/api/3/campaign").status_code == 200
    assert api.request("GET", "/api/3/sender").status_code == 502
    sandbox.faults(rate_limit_rate=1.0, retry_after=3)
    assert api.request("GET", "/api/3/campaign").headers["Retry-After"] == "3"
    assert sandbox.control("GET", "faults")["rate_limit_rate"] == 1.0


def test_latency_is_added(api, sandbox):
    sandbox.faults(latency_ms=200)
    started = time.monotonic()
    api.request("GET", "/api/3/campaign")
    assert time.monotonic() - started >= 0.2


def test_random_timeouts_answer_late_and_apply_by_default(api, sandbox):
    sandbox.faults(timeout_rate=1.0, hang_seconds=0.3)
    started = time.monotonic()
    assert api.request("POST", "/api/3/campaign", json={"name": "Applied"}).status_code == 200
    assert time.monotonic() - started >= 0.3
    assert [c["name"] for c in sandbox.state("campaigns")] == ["Applied"]


def test_random_timeouts_without_apply_answer_504_and_change_nothing(api, sandbox):
    sandbox.faults(timeout_rate=1.0, hang_seconds=0.3, timeout_apply=False)
    with pytest.raises(requests.Timeout):
        api.request("POST", "/api/3/campaign", json={"name": "Lost"}, timeout=0.1)
    [entry] = wait_for_log(sandbox, lambda e: e["status"] == 504)
    assert entry["fault"] == {"source": "random", "hang": 0.3, "apply": False}
    assert sandbox.state("campaigns") == []


def test_bad_fault_config_is_rejected(sandbox):
    response = sandbox.http.post(f"{sandbox.url}/_sandbox/faults", json={"fail_next": [{"oops": 1}]})
    assert response.status_code == 400
    assert sandbox.http.post(f"{sandbox.url}/_sandbox/faults", json={"nope": 1}).status_code == 400
    wrong = ({"status": 200}, {"status": 302}, {"status": 403, "error_code": 1}, {"hang": 1, "error_message": "x"})
    for entry in wrong:
        response = sandbox.http.post(f"{sandbox.url}/_sandbox/faults", json={"fail_next": [entry]})
        assert response.status_code == 400, entry
    assert sandbox.http.post(f"{sandbox.url}/_sandbox/faults", json={"timeout_apply": "maybe"}).status_code == 400


def test_request_log_records_bodies_files_and_never_keys(api, sandbox):
    api.request("POST", "/sms", key=None, json={"api_key": api.key, "to": "1"})
    api.request("POST", "/api/3/recipientList/preview", files={"doc": ("a.csv", "6593333311\n")})
    api.request("GET", "/api/3/campaign?limit=2&filter=name=x", key="wrong")
    sms, upload, listing = sandbox.requests()
    assert sms["json"]["api_key"] == "<redacted>" and sms["apikey_present"] is True and sms["status"] == 400
    assert upload["files"] == [{"field": "doc", "filename": "a.csv", "size": 11}]
    assert listing["query"] == {"limit": "2", "filter": "name=x"} and listing["status"] == 401
    assert api.key not in str(sandbox.requests())
    assert [e["path"] for e in sandbox.requests(method="get")] == ["/api/3/campaign"]
