"""Message tokens: find them, check them, and fill them in the way MessageWhiz will.

    {{first_name}} {{last_name}} {{url}} {{custom}} {{custom1}} … {{custom4}} {{gender}}
    {{link:ID}} {{link_list:ID}} {{word_spinner:ID}} {{shorten_url}} {{unsubscription_link}}
    {{callback_link}} {{verification_code}} {{random_symbol}}

A recipient field may name a fallback for recipients without it: {{first_name|there}}.
MessageWhiz fills in tokens itself and knows no fallbacks, so a broadcast it renders refuses them
(check's `provider_renders`); where we render (previews, estimates, HTTP providers, a single
message) the fallback is used when the field is empty.

MessageWhiz does the real substitution when it sends. We render locally for previews and to
estimate SMS parts before submitting, so what matters is that each text has the right length.
Links, for instance, all become a placeholder as long as a MessageWhiz short link. Messages we
send ourselves (generic providers) get real links instead, through `RenderContext.tracked_link`.

No ORM here: callers pass links, link lists and word spinners as mappings from remote id to an
object or dict with `enabled` (and `name`, `words`), and recipients as mappings of field → value.
"""

import difflib
import re
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from campaigns import sms

# MessageWhiz swaps every link for a short link on its own domain. Only the length matters for
# counting, so one placeholder of a realistic length (22 characters) stands for all of them;
# change it here if the provider's short links get longer.
SHORT_LINK = "https://0nz0.com/xxxxx"
VERIFICATION_CODE = "123456"
# What {{random_symbol}} draws from: the provider's own estimate shows a lower-case letter.
RANDOM_SYMBOLS = "abcdefghijklmnopqrstuvwxyz"
PHONE_FIELD = "phone"

# Filled in from the recipient's field of the same name.
FIELD_TOKENS = frozenset(
    {"first_name", "last_name", "url", "custom", "custom1", "custom2", "custom3", "custom4", "gender"}
)
# Name a MessageWhiz object: {{link:ID}}.
ID_TOKENS = {"link": "link", "link_list": "link list", "word_spinner": "word spinner"}
OTHER_TOKENS = frozenset(
    {"shorten_url", "unsubscription_link", "callback_link", "verification_code", "random_symbol"}
)
TOKEN_NAMES = FIELD_TOKENS | ID_TOKENS.keys() | OTHER_TOKENS

ERROR, WARNING = "error", "warning"

# A token, or an opening {{ that never closes, or a single-brace look-alike such as {shorten_url}
# (the provider's own template example has one; it is sent as literal text).
_SCAN_RE = re.compile(
    r"\{\{(?P<inner>[^{}]*)\}\}"
    r"|\{\{(?!\{)\s*(?P<unclosed>\w*)"
    r"|(?<!\{)\{(?P<single>[^{}\n]*)\}(?!\})"
)
_INNER_RE = re.compile(r"\s*(?P<name>\w+)\s*(?:\|(?P<fallback>.*)|:(?P<arg>.*))?", re.DOTALL | re.ASCII)
_ID_RE = re.compile(r"\s*(\d+)\s*", re.ASCII)


@dataclass(frozen=True, slots=True)
class Token:
    name: str  # one of TOKEN_NAMES
    id: int | None  # for link, link_list and word_spinner
    start: int  # span in the body
    end: int
    text: str  # as written, e.g. "{{ first_name }}"
    fallback: str | None = None  # {{first_name|there}}: used when the recipient's field is empty


@dataclass(frozen=True, slots=True)
class Problem:
    start: int  # span in the body; 0..0 for something missing from the whole body
    end: int
    text: str
    message: str
    severity: str = ERROR


@dataclass(frozen=True, slots=True)
class RenderContext:
    spinners: Mapping[int, Any] = field(default_factory=dict)
    verification_code: str = VERIFICATION_CODE
    # Estimates want the longest text any recipient could get, not the one a preview shows.
    worst_case: bool = False
    # Messages Textcast sends itself (campaigns.tracking): (recipient, the token's position among
    # the body's tokens, token) → the link that recipient gets. None: MessageWhiz's short links.
    tracked_link: Callable[[Mapping[str, Any], int, Token], str] | None = None


def parse(body: str) -> list[Token]:
    """The well-formed tokens in body; check() explains everything else."""
    return _scan(body)[0]


