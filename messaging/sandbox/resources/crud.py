"""The CRUD resources, described by one table instead of one copy-pasted module each.

Every resource follows the same REST pattern (POST create, GET list with start/limit/enabled/filter,
PUT/PATCH update, DELETE = disable), but each answer has its own documented field set and its own
way of writing `enabled` (true, 1) — those differences are what the table records. Templates,
triggers and links have no PATCH in the reference, so they answer it as an unknown route. Resources with
extra endpoints (lists with members, file imports) reuse these pieces from their own modules.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .. import ids
from ..errors import ApiError
from ..state import COMPANY_ID, USER_ID, enabled_param, page_params, parse_filter
from ..validation import boolean, iso_date, sender_name, string_list, text, url
from ..web import Call, routes

ROUTES, route = routes()


@dataclass(frozen=True)
class Resource:
    collection: str
    label: str  # for messages: "Campaign 5 not found"
    path: str  # URL segment under /api/3/, as the reference spells it
    fields: dict[str, Callable[[Any], Any]]  # writable field → validator returning the stored value
    required: tuple[str, ...]
    created: tuple[str, ...]  # keys of the POST answer ("enabled:int" renders enabled as 1/0)
    listed: tuple[str, ...]  # keys of each GET list item
    updated: tuple[str, ...] = ()  # keys of the PUT answer (default: as created)
    patched: tuple[str, ...] = ("id", "enabled:int")  # keys of the PATCH answer
    defaults: Callable[[Call], dict] = lambda call: {}
    filters: tuple[str, ...] = ("name",)
    computed: dict[str, Callable[[Call, dict], Any]] = field(default_factory=dict)
    on_write: Callable[[Call, dict, dict], None] | None = None  # extra body keys (list members)
    generic: tuple[str, ...] = ("create", "list", "put", "patch", "delete")
    # operation → the spellings of `path` the reference shows for it, where they are not `path`
    # (`GET /api/3/RecipientList` but `GET /api/3/recipientList/{id}/recipients`)
    casings: dict[str, tuple[str, ...]] = field(default_factory=dict)
    put_enables: bool = False  # whether PUT documents `enabled` (senders, sender lists)


# Templates, triggers and links document no PATCH, and their PUT documents no `enabled`: nothing
# enables them again once DELETE disabled them.
WITHOUT_PATCH = ("create", "list", "put", "delete")


def render(call: Call, resource: Resource, obj: dict, keys: tuple[str, ...]) -> dict:
    out = {}
    for key in keys:
        name, _, style = key.partition(":")
        if name in resource.computed:
            out[name] = resource.computed[name](call, obj)
        elif name == "enabled":
            out[name] = int(obj["enabled"]) if style == "int" else bool(obj["enabled"])
        else:
            out[name] = obj.get(name)
    return out


def apply_fields(call: Call, resource: Resource, obj: dict, body: dict, creating: bool) -> dict:
    if creating:
        missing = [f"{name} should not be empty" for name in resource.required if body.get(name) in (None, "", [])]
        if missing:
            raise ApiError(400, missing)
    changes = {}
    for name, check in resource.fields.items():
        if name in body:
            changes[name] = check(body[name])
    if "enabled" in body:
        changes["enabled"] = boolean(body["enabled"], "enabled")
    # No uniqueness rule: the reference lists "409 Duplicate entry" but never says what is unique,
    # so two objects may share a name (a 409 is still available through fault injection).
    obj.update(changes)
    return obj


def new_object(call: Call, resource: Resource) -> dict:
    return {"id": None, "enabled": True, **resource.defaults(call)}


def create(call: Call, resource: Resource) -> dict:
    body = call.json
    obj = apply_fields(call, resource, new_object(call, resource), body, creating=True)
    if resource.on_write:
        resource.on_write(call, obj, body)  # before storing: a bad member list creates nothing
    call.store.add(resource.collection, obj)
    return render(call, resource, obj, resource.created)


def listing(call: Call, resource: Resource) -> list[dict]:
    return [render(call, resource, obj, resource.listed) for obj in select(call, resource)]


def select(call: Call, resource: Resource) -> list[dict]:
    """The documented list semantics: only enabled (or, with enabled=false, only disabled) objects,
    exact-match filters, newest first, then start/limit."""
    query = call.query
    start, limit = page_params(query)
    enabled = enabled_param(query)
    # decision: a filter value matches the whole field ("filtering by the specific campaign name")
    wanted = parse_filter(query.get("filter"), resource.filters)
    items = [
        obj
        for obj in call.store.data[resource.collection].values()
        if bool(obj.get("enabled")) == enabled and all(str(obj.get(k)) == v for k, v in wanted)
    ]
    items.sort(key=lambda obj: obj["id"], reverse=True)
    return items[start : start + limit]


def update(call: Call, resource: Resource, ident: int, patch: bool = False) -> dict:
    obj = call.store.find(resource.collection, resource.label, ident)
    body = call.json
    if not (patch or resource.put_enables):
        # Decision (least convenient): `enabled` in a PUT that doesn't document it is ignored
        # without a word, so only a client that reads the object back notices it changed nothing.
        body = {key: value for key, value in body.items() if key != "enabled"}
    apply_fields(call, resource, obj, body, creating=False)
    if resource.on_write:
        resource.on_write(call, obj, body)
    return render(call, resource, obj, resource.patched if patch else resource.updated or resource.created)


def disable(call: Call, resource: Resource, ident: int) -> bool:
    obj = call.store.find(resource.collection, resource.label, ident)
    obj["enabled"] = False
    return True


def register(resource: Resource) -> Resource:
    """Add the generic routes of a resource (those named in `generic`)."""
    operations = {
        "create": ("POST", "", lambda call: create(call, resource)),
        "list": ("GET", "", lambda call: listing(call, resource)),
        "put": ("PUT", "/<int:ident>", lambda call, ident: update(call, resource, ident)),
        "patch": ("PATCH", "/<int:ident>", lambda call, ident: update(call, resource, ident, patch=True)),
        "delete": ("DELETE", "/<int:ident>", lambda call, ident: disable(call, resource, ident)),
    }
    for name in resource.generic:
        method, suffix, handler = operations[name]
        route(method, *paths(resource, name, suffix))(handler)
    return resource


def paths(resource: Resource, operation: str, suffix: str = "") -> list[str]:
    """The documented spellings of one of the resource's endpoints."""
    return [f"/api/3/{segment}{suffix}" for segment in resource.casings.get(operation, (resource.path,))]


