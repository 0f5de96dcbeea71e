"""Link lists: links distributed evenly across a broadcast's recipients ({{link_list:ID}})."""

from urllib.parse import urlsplit, urlunsplit

from ..errors import ApiError
from ..files import cell, parse_mapping, read_upload
from ..state import COMPANY_ID, USER_ID
from ..validation import array, integer, is_url, number, text, url
from ..web import Call
from .crud import (
    Resource,
    create,
    name_field,
    new_object,
    register,
    render,
    route,
)

__all__ = ["LINK_LISTS"]


DEFAULT_PORTS = {"http": 80, "https": 443}


def normalised_url(address: str) -> str:
    """Decision (the reference is silent on whether a link keeps its URL as sent): links made
    through a list are stored normalised, as many URL shorteners do — scheme and host lower case,
    no default port, "/" for an empty path — so a client can't find them again by the URL it sent."""
    parts = urlsplit(address)
    host = (parts.hostname or "").lower()
    if parts.port is not None and parts.port != DEFAULT_PORTS.get(parts.scheme.lower()):
        host = f"{host}:{parts.port}"
    if parts.username or parts.password:
        host = f"{parts.netloc.rpartition('@')[0]}@{host}"
    return urlunsplit((parts.scheme.lower(), host, parts.path or "/", parts.query, parts.fragment))


def _new_links(call: Call, pairs: list[tuple]) -> list[int]:
    """Links made through a list (bulk, file, `links`): all validated before any is stored; ids
    follow the order of the request."""
    checked = [(text(name, "name", max_length=255), normalised_url(url(address, "url"))) for name, address in pairs]
    return [
        call.store.add(
            "links",
            {
                "id": None,
                "enabled": True,
                "name": name,
                "url": address,
                "type": 0,
                "platform_based_links": None,
            },
        )["id"]
        for name, address in checked
    ]


def _existing_link_ids(call: Call, raw: list) -> tuple[list[int], list]:
    """Ids as numbers or digit strings (the examples send `["311"]`)."""
    found, missing = [], []
    for value in raw:
        try:
            ident = integer(value, "ids")
        except ApiError:
            missing.append(value)
            continue
        (found if call.store.get("links", ident) is not None else missing).append(ident)
    return found, missing


def _add(obj: dict, link_ids: list[int]) -> None:
    obj["link_ids"].extend(ident for ident in link_ids if ident not in obj["link_ids"])


def _on_write(call: Call, obj: dict, body: dict) -> None:
    """`linkIds` (existing links) and/or `links` (new {name, url} objects) join the list."""
    warnings = []
    if "linkIds" in body:
        found, missing = _existing_link_ids(call, array(body["linkIds"], "linkIds"))
        _add(obj, found)
        if missing:
            warnings.append(f"Links not found: {', '.join(map(str, missing))}")
    if "links" in body:
        links = _objects(array(body["links"], "links"))
        _add(obj, _new_links(call, [(link.get("name"), link.get("url")) for link in links]))
    obj["warning"] = "; ".join(warnings)


def _objects(items: list) -> list[dict]:
    if not all(isinstance(item, dict) for item in items):
        raise ApiError(400, "each link must be an object with name and url")
    return items


def _conversion_count(call: Call, obj: dict) -> int:
    return sum(
        1
        for click in call.store.data["clicks"].values()
        if click.get("link_list_id") == obj["id"] and click["unique_click"]
    )


LINK_LISTS = register(
    Resource(
        collection="link_lists",
        label="Link list",
        path="LinkList",
        fields={"name": name_field},
        required=("name",),
        defaults=lambda call: {"link_ids": [], "warning": "", "user_id": USER_ID, "company_id": COMPANY_ID},
        created=("id", "name", "enabled", "linkListLength", "warning"),
        listed=("id", "name", "enabled:int", "conversionCount"),
        computed={
            "linkListLength": lambda call, obj: len(obj["link_ids"]),
            "conversionCount": _conversion_count,
        },
        on_write=_on_write,
        generic=("list", "patch", "delete"),
        casings={"patch": ("LinkList", "linkList")},
    )
)


def _find(call: Call, ident: int) -> dict:
    return call.store.find("link_lists", "Link list", ident)


