"""Envelope, authentication, routing and error shapes shared by every endpoint."""

ENVELOPE_KEYS = ["errorCode", "errorMessage", "errorType", "executionTime", "result"]


def test_success_envelope_has_the_documented_keys_in_order(api):
    response = api.request("POST", "/api/3/campaign", json={"name": "CampaignName"})
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    assert list(response.json()) == ENVELOPE_KEYS


def test_wrong_or_missing_api_key_is_401_in_the_v3_envelope(api):
    for key in ("wrong-key", None):
        body = api.error("GET", "/api/3/campaign", 401, key=key)
        assert list(body) == ENVELOPE_KEYS
        assert body["errorCode"] == 401 and body["errorType"] == "Unauthorized" and body["result"] is None


def test_nest_services_answer_401_in_their_own_shape(api):
    assert api.error("POST", "/sms", 401, key=None, json={"to": "2605876689", "from": "x", "text": "t"}) == {
        "statusCode": 401,
        "message": "Unauthorized",
    }
    assert api.error("POST", "/sms", 401, key=None, json={"api_key": "nope", "to": "1"}) == {
        "statusCode": 401,
        "message": "Unauthorized",
    }
    assert api.error("POST", "/api/broadcasts/single?otp=true", 401, key="bad", json={})["statusCode"] == 401


def test_unknown_routes_and_ids_are_404(api):
    assert api.error("GET", "/api/3/nothing-here", 404) == {
        "statusCode": 404,
        "message": "Cannot GET /api/3/nothing-here",
        "error": "Not Found",
    }
    body = api.error("PUT", "/api/3/campaign/999", 404, json={"name": "x"})
    assert body["errorMessage"] == "Campaign 999 not found"
    assert api.error("GET", "/api/unknown", 404) == {
        "statusCode": 404,
        "message": "Cannot GET /api/unknown",
        "error": "Not Found",
    }


def test_invalid_json_is_a_400(api):
    body = api.error(
        "POST", "/api/3/campaign", 400, data='{"name": "x",}', headers={"Content-Type": "application/json"}
    )
    assert body["errorType"] == "Bad Request" and "JSON" in body["errorMessage"]


def test_validation_errors_list_every_missing_field(api):
    body = api.error("POST", "/api/3/template", 400, json={})
    assert body["errorMessage"] == "name should not be empty; body should not be empty"
