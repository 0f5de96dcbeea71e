"""WhatsApp template rules (WhatsApp Business, as CleverTap's MSG91 page lists the parts) and the
template object sent in place of `$$Template`.

Rules checked: the name is lower-case letters, digits and underscores; header none / text (≤ 60
characters, at most one variable) / media (image, video, document: a media URL; location: none);
body 1 to 1,024 characters with variables {{1}}…{{n}} numbered without gaps; footer ≤ 60 characters
without variables; buttons either up to 3 quick replies or up to 2 calls to action (one URL, one
phone number), each label ≤ 25 characters; a limited-time offer has no footer, an image, video or
no header, a body of at most 600 characters and a URL call to action.
"""

import re
from urllib.parse import urlsplit

NAME_RE = re.compile(r"^[a-z0-9_]{1,512}$")
LANGUAGE_RE = re.compile(r"^[a-z]{2,3}(_[A-Z]{2})?$")
VARIABLE_RE = re.compile(r"\{\{\s*(\d+)\s*\}\}")
MEDIA = ("image", "video", "document")


def variables(text: str) -> list[int]:
    return [int(n) for n in VARIABLE_RE.findall(text or "")]


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


def template_object(t, *, body_values: list[str] = (), header_value: str = "") -> dict:
    """The template as WhatsApp's send API names it: name, language, components with parameters."""
    components = []
    if t.header_type == "text" and variables(t.header_text):
        components.append({"type": "header", "parameters": [{"type": "text", "text": header_value}]})
    elif t.header_type in MEDIA:
        components.append({"type": "header", "parameters": [{"type": t.header_type,
                                                            t.header_type: {"link": t.header_media_url}}]})
    needed = max(variables(t.body), default=0)
    if needed:
        values = list(body_values) + [""] * (needed - len(body_values))
        components.append({"type": "body", "parameters": [{"type": "text", "text": v} for v in values[:needed]]})
    return {"name": t.name, "language": {"code": t.language}, "components": components}