def _links_from_file(call: Call) -> list[int]:
    mapping = parse_mapping(call.body.form.get("mapping"), {"name", "url"}, "url")
    rows = read_upload(call.body.files.get("doc"))
    url_column = next(index for index, marker in mapping.items() if marker == "url")
    name_column = next((index for index, marker in mapping.items() if marker == "name"), None)
    if rows and not is_url(cell(rows[0], url_column)):
        rows = rows[1:]  # a header row
    pairs = []
    for row in rows:
        address = cell(row, url_column)
        if not is_url(address):
            continue  # decision: rows without a valid URL are skipped, as wrong numbers are
        name = (cell(row, name_column) if name_column is not None else "") or address
        pairs.append((name[:255], address))
    return _new_links(call, pairs)


@route("POST", "/api/3/LinkList")
def create_list(call: Call) -> dict:
    """JSON `{"name", "linkIds" | "links"}`, or a multipart file import (`doc`, `mapping`, `name`)."""
    if not call.is_upload:
        return create(call, LINK_LISTS)
    name = name_field(call.body.form.get("name"))
    link_ids = _links_from_file(call)
    obj = call.store.add("link_lists", {**new_object(call, LINK_LISTS), "name": name, "link_ids": link_ids})
    return {"id": obj["id"], "name": obj["name"], "enabled": True}


@route("PUT", "/api/3/LinkList/<int:ident>")
def replace_list(call: Call, ident: int) -> dict:
    """A file import replaces the list's links (the only PUT the reference shows for link lists)."""
    if not call.is_upload:
        raise ApiError(400, "doc should not be empty (send multipart/form-data with doc, mapping and name)")
    obj = _find(call, ident)
    link_ids = _links_from_file(call)
    if call.body.form.get("name"):
        obj["name"] = name_field(call.body.form["name"])
    obj["link_ids"] = link_ids
    return {"id": ident, "name": obj["name"], "enabled": bool(obj["enabled"])}


@route("POST", "/api/3/LinkList/<int:ident>/links")
def add_links(call: Call, ident: int) -> list[int]:
    """`"ids(array)"`, or one link as `"id(int)"`."""
    obj = _find(call, ident)
    body = call.json
    if "ids" not in body and "id" not in body:
        raise ApiError(400, "ids should not be empty")
    raw = array(body["ids"], "ids") if "ids" in body else [number(body["id"], "id")]
    found, _ = _existing_link_ids(call, raw)
    _add(obj, found)
    return found


@route("POST", "/api/3/LinkList/<int:ident>/links/bulk")
def add_links_bulk(call: Call, ident: int) -> dict:
    obj = _find(call, ident)
    links = call.json.get("links")
    if not isinstance(links, list) or not links:
        raise ApiError(400, "links should not be empty")
    problems = [
        f"links.{index}.{key} should not be empty"
        for index, link in enumerate(_objects(links))
        for key in ("name", "url")
        if not link.get(key)
    ]
    if problems:
        raise ApiError(400, problems)
    _add(obj, _new_links(call, [(link["name"], link["url"]) for link in links]))
    return render(call, LINK_LISTS, obj, ("enabled", "id", "name", "user_id", "company_id"))


@route("GET", "/api/3/LinkList/<int:ident>/links")
def links(call: Call, ident: int) -> list[dict]:
    obj = _find(call, ident)
    members = [call.store.get("links", link_id) for link_id in obj["link_ids"]]
    # an array around one object, as in the reference
    return [{"id": ident, "links": [{"linkId": link["id"], "url": link["url"]} for link in members if link]}]


@route("DELETE", "/api/3/LinkList/<int:ident>/links")
def remove_link(call: Call, ident: int) -> bool:
    obj = _find(call, ident)
    raw = call.query.get("[id]")  # example and prose agree on `?[id]=` (sender lists use `?id=`)
    if raw is None:
        raise ApiError(400, "id should not be empty")
    link_id = integer(raw, "id")
    if link_id not in obj["link_ids"]:
        raise ApiError(404, f"Link {link_id} is not in link list {ident}")
    obj["link_ids"].remove(link_id)
    return True
