"""Contract tests: the client against the strict sandbox, request by request.

Each endpoint's request (method, path, query, the headers that matter, body) is compared with a
golden JSON file in tests/messaging/messagewhiz/golden/. After a deliberate change to what we send,
rewrite them with `UPDATE_GOLDEN=1 .venv/bin/pytest tests/messaging/messagewhiz/contract` and review
the diff: every golden must still match the reference field by field.
"""

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

GOLDEN_DIR = Path(__file__).resolve().parent.parent / "golden"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"

CSV = b"phone_number,first_name\n6593333311,Anthony\n6593333322,Bob\n"
LINKS_CSV = b"name,url\nGoogle,https://google.com\nYoutube,https://youtube.com\n"
START = datetime(2020, 7, 22, 21, 0, tzinfo=UTC)
END = datetime(2020, 9, 25, 21, 0, tzinfo=UTC)
SEND = datetime(2031, 7, 31, 14, 25, 49, 614000, tzinfo=UTC)


def wire_request(entry: dict) -> dict:
    """What a request log entry says about the request itself (not the sandbox's answer to it)."""
    request = {
        "method": entry["method"],
        "path": entry["path"],
        "query": entry["query"],
        "headers": {"apikey": entry["apikey_header"], "content_type": entry["content_type"]},
    }
    if "form" in entry:
        # the document's bytes are the caller's; its part name and file name are the contract
        request["form"] = entry["form"]
        request["files"] = [{"field": f["field"], "filename": f["filename"]} for f in entry["files"]]
    elif "invalid_json" in entry:
        request["invalid_json"] = entry["invalid_json"]
    else:
        request["json"] = entry["json"]
    request["status"] = entry["status"]
    return request


def check_golden(name: str, actual: dict) -> None:
    path = GOLDEN_DIR / f"{name}.json"
    text = json.dumps(actual, indent=2, ensure_ascii=False, sort_keys=False) + "\n"
    if UPDATE:
        GOLDEN_DIR.mkdir(exist_ok=True)
        path.write_text(text)
        return
    assert path.exists(), f"no golden for {name}: run with UPDATE_GOLDEN=1 and review {path}"
    assert actual == json.loads(path.read_text()), f"{name}: the request differs from {path}"


@pytest.fixture
def world(client, sandbox):
    """One of every object, made through the client (ids are deterministic after the reset)."""
    w = {}
    w["campaign"] = client.campaign_create(name="CampaignName")["id"]
    w["sender"] = client.sender_create(name="FirstSender")["id"]
    w["sender2"] = client.sender_create(name="test")["id"]
    w["sender_list"] = client.sender_list_create(name="FirstSenderList", sender_ids=[w["sender"]])["id"]
    w["recipient_list"] = client.recipient_list_create(
        name="ManuallyAddedList", numbers=["380503327227", "380848122639", "380503327228"]
    )["recipient_list_id"]
    w["unsubscribe_list"] = client.unsubscribe_list_create(name="FirstUnsubscribeList", numbers=["380502222233"])["id"]
    w["template"] = client.template_create(name="FirstTemplate", body="HI!")["id"]
    w["trigger"] = client.trigger_create(name="newTrigger")["id"]
    w["link"] = client.link_create(name="Link1", url="https://foot1.com")["id"]
    w["link2"] = client.link_create(name="test", url="https://sms.messagewhiz.com/app/workspace/links")["id"]
    w["link_list"] = client.link_list_create(name="FirstLinkList", link_ids=[w["link"]])["id"]
    w["spinner"] = client.spinner_create(name="Fit32", words=["wo", "three"])["id"]
    sandbox.control("DELETE", "requests")
    return w
