"""Link conversion (links themselves are a plain CRUD resource in crud.py)."""

from ..validation import only_fields, text
from ..web import Call
from .crud import route


def _bare(address: str) -> str:
    address = address.lower()
    for prefix in ("https://", "http://", "www."):
        address = address.removeprefix(prefix)
    return address.rstrip("/")


@route("POST", "/api/3/details/linkConversion")
def link_conversion(call: Call) -> dict:
    """Recipients whose message carried a link to `url` (matched without scheme, `www.` or case, as
    `mmdsmart.com` in the reference), and how many of them clicked it at least once."""
    only_fields(call.json, "url")  # "Only one parameter should be included within the request body"
    wanted = _bare(text(call.json.get("url"), "url"))
    recipients = clicked = 0
    for message in call.store.data["messages"].values():
        matching = [link for link in message["links"] if wanted in _bare(link["url"])]
        if matching:
            recipients += 1
            clicked += any(link.get("clicked") for link in matching)
    conversion = round(clicked * 100 / recipients, 2) if recipients else 0
    return {
        "conversion": int(conversion) if float(conversion).is_integer() else conversion,
        "totalRecipients": recipients,
        "clicks": clicked,
    }
