"""Unsubscribe lists: numbers excluded from every broadcast that names the list."""

from werkzeug.wrappers import Response

from ..errors import ApiError
from ..files import CONTACT_MARKERS, csv_download, parse_mapping, preview, read_contacts, read_upload
from ..state import COMPANY_ID, USER_ID
from ..validation import array, normalize_phone, parse_bool
from ..web import Call
from .crud import Resource, create, name_field, new_object, register, render, route

__all__ = ["UNSUBSCRIBE_LISTS"]


def _add(numbers: list[str], raw_numbers) -> dict:
    """Adds valid new numbers in place; the members endpoint's counters."""
    present = set(numbers)
    inserted = already = invalid = 0
    for raw in array(raw_numbers, "numbers"):
        number = normalize_phone(raw)
        if number is None:
            invalid += 1
        elif number in present:
            already += 1
        else:
            present.add(number)
            numbers.append(number)
            inserted += 1
    return {"inserted": inserted, "alreadyExists": already, "notValid": invalid}


UNSUBSCRIBE_LISTS = register(
    Resource(
        collection="unsubscribe_lists",
        label="Unsubscribe list",
        path="unsubscribeList",
        fields={"name": name_field},
        required=("name",),
        defaults=lambda call: {"company_id": COMPANY_ID, "user_id": USER_ID, "numbers": []},
        created=("enabled", "id", "name", "company_id", "unsubscribers_amount", "user_id"),
        listed=("id", "name", "enabled:int", "unsubscribers_amount"),
        patched=("id", "enabled"),  # the reference's PATCH answer echoes a boolean here
        computed={"unsubscribers_amount": lambda call, obj: len(obj["numbers"])},
        on_write=lambda call, obj, body: _add(obj["numbers"], body["numbers"]) if "numbers" in body else None,
        generic=("list", "patch", "delete"),
        casings={"patch": ("UnsubscribeList",), "delete": ("UnsubscribeList", "unsubscribeList")},
    )
)


def _find(call: Call, ident: int) -> dict:
    return call.store.find("unsubscribe_lists", "Unsubscribe list", ident)


def _imported_numbers(call: Call) -> list[str]:
    truncate = parse_bool(call.query.get("truncate", "false")) or False
    mapping = parse_mapping(call.body.form.get("mapping"), CONTACT_MARKERS, "phone_number")
    contacts, _ = read_contacts(read_upload(call.body.files.get("doc")), mapping, truncate)
    return [contact["phone_number"] for contact in contacts]


# The two ways to create a list differ only in casing: POST /UnsubscribeList imports a file (example
# and prose), POST /unsubscribeList takes JSON numbers (example and prose).
@route("POST", "/api/3/unsubscribeList")
def create_list(call: Call) -> dict:
    return create(call, UNSUBSCRIBE_LISTS)


@route("POST", "/api/3/UnsubscribeList")
def import_list(call: Call) -> dict:
    if not call.is_upload:
        raise ApiError(400, "doc should not be empty (send multipart/form-data with doc, mapping and name)")
    name = name_field(call.body.form.get("name"))
    numbers = _imported_numbers(call)
    obj = call.store.add("unsubscribe_lists", {**new_object(call, UNSUBSCRIBE_LISTS), "name": name, "numbers": numbers})
    return render(call, UNSUBSCRIBE_LISTS, obj, UNSUBSCRIBE_LISTS.created)


@route("PUT", "/api/3/UnsubscribeList/<int:ident>")
def replace_list(call: Call, ident: int) -> dict:
    obj = _find(call, ident)
    if not call.is_upload:
        raise ApiError(400, "doc should not be empty (send multipart/form-data with doc and mapping)")
    numbers = _imported_numbers(call)
    if call.body.form.get("name"):
        obj["name"] = name_field(call.body.form["name"])
    obj["numbers"] = numbers
    return render(call, UNSUBSCRIBE_LISTS, obj, UNSUBSCRIBE_LISTS.created)


# The reference shows /unsubscribeList/preview/4 in the example and /unsubscribeList/preview in the
# prose; the id names no list (decision: ignored).
@route("POST", "/api/3/unsubscribeList/preview")
@route("POST", "/api/3/unsubscribeList/preview/<int:ident>")
def preview_file(call: Call, ident: int | None = None) -> dict:
    if not call.is_upload:
        raise ApiError(400, "doc should not be empty")
    # decision: isAllNum & co. are per column as in the recipient list preview (the unsubscribe
    # example's four entries for one column look like a slip)
    return preview(read_upload(call.body.files.get("doc")))


@route("POST", "/api/3/UnsubscribeList/<int:ident>/members", "/api/3/unsubscribeList/<int:ident>/members")
def add_members(call: Call, ident: int) -> dict:
    obj = _find(call, ident)
    return _add(obj["numbers"], call.json.get("numbers"))


@route("GET", "/api/3/unsubscribeList/<int:ident>/members")
def members(call: Call, ident: int) -> list[dict]:
    return [{"phone_number": number} for number in _find(call, ident)["numbers"]]


@route("GET", "/api/3/unsubscribeList/<int:ident>/download")
def download(call: Call, ident: int) -> Response:
    numbers = _find(call, ident)["numbers"]
    return Response(
        csv_download(["phone_number"], [[number] for number in numbers]),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="unsubscribe_list_{ident}.csv"'},
    )
