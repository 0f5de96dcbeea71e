"""Which parts of a generic provider's configuration are credentials, and how they are masked.

Secrets are write-only: a masked value is shown instead, and submitting the mask back keeps the
stored value. Credentials live in the password, in headers (all but a few harmless ones), and in
parameters or endpoint query arguments named like one (`api_key`, `token`, `password`, …).
"""

import re
from urllib.parse import unquote

MASK = "********"
# Header values worth seeing again; every other header may hold a credential.
PLAIN_HEADERS = frozenset({"content-type", "accept", "accept-language", "user-agent", "content-language"})
SECRET_NAME = re.compile(r"key|token|secret|pass|auth|sign|pwd", re.IGNORECASE)


def is_secret(name: str, *, header: bool = False) -> bool:
    return name.lower() not in PLAIN_HEADERS if header else bool(SECRET_NAME.search(name))


def _arguments(url: str) -> tuple[str, list[list[str]]]:
    """The URL before its query, and the query's arguments as written (encoding untouched)."""
    base, _, query = url.partition("?")
    return base, [segment.split("=", 1) for segment in query.split("&")] if query else []


def _join(base: str, arguments: list[list[str]]) -> str:
    return f"{base}?{'&'.join('='.join(argument) for argument in arguments)}" if arguments else base


def mask_url(url: str) -> str:
    """The endpoint with credential-looking query values masked (placeholders such as $$To kept)."""
    base, arguments = _arguments(url)
    for argument in arguments:
        if len(argument) == 2 and argument[1] and "$$" not in argument[1] and is_secret(unquote(argument[0])):
            argument[1] = MASK
    return _join(base, arguments)


def unmask_url(url: str, saved: str) -> str:
    """`url` as submitted, with masked query values taken back from the saved endpoint."""
    base, arguments = _arguments(url)
    previous = {argument[0]: argument[1] for argument in _arguments(saved or "")[1] if len(argument) == 2}
    for argument in arguments:
        if len(argument) == 2 and argument[1] == MASK:
            if argument[0] not in previous:
                raise ValueError(f"Enter a value for the query argument {unquote(argument[0])}.")
            argument[1] = previous[argument[0]]
    return _join(base, arguments)
