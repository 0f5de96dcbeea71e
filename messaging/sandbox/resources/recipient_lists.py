"""Recipient lists: file import with column mapping, preview, manual numbers, recipients, download."""

from werkzeug.wrappers import Response

from ..errors import ApiError
from ..files import CONTACT_MARKERS, csv_download, parse_mapping, preview, read_contacts, read_upload
from ..validation import array, normalize_phone, parse_bool
from ..web import Call
from .crud import ROUTES, Resource, name_field, new_object, register, route

__all__ = ["RECIPIENT_LISTS", "ROUTES"]

RECIPIENT_LISTS = register(
    Resource(
        collection="recipient_lists",
        label="Recipient list",
        path="recipientList",
        fields={"name": name_field},
        required=("name",),
        defaults=lambda call: {"columns": []},
        created=("id", "name", "enabled", "count"),
        listed=("id", "name", "enabled:int", "count"),
        patched=("name", "enabled", "count"),  # the reference's PATCH answer has no id
        computed={"count": lambda call, obj: len(call.store.recipients.get(obj["id"], ()))},
        generic=("list", "patch", "delete"),
        casings={"list": ("RecipientList",), "patch": ("RecipientList",), "delete": ("RecipientList",)},
    )
)


def _find(call: Call, ident: int) -> dict:
    return call.store.find("recipient_lists", "Recipient list", ident)


def _import(call: Call) -> tuple[list[dict], list[str], dict]:
    truncate = parse_bool(call.query.get("truncate", "false")) or False
    mapping = parse_mapping(call.body.form.get("mapping"), CONTACT_MARKERS, "phone_number")
    rows = read_upload(call.body.files.get("doc"))
    contacts, stats = read_contacts(rows, mapping, truncate)
    columns = [marker for _, marker in sorted(mapping.items()) if marker != "phone_number"]
    return contacts, columns, stats


def _require_upload(call: Call) -> None:
    if not call.is_upload:
        raise ApiError(400, "doc should not be empty (send multipart/form-data with doc, mapping and name)")


@route("POST", "/api/3/RecipientList")
def create_from_file(call: Call) -> dict:
    _require_upload(call)
    name = name_field(call.body.form.get("name"))
    contacts, columns, stats = _import(call)
    obj = call.store.add("recipient_lists", {**new_object(call, RECIPIENT_LISTS), "name": name, "columns": columns})
    call.store.recipients[obj["id"]] = contacts
    return {**stats, "recipient_list_id": obj["id"]}


@route("PUT", "/api/3/recipientList/<int:ident>")
def replace_from_file(call: Call, ident: int) -> dict:
    _require_upload(call)
    obj = _find(call, ident)
    contacts, columns, stats = _import(call)
    if call.body.form.get("name"):
        obj["name"] = name_field(call.body.form["name"])
    obj["columns"] = columns
    call.store.recipients[ident] = contacts
    return {**stats, "recipient_list_id": ident}


def _add_numbers(call: Call, list_id: int, numbers) -> dict:
    array(numbers, "numbers")
    recipients = call.store.recipients.setdefault(list_id, [])
    present = {recipient["phone_number"] for recipient in recipients}
    inserted = wrong = duplicate = 0
    for raw in numbers:
        number = normalize_phone(raw)
        if number is None:
            wrong += 1
        elif number in present:
            duplicate += 1
        else:
            present.add(number)
            recipients.append({"phone_number": number})
            inserted += 1
    return {
        "inserted": inserted,
        "wrong": wrong,
        "duplicate": duplicate,
        "total": len(numbers),
        "recipient_list_id": list_id,
        "count": len(recipients),
    }


@route("POST", "/api/3/recipientList/numbers")
def create_from_numbers(call: Call) -> dict:
    body = call.json
    name = name_field(body.get("name"))
    array(body.get("numbers"), "numbers")
    obj = call.store.add("recipient_lists", {**new_object(call, RECIPIENT_LISTS), "name": name})
    return _add_numbers(call, obj["id"], body["numbers"])


@route("PUT", "/api/3/recipientList/<int:ident>/numbers")
def add_numbers(call: Call, ident: int) -> dict:
    obj = _find(call, ident)
    body = call.json
    if body.get("name"):
        obj["name"] = name_field(body["name"])
    return _add_numbers(call, ident, body.get("numbers", []))


# The reference posts previews to /recipientList/1/preview and /recipientList/6/preview: the id names
# no list (decision: it is ignored).
@route("POST", "/api/3/recipientList/<int:ident>/preview")
def preview_file(call: Call, ident: int) -> dict:
    _require_upload(call)
    return preview(read_upload(call.body.files.get("doc")))


@route("GET", "/api/3/recipientList/<int:ident>/recipients")
def recipients(call: Call, ident: int) -> list[dict]:
    _find(call, ident)
    # numbers come back as integers here (and as strings from listNumbers), as in the reference
    return [
        {**recipient, "phone_number": int(recipient["phone_number"])}
        for recipient in call.store.recipients.get(ident, [])
    ]


@route("GET", "/api/3/recipientList/<int:ident>/listNumbers")
def list_numbers(call: Call, ident: int) -> list[str]:
    _find(call, ident)
    return [recipient["phone_number"] for recipient in call.store.recipients.get(ident, [])]


@route("GET", "/api/3/recipientList/<int:ident>/download")
def download(call: Call, ident: int) -> Response:
    obj = _find(call, ident)
    columns = ["phone_number", *obj.get("columns", [])]
    rows = [[recipient.get(column, "") for column in columns] for recipient in call.store.recipients.get(ident, [])]
    return Response(
        csv_download(columns, rows),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="recipient_list_{ident}.csv"'},
    )
