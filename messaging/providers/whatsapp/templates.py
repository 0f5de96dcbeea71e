"""WhatsApp template rules (WhatsApp Business, as CleverTap's MSG91 page lists the parts) and the
template object sent in place of `$$Template`.

Rules checked: the name is lower-case letters, digits and underscores; header none / text (≤ 60
characters, at most one variable) / media (image, video, document: a media URL; location: its
latitude and longitude, optionally a name and an address); body 1 to 1,024 characters with
variables {{1}}…{{n}} numbered without gaps; footer ≤ 60 characters without variables; buttons
either up to 3 quick replies or up to 2 calls to action (one URL, one phone number), each label
≤ 25 characters; a limited-time offer has no footer, an image, video or no header, a body of at
most 600 characters and a URL call to action.

Sending follows WhatsApp's send API, which MSG91 passes on: a text header's variable, a media
header's link, a location header's coordinates, each body variable as a text parameter, and for a
limited-time offer a `limited_time_offer` component with the offer's expiry (`expiration_time_ms`).
A variable left empty is refused (`MissingValue`): WhatsApp rejects the message, or worse, sends
"Hi , your order  ships today".
"""

import re
from datetime import datetime
from urllib.parse import urlsplit

NAME_RE = re.compile(r"^[a-z0-9_]{1,512}$")
LANGUAGE_RE = re.compile(r"^[a-z]{2,3}(_[A-Z]{2})?$")
VARIABLE_RE = re.compile(r"\{\{\s*(\d+)\s*\}\}")
MEDIA = ("image", "video", "document")
LOCATION_FIELDS = ("latitude", "longitude", "name", "address")


class MissingValue(ValueError):
    """A value the template needs is missing; str() says which."""


def variables(text: str) -> list[int]:
    return [int(n) for n in VARIABLE_RE.findall(text or "")]


def header_variable(t) -> bool:
    return t.header_type == "text" and bool(variables(t.header_text))


def values_needed(t) -> int:
    """How many values a send needs: the text header's variable, then the body's."""
    return int(header_variable(t)) + max(variables(t.body), default=0)


def template_problems(t) -> dict[str, list[str]]:
    problems: dict[str, list[str]] = {}

    def add(field, message):
        problems.setdefault(field, []).append(message)

    if not NAME_RE.match(t.name or ""):
        add("name", "Lower-case letters, digits and underscores only.")
    if not LANGUAGE_RE.match(t.language or ""):
        add("language", "A language code such as en or en_US.")
    if t.header_type == "text":
        if not t.header_text:
            add("header_text", "Write the header text.")
        elif len(variables(t.header_text)) > 1 or (variables(t.header_text) and variables(t.header_text) != [1]):
            add("header_text", "A text header takes at most one variable, {{1}}.")
    elif t.header_text:
        add("header_text", "Only a text header has text.")
    if t.header_type in MEDIA and not t.header_media_url:
        add("header_media_url", f"Give the {t.header_type}'s URL.")
    if t.header_type not in MEDIA and t.header_media_url:
        add("header_media_url", "Only an image, video or document header has a media URL.")
    _location(t, add)
    body_vars = variables(t.body)
    if not (t.body or "").strip():
        add("body", "Write the message.")
    elif len(t.body) > 1024:
        add("body", "At most 1,024 characters.")
    if body_vars and sorted(set(body_vars)) != list(range(1, max(body_vars) + 1)):
        add("body", "Number the variables {{1}}, {{2}}, … without gaps.")
    if t.footer and variables(t.footer):
        add("footer", "A footer has no variables.")
    _buttons(t, add)
    if t.limited_time_offer:
        if t.footer:
            add("footer", "A limited-time offer has no footer.")
        if t.header_type not in ("none", "image", "video"):
            add("header_type", "A limited-time offer has an image, a video or no header.")
        if len(t.body or "") > 600:
            add("body", "A limited-time offer's body is at most 600 characters.")
        if t.button_type != "cta" or not any(b.get("type") == "url" for b in t.buttons or []):
            add("buttons", "A limited-time offer needs a URL call-to-action button.")
    return problems


