"""The control endpoint: health, reset, state, seed, callback settings."""

import time

import requests

COLLECTIONS = {
    "campaigns",
    "recipient_lists",
    "recipients",
    "senders",
    "sender_lists",
    "unsubscribe_lists",
    "broadcasts",
    "segments",
    "messages",
    "links",
    "link_lists",
    "word_spinners",
    "templates",
    "triggers",
    "otps",
    "clicks",
}


def test_health_needs_no_key(sandbox):
    assert requests.get(f"{sandbox.url}/_sandbox/health", timeout=5).json() == {"ok": True}


def test_state_lists_every_collection(sandbox):
    assert set(sandbox.state()) == COLLECTIONS
    response = sandbox.http.get(f"{sandbox.url}/_sandbox/state/nothing")
    assert response.status_code == 404


def test_seed_5000_items_quickly_and_page_through_them(api, sandbox):
    started = time.monotonic()
    created = sandbox.seed("campaigns", [{"name": f"UI campaign {i}"} for i in range(5000)])
    assert time.monotonic() - started < 5
    assert len(created) == 5000 and created[0]["enabled"] is True and created[0]["is_default"] == 0
    ids = [c["id"] for c in created]
    assert len(set(ids)) == 5000
    page = api.ok("GET", "/api/3/campaign?start=4990&limit=100")
    assert [c["name"] for c in page] == [f"UI campaign {i}" for i in range(9, -1, -1)]


def test_seed_lists_with_members_and_disabled_objects(api, sandbox):
    [recipients] = sandbox.seed("recipient_lists", [{"name": "UI list", "numbers": ["6593333311", 6593333322]}])
    assert recipients["count"] == 2
    sandbox.seed(
        "recipients",
        [{"recipient_list_id": recipients["id"], "phone_number": "6593333333", "first_name": "Cy"}],
    )
    assert len(api.ok("GET", f"/api/3/recipientList/{recipients['id']}/listNumbers")) == 3
    [sender] = sandbox.seed("senders", [{"name": "Old", "enabled": 0}])
    assert sender["enabled"] is False and api.ok("GET", "/api/3/sender") == []
    [unsubscribe] = sandbox.seed("unsubscribe_lists", [{"name": "U", "numbers": ["6593333311"]}])
    assert api.ok("GET", f"/api/3/unsubscribeList/{unsubscribe['id']}/members") == [{"phone_number": "6593333311"}]
    [trigger] = sandbox.seed("triggers", [{"name": "T", "id": 90000}])
    assert trigger["id"] == 90000 and trigger["uuid"]
    assert api.ok("POST", "/api/3/trigger", json={"name": "U"})["id"] == 90001  # ids never collide


def test_reset_clears_state_logs_faults_and_callback_settings(api, sandbox):
    api.ok("POST", "/api/3/campaign", json={"name": "Gone"})
    sandbox.faults(latency_ms=5)
    sandbox.callbacks(delay_ms=1, enroute=True)
    sandbox.reset()
    assert sandbox.state("campaigns") == [] and sandbox.requests() == []
    assert sandbox.control("GET", "faults")["latency_ms"] == 0
    assert sandbox.control("GET", "callbacks")["enroute"] is False
    assert api.ok("POST", "/api/3/campaign", json={"name": "Again"})["id"] == 46279  # ids restart too


def test_runs_are_deterministic(api, sandbox):
    def run():
        sandbox.reset()
        response = api.request(
            "POST", "/sms", key=None, json={"api_key": api.key, "to": "2605876689", "from": "s", "text": "t"}
        )
        return response.json()["message_id"], api.ok("POST", "/api/3/trigger", json={"name": "x"})["uuid"]

    assert run() == run()


def test_bad_callback_settings_are_rejected(sandbox):
    response = sandbox.http.post(f"{sandbox.url}/_sandbox/callbacks", json={"statuses": {"SENT": 1}})
    assert response.status_code == 400
    assert sandbox.http.post(f"{sandbox.url}/_sandbox/callbacks", json={"delay": 1}).status_code == 400
