"""JSON from outside (callback bodies, provider and MessageWhiz answers, API requests), parsed safely.

`json.loads` recurses once per nesting level: 100,000 `[` raise RecursionError (a 500 in a view,
and a sent message recorded as "failed" when it was a provider's answer), and a few hundred
levels that do parse blow up later in whatever walks the value (our template substitution, the
JSONField that stores it). No document we read is nested more than a dozen levels, so anything
deeper than MAX_DEPTH, or larger than the caller's size cap, is refused before it is parsed,
with the one error every caller already handles as "not valid JSON".
"""

import json
import re
from typing import Any

MAX_DEPTH = 64
# A string literal (escapes included): brackets inside it are text, not nesting.
# (Unrolled: runs of plain characters are taken whole, three times faster on a batch of DLRs.)
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_BRACKETS = re.compile(r"[\[\]{}]")


class JSONError(ValueError):
    """The text is not JSON we accept. str() is "not valid JSON" (what callers answer a sender);
    `detail` says why, for people who can fix it (a template's author), never echoing the input."""

    def __init__(self, detail: str, message: str = "not valid JSON"):
        super().__init__(message)
        self.detail = detail


def loads(data: str | bytes | bytearray, *, max_depth: int = MAX_DEPTH, max_size: int | None = None,
          allow_constants: bool = True) -> Any:
    """`json.loads`, raising JSONError (a ValueError) for anything it cannot or should not parse:
    invalid JSON or encoding, nesting deeper than `max_depth`, more than `max_size` characters,
    and NaN / Infinity unless `allow_constants`."""
    if max_size is not None and len(data) > max_size:
        raise JSONError(f"larger than {max_size} bytes", f"larger than {max_size} bytes")
    if isinstance(data, bytes | bytearray):
        try:
            data = bytes(data).decode(json.detect_encoding(data))
        except UnicodeDecodeError:
            raise JSONError("not UTF-8", "not valid UTF-8") from None
    if _too_deep(data, max_depth):
        raise JSONError(f"nested deeper than {max_depth} levels")
    try:
        return json.loads(data, parse_constant=None if allow_constants else _no_constant)
    except (RecursionError, MemoryError):  # the depth check makes these unlikely, not impossible
        raise JSONError("too complex to parse") from None
    except ValueError as exc:
        raise JSONError(str(exc)) from None


def _too_deep(text: str, max_depth: int) -> bool:
    # Fewer opening brackets than the limit cannot nest past it: the common case costs two counts.
    if text.count("[") + text.count("{") <= max_depth:
        return False
    depth = 0
    for match in _BRACKETS.finditer(_STRING.sub("", text)):
        if match.group() in "[{":
            depth += 1
            if depth > max_depth:
                return True
        else:
            depth -= 1
    return False


def _no_constant(name: str):
    raise ValueError(f"{name} is not a number")