def name_field(value) -> str:
    return text(value, "name", max_length=255)


def _platform_links(value) -> dict | None:
    if value is None:
        return None
    if not isinstance(value, dict) or set(value) - {"bot_redirect", "preview_url"}:
        raise ApiError(400, "platform_based_links must be an object with bot_redirect and/or preview_url")
    return {key: url(link, f"platform_based_links.{key}") for key, link in value.items()}


def _user_list(call: Call, obj: dict) -> list[dict]:
    return [{"campaign_id": obj["id"], "user_id": USER_ID, "company_id": COMPANY_ID}]


CAMPAIGNS = register(
    Resource(
        collection="campaigns",
        label="Campaign",
        path="campaign",
        fields={
            "name": name_field,
            "start_date": lambda v: iso_date(v, "start_date"),
            "end_date": lambda v: iso_date(v, "end_date"),
        },
        required=("name",),
        defaults=lambda call: {"is_default": 0, "start_date": None, "end_date": None},
        created=("id", "is_default", "name", "start_date", "end_date", "enabled"),
        listed=("enabled", "id", "is_default", "name", "start_date", "end_date", "userList"),
        computed={"userList": _user_list},
    )
)

SENDERS = register(
    Resource(
        collection="senders",
        label="Sender",
        path="sender",
        fields={"name": sender_name},
        required=("name",),
        created=("id", "name", "enabled"),
        listed=("enabled", "id", "name"),
        put_enables=True,  # "the new sender name and status"
    )
)

TEMPLATES = register(
    Resource(
        collection="templates",
        label="Template",
        path="template",
        fields={"name": name_field, "body": lambda v: text(v, "body", max_length=100000)},
        required=("name", "body"),
        defaults=lambda call: {"user_id": USER_ID},
        created=("id", "name", "body", "enabled"),
        listed=("enabled", "id", "user_id", "name", "body"),
        generic=WITHOUT_PATCH,
    )
)

WORD_SPINNERS = register(
    Resource(
        collection="word_spinners",
        label="Word spinner",
        path="spinner",
        fields={"name": name_field, "words": lambda v: string_list(v, "words")},
        required=("name", "words"),
        created=("name", "words", "enabled", "id"),
        listed=("words", "enabled", "id", "name"),
        patched=("enabled:int",),  # the reference's PATCH answer is only {"enabled": 0}
    )
)


def trigger_defaults(store) -> dict:
    return {
        "uuid": ids.uuid4(store.rng),
        "short_url": f"{ids.TRIGGER_DOMAIN}/{ids.short_code(store.rng, 5)}",
        "trigger_type_id": 1,
        "details": None,
        "date": None,
        "flight_details.flight_number": None,
        "flight_details.arrival_date": None,
        "fired": False,
    }


TRIGGERS = register(
    Resource(
        collection="triggers",
        label="Trigger",
        path="trigger",
        fields={"name": name_field},
        required=("name",),
        defaults=lambda call: trigger_defaults(call.store),
        created=("id", "name", "uuid", "enabled:int", "short_url", "trigger_type_id"),
        updated=("id", "name", "uuid", "enabled:int", "short_url"),
        listed=(
            "id",
            "name",
            "uuid",
            "enabled:int",
            "short_url",
            "trigger_type_id",
            "details",
            "date",
            "flight_details.flight_number",
            "flight_details.arrival_date",
        ),
        generic=WITHOUT_PATCH,
    )
)

LINKS = register(
    Resource(
        collection="links",
        label="Link",
        path="link",
        fields={"name": name_field, "url": lambda v: url(v, "url"), "platform_based_links": _platform_links},
        required=("name", "url"),
        defaults=lambda call: {"type": 0, "platform_based_links": None},
        created=("id", "name", "url", "enabled", "type", "platform_based_links"),
        updated=("id", "name", "url", "enabled"),
        listed=("enabled", "id", "name", "url"),
        filters=("name", "url"),
        generic=WITHOUT_PATCH,
    )
)
