"""The control endpoint under /_sandbox/ (no API key): health, reset, faults, request log, state,
seeding, callback settings and log, and a few nudges (drain callbacks, click, fire a trigger)."""

from typing import TYPE_CHECKING

from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from . import ids
from .errors import ApiError
from .messages import RATE
from .resources import sending
from .resources.crud import trigger_defaults
from .resources.link_lists import LINK_LISTS
from .state import COLLECTIONS, COMPANY_ID, USER_ID, Store
from .validation import iso, normalize_phone, now, parse_bool
from .web import Body, json_response

if TYPE_CHECKING:
    from .app import SandboxApp

RULES = Map(
    [
        Rule("/_sandbox/health", methods=["GET"], endpoint="health"),
        Rule("/_sandbox/reset", methods=["POST"], endpoint="reset"),
        Rule("/_sandbox/faults", methods=["GET", "POST"], endpoint="faults"),
        Rule("/_sandbox/requests", methods=["GET", "DELETE"], endpoint="requests"),
        Rule("/_sandbox/state", methods=["GET"], endpoint="state"),
        Rule("/_sandbox/state/<collection>", methods=["GET"], endpoint="collection"),
        Rule("/_sandbox/seed/<collection>", methods=["POST"], endpoint="seed"),
        Rule("/_sandbox/callbacks", methods=["GET", "POST"], endpoint="callbacks"),
        Rule("/_sandbox/callbacks/log", methods=["GET"], endpoint="callback_log"),
        Rule("/_sandbox/callbacks/drain", methods=["POST"], endpoint="drain"),
        Rule("/_sandbox/messages/<message_id>/click", methods=["POST"], endpoint="click"),
        Rule("/_sandbox/triggers/<int:ident>/fire", methods=["POST"], endpoint="fire"),
    ],
    strict_slashes=False,
)


def dispatch(app: "SandboxApp", request: Request) -> Response:
    try:
        endpoint, args = RULES.bind("sandbox").match(request.path.rstrip("/") or "/", method=request.method)
    except HTTPException as exc:
        return json_response({"error": exc.description or exc.name}, exc.code or 404)
    body = Body.read(request)
    try:
        if body.error:
            raise ApiError(400, body.error)
        return HANDLERS[endpoint](app, request, body.json if body.json is not None else {}, **args)
    except ApiError as error:
        return json_response({"error": "; ".join(error.messages)}, error.status)


def _health(app, request, data):
    return json_response({"ok": True})


def _reset(app, request, data):
    app.reset()
    return json_response({"ok": True})


def _faults(app, request, data):
    if request.method == "POST":
        return json_response(app.faults.configure(data))
    return json_response(app.faults.view())


def _requests(app, request, data):
    if request.method == "DELETE":
        app.requests.clear()
        return json_response({"ok": True})
    return json_response(app.requests.select(request.args.get("path"), request.args.get("method")))


def _state(app, request, data):
    with app.store.lock:
        return json_response({name: app.store.dump(name) for name in COLLECTIONS})


def _collection(app, request, data, collection):
    if collection not in COLLECTIONS:
        raise ApiError(404, f"unknown collection {collection}; known: {', '.join(COLLECTIONS)}")
    with app.store.lock:
        return json_response(app.store.dump(collection))


def _seed(app, request, data, collection):
    if collection not in COLLECTIONS:
        raise ApiError(404, f"unknown collection {collection}; known: {', '.join(COLLECTIONS)}")
    items = data.get("items") if isinstance(data, dict) else None
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise ApiError(400, 'send {"items": [{...}, ...]}')
    store = app.store
    with store.lock:
        seeder = SEEDERS.get(collection, _plain)
        return json_response([seeder(store, collection, dict(item)) for item in items])


def _callbacks(app, request, data):
    if request.method == "POST":
        return json_response(app.dispatcher.configure(data))
    return json_response(app.dispatcher.config)


def _callback_log(app, request, data):
    kind = request.args.get("kind")
    return json_response([entry for entry in list(app.dispatcher.log) if not kind or entry["kind"] == kind])


def _drain(app, request, data):
    return json_response({"ran": app.dispatcher.drain()})


def _click(app, request, data, message_id):
    if message_id not in app.store.data["messages"]:
        raise ApiError(404, f"message {message_id} not found")
    body = app.dispatcher.click(message_id, int(data.get("link_index", 0)))
    if body is None:
        raise ApiError(400, f"message {message_id} has no link to click")
    return json_response(body)


def _fire(app, request, data, ident):
    with app.store.lock:
        released = sending.release_trigger(app.store, app.dispatcher, ident)
    return json_response({"released": released})


HANDLERS = {
    "health": _health,
    "reset": _reset,
    "faults": _faults,
    "requests": _requests,
    "state": _state,
    "collection": _collection,
    "seed": _seed,
    "callbacks": _callbacks,
    "callback_log": _callback_log,
    "drain": _drain,
    "click": _click,
    "fire": _fire,
}