def check(
    body: str,
    *,
    links: Mapping[int, Any],
    link_lists: Mapping[int, Any],
    spinners: Mapping[int, Any],
    otp: bool = False,
    provider_renders: bool = False,
) -> list[Problem]:
    """Problems of `body`. `provider_renders`: the provider (MessageWhiz) fills in the tokens itself."""
    tokens, problems = _scan(body)
    objects = {"link": links, "link_list": link_lists, "word_spinner": spinners}
    for token in tokens:
        if token.name in ID_TOKENS:
            problem = _object_problem(token, objects[token.name].get(token.id))
            if problem:
                problems.append(problem)
        elif token.name == "verification_code" and not otp:
            problems.append(_problem(token, "{{verification_code}} is only filled in for OTP messages"))
        if token.fallback is not None and provider_renders:
            problems.append(_problem(token, f"MessageWhiz fills in {_braced(token.name)} itself and has no "
                                            f"fallbacks: recipients without a {token.name.replace('_', ' ')} would "
                                            f"get “{token.text}” as written. Write {_braced(token.name)} without "
                                            f"“|{token.fallback}”, or send through an HTTP provider."))
    if otp and not any(token.name == "verification_code" for token in tokens):
        problems.append(Problem(0, 0, "", "an OTP message must contain {{verification_code}}"))
    return sorted(problems, key=lambda p: (p.start, p.end))


class Renderer:
    """A body compiled once, rendered per recipient: literal text with the tokens' getters.

    Tokens that read nothing from the recipient (links, codes) are resolved at compile time and
    merged into the literal text around them.
    """

    __slots__ = ("_getters", "_parts", "static_text")

    def __init__(self, segments: list[str | Callable[[Mapping[str, Any]], str]]):
        parts: list[str | None] = []  # None: a getter's slot
        getters: list[tuple[int, Callable[[Mapping[str, Any]], str]]] = []
        for segment in segments:
            if not isinstance(segment, str):
                getters.append((len(parts), segment))
                parts.append(None)
            elif parts and parts[-1] is not None:
                parts[-1] += segment
            else:
                parts.append(segment)
        self._parts = parts
        self._getters = getters
        # The same text for every recipient: count it once instead of a million times.
        self.static_text = None if getters else "".join(parts)

    def __call__(self, recipient: Mapping[str, Any]) -> str:
        if self.static_text is not None:
            return self.static_text
        parts = self._parts.copy()
        for index, get in self._getters:
            parts[index] = get(recipient)
        return "".join(parts)


def compile(body: str, *, context: RenderContext | None = None) -> Renderer:
    context = context or RenderContext()
    segments: list[str | Callable[[Mapping[str, Any]], str]] = []
    position = 0
    for slot, token in enumerate(parse(body)):
        segments.append(body[position : token.start])
        segments.append(_resolve(token, context, slot))
        position = token.end
    segments.append(body[position:])
    return Renderer(segments)


def render(body: str, recipient: Mapping[str, Any], *, context: RenderContext | None = None) -> str:
    """One recipient's text, for previews. Compile once instead when rendering many."""
    return compile(body, context=context)(recipient)


def _scan(body: str) -> tuple[list[Token], list[Problem]]:
    tokens: list[Token] = []
    problems: list[Problem] = []
    for match in _SCAN_RE.finditer(body):
        start, end, text = match.start(), match.end(), match.group()
        if match["unclosed"] is not None:
            hint = f": expected {_braced(match['unclosed'])}" if match["unclosed"] else ""
            problems.append(Problem(start, end, text, f"{text} is not closed{hint}"))
            continue
        inner = match["inner"] if match["inner"] is not None else match["single"]
        parsed = _INNER_RE.fullmatch(inner)
        if match["single"] is not None:
            if parsed and parsed["name"] in TOKEN_NAMES:
                message = f"{text} is sent as it is; did you mean {_braced(inner.strip())}?"
                problems.append(Problem(start, end, text, message, WARNING))
            continue
        if parsed is None:
            message = f"{text} is not a token: expected {_braced('name')} or {_braced('name:ID')}"
            problems.append(Problem(start, end, text, message))
            continue
        name, arg, fallback = parsed["name"], parsed["arg"], parsed["fallback"]
        if name not in TOKEN_NAMES:
            problems.append(Problem(start, end, text, _unknown_message(text, name)))
        elif fallback is not None:
            if name in FIELD_TOKENS:
                tokens.append(Token(name, None, start, end, text, fallback.strip()))
            else:
                problems.append(Problem(start, end, text, f"{text}: only recipient fields such as "
                                                          f"{_braced('first_name|there')} take a fallback"))
        elif name in ID_TOKENS:
            id_match = _ID_RE.fullmatch(arg or "")
            if id_match:
                tokens.append(Token(name, int(id_match[1]), start, end, text))
            elif not (arg or "").strip():
                problems.append(Problem(start, end, text, f"{text} needs an id, like {_braced(name + ':123')}"))
            else:
                problems.append(Problem(start, end, text, f"{text}: the {ID_TOKENS[name]} id must be a number"))
        elif arg is not None:
            problems.append(Problem(start, end, text, f"{text}: {_braced(name)} takes no id"))
        else:
            tokens.append(Token(name, None, start, end, text))
    return tokens, problems


