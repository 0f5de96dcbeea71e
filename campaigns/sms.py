"""How many SMS parts a text costs, and which characters make it expensive.

A text is sent as GSM-7 (160 septets in one part) when every character is in the GSM 03.38
alphabet, otherwise as UCS-2 (70 UTF-16 code units in one part). Longer texts are split into
parts that each lose room to the concatenation header: 153 septets or 67 units per part.

static/js/sms-counter.js is the browser twin of this module; its tables must stay identical
(tests/campaigns/test_sms_counter_js.py compares the two over every BMP character).

No imports from Django: estimates run this over up to a million personalised texts.
"""

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

GSM7 = "GSM-7"
UCS2 = "UCS-2"

GSM_SINGLE, GSM_MULTI = 160, 153
UCS2_SINGLE, UCS2_MULTI = 70, 67

# GSM 03.38 default alphabet in table order (rows of 16), minus 0x1B: that is the escape to the
# extension table, not a character anyone can type.
GSM_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)
# Extension table: each of these is sent as ESC + character, so it costs two septets.
GSM_EXTENSION = "\f^{}\\[~]|€"

# Letters with accents GSM lacks → the same letter without them. Generated once from the NFD
# decomposition of U+00C0..U+024F, keeping letters whose base is an ASCII letter.
_ACCENTED = (
    "ÀÁÂÃÈÊËÌÍÎÏÒÓÔÕÙÚÛÝáâãçêëíîïóôõúûýÿĀāĂăĄąĆćĈĉĊċČčĎďĒēĔĕĖėĘęĚěĜĝĞğĠġĢģĤĥĨĩĪīĬĭĮįİĴĵĶķĹĺĻļĽľŃńŅņŇň"
    "ŌōŎŏŐőŔŕŖŗŘřŚśŜŝŞşŠšŢţŤťŨũŪūŬŭŮůŰűŲųŴŵŶŷŸŹźŻżŽžƠơƯưǍǎǏǐǑǒǓǔǕǖǗǘǙǚǛǜǞǟǠǡǦǧǨǩǪǫǬǭǰǴǵǸǹǺǻȀȁȂȃȄȅȆȇȈȉ"
    "ȊȋȌȍȎȏȐȑȒȓȔȕȖȗȘșȚțȞȟȦȧȨȩȪȫȬȭȮȯȰȱȲȳ"
)
_UNACCENTED = (
    "AAAAEEEIIIIOOOOUUUYaaaceeiiiooouuyyAaAaAaCcCcCcCcDdEeEeEeEeEeGgGgGgGgHhIiIiIiIiIJjKkLlLlLlNnNnNn"
    "OoOoOoRrRrRrSsSsSsSsTtTtUuUuUuUuUuUuWwYyYZzZzZzOoUuAaIiOoUuUuUuUuUuAaAaGgKkOoOojGgNnAaAaAaEeEeIi"
    "IiOoOoRrRrUuUuSsTtHhAaEeOoOoOoOoYy"
)

# Characters that force UCS-2 but have a GSM look-alike. Most arrive by copy-paste from word
# processors, which "smarten" quotes, dashes and spaces behind the author's back.
REPLACEMENTS: dict[str, str] = {
    **dict(zip(_ACCENTED, _UNACCENTED, strict=True)),
    # Letters without a decomposition (\u0131 is the dotless i).
    "Ð": "D", "ð": "d", "Đ": "D", "đ": "d", "Ħ": "H", "ħ": "h", "\u0131": "i", "Ł": "L", "ł": "l",
    "Œ": "OE", "œ": "oe", "Þ": "Th", "þ": "th", "Ŧ": "T", "ŧ": "t",
    # Look-alikes are written as escapes so a reader can tell them from ASCII.
    # Greek capitals that look like Latin ones (GSM has only the other ten): Alpha, Beta, Epsilon,
    # Zeta, Eta, Iota, Kappa, Mu, Nu, Omicron, Rho, Tau, Upsilon, Chi.
    **dict(zip("\u0391\u0392\u0395\u0396\u0397\u0399\u039a\u039c\u039d\u039f\u03a1\u03a4\u03a5\u03a7",
               "ABEZHIKMNOPTYX", strict=True)),
    # Single quotes: left, right, low-9, high-reversed-9, prime, angle left/right, grave, acute.
    **dict.fromkeys("\u2018\u2019\u201a\u201b\u2032\u2039\u203a`\u00b4", "'"),
    # Double quotes: left, right, low-9, high-reversed-9, double prime, guillemets.
    **dict.fromkeys("\u201c\u201d\u201e\u201f\u2033«»", '"'),
    # Hyphen, non-breaking hyphen, figure dash, en dash, em dash, horizontal bar, minus sign.
    **dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212", "-"),
    "\u2026": "...",  # ellipsis
    # \xa0 … causes SMS messages to use UCS2 encoding and cost twice the money. So do its relatives
    # (en/em/thin/narrow spaces …) and the tab.
    **dict.fromkeys("\xa0\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000\t", " "),
    # Invisible characters with nothing to show for their price: soft hyphen, zero-width space,
    # word joiner, byte order mark. Suggest dropping them.
    **dict.fromkeys("\u00ad\u200b\u2060\ufeff", ""),
}