# seeding: objects "made in the MessageWhiz UI", with the defaults the API would give them ---------------
def _plain(store: Store, collection: str, item: dict, defaults: dict | None = None) -> dict:
    obj = {"id": None, **(defaults or {}), **item}
    if collection not in ("broadcasts", "segments", "otps", "clicks"):
        obj["enabled"] = parse_bool(item.get("enabled", True)) is not False
    return store.add(collection, obj)


def _numbers(raw) -> list[str]:
    numbers = []
    for value in raw or []:
        number = normalize_phone(value)
        if number and number not in numbers:
            numbers.append(number)
    return numbers


def _seed_recipient_list(store: Store, collection: str, item: dict) -> dict:
    contacts = [{"phone_number": number} for number in _numbers(item.pop("numbers", []))]
    for recipient in item.pop("recipients", []):
        number = normalize_phone(recipient.get("phone_number"))
        if number:
            contacts.append({**{k: str(v) for k, v in recipient.items()}, "phone_number": number})
    columns = sorted({key for contact in contacts for key in contact} - {"phone_number"})
    obj = _plain(store, collection, item, {"columns": columns})
    store.recipients[obj["id"]] = contacts
    return {**obj, "count": len(contacts)}


def _seed_recipient(store: Store, collection: str, item: dict) -> dict:
    list_id = item.pop("recipient_list_id", None)
    if store.get("recipient_lists", list_id) is None:
        raise ApiError(400, f"recipients need an existing recipient_list_id (got {list_id})")
    number = normalize_phone(item.get("phone_number"))
    if number is None:
        raise ApiError(400, f"invalid phone_number {item.get('phone_number')!r}")
    contact = {**{k: str(v) for k, v in item.items()}, "phone_number": number}
    store.recipients.setdefault(list_id, []).append(contact)
    return {"recipient_list_id": list_id, **contact}


def _seed_unsubscribe_list(store: Store, collection: str, item: dict) -> dict:
    numbers = _numbers(item.pop("numbers", []))
    return _plain(store, collection, item, {"company_id": COMPANY_ID, "user_id": USER_ID, "numbers": numbers})


def _seed_sender_list(store: Store, collection: str, item: dict) -> dict:
    sender_ids = [int(i) for i in item.pop("senderIds", item.pop("sender_ids", []))]
    return _plain(store, collection, item, {"sender_ids": sender_ids})


def _seed_link_list(store: Store, collection: str, item: dict) -> dict:
    link_ids = [int(i) for i in item.pop("linkIds", item.pop("link_ids", []))]
    return _plain(store, collection, item, {**LINK_LISTS.defaults(None), "link_ids": link_ids})


def _seed_message(store: Store, collection: str, item: dict) -> dict:
    obj = {
        "message_id": ids.nanoid(store.rng),
        "_id": ids.object_id(store.rng),
        "broadcast_id": None,
        "segment_id": None,
        "recipient": "",
        "sender": "",
        "content": "",
        "encoding": 0,
        "parts": [],
        "parts_count": 1,
        "price": RATE,
        "state": None,
        "status": "SCHEDULED",
        "client_ref": None,
        "callback": None,
        "links": [],
        "clicks": 0,
        "unique_clicks": 0,
        "created": iso(now()),
        "updated": None,
        "source": "seed",
        **item,
    }
    return store.add("messages", obj)


def _broadcast_defaults() -> dict:
    moment = iso(now())
    return {
        "user_id": USER_ID,
        "name": "",
        "type": 11,
        "message_body": "",
        "enabled": 1,
        "trigger_id": None,
        "send_date": moment,
        "state": 0,
        "parent_id": None,
        "real_price": 0,
        "estimated_price": 0,
        "create_date": moment,
        "estimated_count": 0,
        "utc_offset": 0,
        "next_segment_size": None,
        "eb_type": None,
        "company_name": sending.COMPANY_NAME,
        "timezone": "GMT +0",
        "send_now": True,
        "campaign_id": None,
        "source": "seed",
        "custom_parameter": None,
    }


SEEDERS = {
    "campaigns": lambda store, c, item: _plain(store, c, item, {"is_default": 0, "start_date": None, "end_date": None}),
    "templates": lambda store, c, item: _plain(store, c, item, {"user_id": USER_ID, "body": ""}),
    "word_spinners": lambda store, c, item: _plain(store, c, item, {"words": []}),
    "triggers": lambda store, c, item: _plain(store, c, item, trigger_defaults(store)),
    "links": lambda store, c, item: _plain(store, c, item, {"type": 0, "platform_based_links": None}),
    "recipient_lists": _seed_recipient_list,
    "recipients": _seed_recipient,
    "unsubscribe_lists": _seed_unsubscribe_list,
    "sender_lists": _seed_sender_list,
    "link_lists": _seed_link_list,
    "messages": _seed_message,
    "broadcasts": lambda store, c, item: _plain(store, c, item, _broadcast_defaults()),
    "otps": lambda store, c, item: _plain(
        store, c, item, {"broadcast_id": None, "created": iso(now()), "verified": False, "attempts": 0}
    ),
}