def _unknown_message(text: str, name: str) -> str:
    close = difflib.get_close_matches(name.lower(), TOKEN_NAMES, n=1)
    hint = f"; did you mean {_braced(close[0])}?" if close else ""
    return f"unknown token {text}{hint}"


def _braced(inner: str) -> str:
    return "{{" + inner + "}}"


def _object_problem(token: Token, obj: Any) -> Problem | None:
    kind = ID_TOKENS[token.name]
    if obj is None:
        return _problem(token, f"there is no {kind} with id {token.id}")
    label = f'{kind} {token.id} "{_attr(obj, "name", "")}"' if _attr(obj, "name", "") else f"{kind} {token.id}"
    if not _attr(obj, "enabled", False):
        return _problem(token, f"{label} is disabled")
    if token.name == "word_spinner" and not _attr(obj, "words", None):
        return _problem(token, f"{label} has no words")
    return None


def _problem(token: Token, message: str) -> Problem:
    return Problem(token.start, token.end, token.text, message)


def _attr(obj: Any, name: str, default: Any) -> Any:
    return obj.get(name, default) if isinstance(obj, Mapping) else getattr(obj, name, default)


def _resolve(token: Token, context: RenderContext, slot: int) -> str | Callable[[Mapping[str, Any]], str]:
    """The token's text if it is the same for everyone, else a getter taking the recipient."""
    name = token.name
    if name in FIELD_TOKENS:
        return _field_getter(name, token.fallback or "")
    tracked = context.tracked_link
    if tracked is not None and name in ("link", "link_list", "unsubscription_link"):
        return lambda recipient: tracked(recipient, slot, token)
    if tracked is not None and name == "shorten_url":
        return lambda recipient: tracked(recipient, slot, token) if recipient.get("url") else ""
    if name in ("link", "link_list", "unsubscription_link", "callback_link"):
        return SHORT_LINK
    if name == "shorten_url":
        return lambda recipient: SHORT_LINK if recipient.get("url") else ""
    if name == "verification_code":
        return context.verification_code
    if name == "random_symbol":
        if context.worst_case:
            return RANDOM_SYMBOLS[0]  # every symbol is one GSM character
        return lambda recipient: RANDOM_SYMBOLS[_phone_hash(recipient) % len(RANDOM_SYMBOLS)]
    # word_spinner
    spinner = context.spinners.get(token.id)
    words = list(_attr(spinner, "words", None) or []) if spinner is not None else []
    if not words:
        return ""
    if context.worst_case:
        # Longest in SMS terms: a word forcing UCS-2 beats any GSM word, then septets / units.
        return max(words, key=lambda word: (not sms.is_gsm(word), sms.count(word).length))
    if len(words) == 1:
        return words[0]
    # Chosen by a hash of the phone that is stable across processes (unlike hash()), so a
    # preview doesn't flicker between reloads; seeded with the spinner id so that two spinners
    # don't always pick the same position.
    seed = token.id
    return lambda recipient: words[_phone_hash(recipient, seed) % len(words)]


def _field_getter(name: str, fallback: str = "") -> Callable[[Mapping[str, Any]], str]:
    def get(recipient: Mapping[str, Any]) -> str:
        value = recipient.get(name)
        if value is None or value == "":
            return fallback
        return value if value.__class__ is str else str(value)

    return get


def _phone_hash(recipient: Mapping[str, Any], seed: int = 0) -> int:
    return zlib.crc32(str(recipient.get(PHONE_FIELD) or "").encode(), seed)


def fill_fallbacks(body: str, recipient: Mapping[str, Any]) -> str:
    """`body` with each field token that names a fallback filled in for `recipient`, every other
    token left as written: for a message MessageWhiz renders, to one recipient we know."""
    filled, position = [], 0
    for token in parse(body):
        if token.fallback is not None:
            filled += [body[position:token.start], _field_getter(token.name, token.fallback)(recipient)]
            position = token.end
    return "".join(filled) + body[position:]