def _buttons(t, add) -> None:
    buttons = t.buttons or []
    if not isinstance(buttons, list) or not all(isinstance(b, dict) for b in buttons):
        add("buttons", "Buttons must be a list.")
        return
    if t.button_type == "none":
        if buttons:
            add("buttons", "Choose the button type, or remove the buttons.")
        return
    if not buttons:
        add("buttons", "Add at least one button.")
    for button in buttons:
        if not 1 <= len(str(button.get("text", "")).strip()) <= 25:
            add("buttons", "Each button's label is 1 to 25 characters.")
            break
    if t.button_type == "quick_reply" and len(buttons) > 3:
        add("buttons", "At most 3 quick replies.")
    if t.button_type == "cta":
        kinds = [b.get("type") for b in buttons]
        if len(buttons) > 2 or len(set(kinds)) != len(kinds) or not set(kinds) <= {"url", "phone"}:
            add("buttons", "At most 2 calls to action: one URL and one phone number.")
        for button in buttons:
            value = str(button.get("value", ""))
            if button.get("type") == "url" and urlsplit(value).scheme not in ("http", "https"):
                add("buttons", "A URL button needs an http(s) URL.")
            if button.get("type") == "phone" and not re.fullmatch(r"\+?\d{6,20}", value):
                add("buttons", "A phone button needs a number with its country code.")


def _location(t, add) -> None:
    location = t.header_location or {}
    if t.header_type != "location":
        if location:
            add("header_location", "Only a location header has a location.")
        return
    if not isinstance(location, dict) or set(location) - set(LOCATION_FIELDS):
        add("header_location", "A location is a latitude, a longitude, a name and an address.")
        return
    for field, limit in (("latitude", 90), ("longitude", 180)):
        try:
            value = float(location.get(field, ""))
        except (TypeError, ValueError):
            value = None
        if value is None or not -limit <= value <= limit:
            add("header_location", f"Give the location's {field}, a number from -{limit} to {limit}.")


def template_object(t, *, body_values: list[str] = (), header_value: str = "",
                    offer_expires: datetime | None = None) -> dict:
    """The template as WhatsApp's send API names it: name, language, components with parameters.
    MissingValue when a variable is empty or a limited-time offer has no expiry."""
    components = []
    if header_variable(t):
        components.append({"type": "header", "parameters": [{"type": "text", "text": _filled(header_value,
                                                                                             "The header's {{1}}")}]})
    elif t.header_type in MEDIA:
        components.append({"type": "header", "parameters": [{"type": t.header_type,
                                                            t.header_type: {"link": t.header_media_url}}]})
    elif t.header_type == "location":
        location = {k: str(v) for k, v in (t.header_location or {}).items() if k in LOCATION_FIELDS and str(v)}
        components.append({"type": "header", "parameters": [{"type": "location", "location": location}]})
    if t.limited_time_offer:
        if offer_expires is None:
            raise MissingValue(f"“{t.name}” is a limited-time offer: give the offer's expiry.")
        components.append({"type": "limited_time_offer", "parameters": [{
            "type": "limited_time_offer",
            "limited_time_offer": {"expiration_time_ms": int(offer_expires.timestamp() * 1000)}}]})
    needed = max(variables(t.body), default=0)
    if needed:
        values = list(body_values)
        components.append({"type": "body", "parameters": [
            {"type": "text", "text": _filled(values[n] if n < len(values) else "", f"The body's {{{{{n + 1}}}}}")}
            for n in range(needed)]})
    return {"name": t.name, "language": {"code": t.language}, "components": components}


def template_object_from_lines(t, lines: list[str], *, offer_expires: datetime | None = None) -> dict:
    """Values given one per line (a broadcast's rendered message, an auto-reply): a text header's
    variable first, then the body's in order."""
    lines = list(lines)
    header = lines.pop(0) if header_variable(t) and lines else ""
    return template_object(t, header_value=header, body_values=lines, offer_expires=offer_expires)


def _filled(value: str, what: str) -> str:
    if not value.strip():
        raise MissingValue(f"{what} is empty: the template needs a value there.")
    return value