# The hot path: a text matching none of these is plain GSM, one septet per character.
_NOT_BASIC_RE = re.compile(f"[^{re.escape(GSM_BASIC)}]")
_NOT_GSM_RE = re.compile(f"[^{re.escape(GSM_BASIC + GSM_EXTENSION)}]")
_EXTENSION_RE = re.compile(f"[{re.escape(GSM_EXTENSION)}]")
# Outside the BMP: two UTF-16 code units (a surrogate pair), e.g. most emoji.
_ASTRAL_RE = re.compile("[\U00010000-\U0010ffff]")
_REPLACE_TABLE = str.maketrans(REPLACEMENTS)


class Ucs2Char(NamedTuple):
    char: str
    replacement: str | None  # a GSM stand-in ("" = drop it), None when there is none


@dataclass(frozen=True, slots=True)
class SmsCount:
    encoding: str  # GSM7 or UCS2
    length: int  # septets for GSM-7, UTF-16 code units for UCS-2
    parts: int  # 0 for an empty text: the provider rejects it, validation says so
    per_part: int  # room in one part at this length: 160/70 while single, 153/67 once split
    remaining: int  # room left in the last part, in the same unit as length
    ucs2_chars: tuple[Ucs2Char, ...]  # distinct characters forcing UCS-2, in order of appearance


def is_gsm(text: str) -> bool:
    return _NOT_GSM_RE.search(text) is None


def count(text: str) -> SmsCount:
    if _NOT_BASIC_RE.search(text) is None:
        encoding, length = GSM7, len(text)
    else:
        encoding, length = _measure(text)
    single, multi = (GSM_SINGLE, GSM_MULTI) if encoding == GSM7 else (UCS2_SINGLE, UCS2_MULTI)
    if length <= single:
        parts, per_part, remaining = (1 if length else 0), single, single - length
    else:
        parts, used = _split(text, encoding, length, multi)
        per_part, remaining = multi, multi - used
    culprits = ()
    if encoding == UCS2:
        culprits = tuple(map(_ucs2_char, dict.fromkeys(_NOT_GSM_RE.findall(text))))
    return SmsCount(encoding, length, parts, per_part, remaining, culprits)


def count_parts(text: str) -> int:
    """count(text).parts without the rest: the inner loop of broadcast estimates."""
    if _NOT_BASIC_RE.search(text) is None:
        n = len(text)
        if n <= GSM_SINGLE:
            return 1 if n else 0
        return -(-n // GSM_MULTI)
    encoding, length = _measure(text)
    single, multi = (GSM_SINGLE, GSM_MULTI) if encoding == GSM7 else (UCS2_SINGLE, UCS2_MULTI)
    if length <= single:
        return 1
    return _split(text, encoding, length, multi)[0]


def parts_distribution(texts: Iterable[str]) -> Counter[int]:
    """How many texts need 0, 1, 2, … parts."""
    return Counter(map(count_parts, texts))


def replace_ucs2(text: str) -> str:
    """Apply every suggested replacement; characters without one (Cyrillic, emoji) stay."""
    return text.translate(_REPLACE_TABLE)


def _measure(text: str) -> tuple[str, int]:
    """Encoding and length: one unit per character, plus one per two-unit character."""
    if _NOT_GSM_RE.search(text) is None:
        return GSM7, len(text) + len(_EXTENSION_RE.findall(text))
    return UCS2, len(text) + len(_ASTRAL_RE.findall(text))


def _split(text: str, encoding: str, length: int, per_part: int) -> tuple[int, int]:
    """Parts of a multipart text, and the units used in the last one.

    An escape + character pair (GSM) or a surrogate pair (UCS-2) is never cut in two: when one
    would straddle a boundary, the part ends one unit early and the pair opens the next part.
    """
    if length == len(text):  # no two-unit characters: plain arithmetic
        parts = -(-length // per_part)
        return parts, length - (parts - 1) * per_part
    # The i-th two-unit character, at character index k, starts at unit offset k + i.
    pattern = _EXTENSION_RE if encoding == GSM7 else _ASTRAL_RE
    wide = {match.start() + i for i, match in enumerate(pattern.finditer(text))}
    parts, start = 1, 0
    while length - start > per_part:
        end = start + per_part
        if end - 1 in wide:
            end -= 1
        start = end
        parts += 1
    return parts, length - start


@lru_cache(maxsize=4096)
def _ucs2_char(char: str) -> Ucs2Char:
    return Ucs2Char(char, REPLACEMENTS.get(char))
