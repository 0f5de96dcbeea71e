"""Phone numbers as people write them → international digits, as MessageWhiz stores them.

The rules are libphonenumber's (the `phonenumbers` package): a value is accepted when
`phonenumbers.parse` + `is_valid_number` accept it, and stored as its E.164 digits without '+'.
`normalize_phone` is that rule, written plainly. It manages ~50k numbers/s, too slow for
million-row files, so `PhoneNormalizer` gets the same answers faster by deciding once for all
numbers that share a prefix and a length (see `_Pattern` for why that is sound), and asks
phonenumbers itself whenever the prefix does not settle the matter.
"""

import re
from dataclasses import dataclass
from functools import lru_cache

import phonenumbers
from phonenumbers import PhoneMetadata
from phonenumbers.phonenumberutil import COUNTRY_CODE_TO_REGION_CODE, ValidationResult
from phonenumbers.re_util import enable_pattern_cache

# phonenumbers recompiles metadata regexes on every call unless told to keep them; the set is
# fixed and small, and the fallback path below calls it often.
enable_pattern_cache()

# What may surround the digits of a phone number in a spreadsheet or pasted text.
_FORMATTING = str.maketrans("", "", " \t\u00a0\u2009\u202f-\u2010\u2011\u2012\u2013\u2014.()/")
_SCIENTIFIC = re.compile(r"\d(?:[.,]\d+)?[eE]\+?\d+")

# Mirrors of phonenumbers' own limits (phonenumberutil._MIN/_MAX_LENGTH_FOR_NSN).
_MIN_NSN, _MAX_NSN = 2, 17
# Shorter input is left entirely to phonenumbers: nothing that short is a valid number, and its
# edge rules there (viability, IDD with nothing after it) are not worth mirroring.
_MIN_FAST = 4


class PhoneRejected(ValueError):
    """A value that is not a valid phone number; str() is the reason shown to the user."""


def clean_phone(raw: str) -> tuple[bool, str]:
    """Strip formatting: returns (had a leading '+', the digits).

    Raises PhoneRejected for anything but digits, one leading '+' and common separators, so that
    "+1 555 0100 ext. 5" or "call 0501234567" are reported rather than silently reinterpreted.
    """
    text = raw.strip()
    if not text:
        raise PhoneRejected("no phone number")
    plus = text[0] in "+\uff0b"
    if plus:
        text = text[1:]
    digits = text.translate(_FORMATTING)
    if not (digits.isascii() and digits.isdigit()):
        if _SCIENTIFIC.fullmatch(text.strip()):
            raise PhoneRejected(
                "number in scientific notation: its digits were lost when the file was saved "
                "(format the column as text)"
            )
        raise PhoneRejected("not a phone number")
    return plus, digits


def normalize_phone(raw: str, default_country: str | None = None) -> str:
    """The reference rule: international digits for `raw`, or PhoneRejected.

    - "+380 (50) 123-45-67" → "380501234567" ('+' means international, whatever the default);
    - without a default country, digits are international, with an optional "00" in front;
    - with one (ISO code, e.g. "UA"), digits are read as dialled in that country ("050 123 45 67",
      "00380…", "380…"), and, if that gives no valid number, as international without '+'.
    """
    plus, digits = clean_phone(raw)
    return _reference(plus, digits, _region(default_country))


def _region(default_country: str | None) -> str | None:
    if not default_country:
        return None
    region = default_country.strip().upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(f"Unknown country code {default_country!r}; use an ISO code such as UA or GB.")
    return region


def _reference(plus: bool, digits: str, region: str | None) -> str:
    if plus or region is None:
        if not plus and digits.startswith("00"):
            digits = digits[2:]
        return _parse_valid("+" + digits, None)
    try:
        return _parse_valid(digits, region)
    except PhoneRejected:
        return _parse_valid("+" + digits, None)


def _parse_valid(text: str, region: str | None) -> str:
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise PhoneRejected("not a valid phone number") from exc
    if not phonenumbers.is_valid_number(number):
        raise PhoneRejected("not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)[1:]


# --- The fast path ----------------------------------------------------------------------------
#
# Three-valued logic: True, False, or None = "these digits don't decide it".

_PAD = "X"


def _and(*parts):
    result = True
    for part in parts:
        value = part() if callable(part) else part
        if value is False:
            return False
        if value is None:
            result = None
    return result


def _or(*parts):
    result = False
    for part in parts:
        value = part() if callable(part) else part
        if value is True:
            return True
        if value is None:
            result = None
    return result


class _Unsupported(Exception):
    pass


def _rewrite(pattern: str) -> tuple[str, str]:
    """The strict and loose forms of a metadata regex (see `_Pattern`)."""
    strict, loose = [], []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            if pattern[i + 1 : i + 2] != "d":
                raise _Unsupported(pattern)
            strict.append(r"[\dX]")
            loose.append(r"[\dX]")
            i += 2
        elif char == "[":
            end = pattern.index("]", i)
            body = pattern[i + 1 : end]
            if not body or body[0] == "^" or "\\" in body or "[" in body:
                raise _Unsupported(pattern)
            strict.append(pattern[i : end + 1])
            loose.append(f"[{body}X]")
            i = end + 1
        elif char == "{":
            end = pattern.index("}", i)
            strict.append(pattern[i : end + 1])
            loose.append(pattern[i : end + 1])
            i = end + 1
        elif char.isdigit():
            strict.append(char)
            loose.append(f"[{char}X]")
            i += 1
        elif char in "()|?:$":
            strict.append(char)
            loose.append(char)
            i += 1
        else:
            raise _Unsupported(pattern)
    return "".join(strict), "".join(loose)


class _Pattern:
    """A metadata regex asked about every number that starts with some known digits at once.

    libphonenumber's metadata regexes are built from digits, digit classes, `\\d`, groups,
    alternation and counted repetition. To learn whether the regex matches "known digits + r
    unknown digits" for *every* or for *no* choice of the unknown ones, pad the known digits
    with r 'X's and try two rewrites:

    - strict: only `\\d` also accepts X. A match means some path reads every unknown digit
      with `\\d`, so the same path matches whatever those digits are: True for all.
    - loose: every digit atom also accepts X. If even this fails, no path can get through the
      unknown positions with any digits: False for all.

    Otherwise None: the known digits don't decide. On an unpadded string both forms agree with
    the original regex. Patterns with any other syntax always answer None.
    """

    __slots__ = ("loose", "strict")

    def __init__(self, pattern: str):
        try:
            strict, loose = _rewrite(pattern)
        except (_Unsupported, ValueError):
            self.strict = self.loose = None
        else:
            self.strict, self.loose = re.compile(strict), re.compile(loose)

    def full(self, padded: str):
        if self.strict is None:
            return None
        if self.strict.fullmatch(padded):
            return True
        if not self.loose.fullmatch(padded):
            return False
        return None

    def prefix(self, padded: str):
        """Like `re.match` (a match at the start, not necessarily to the end)."""
        if self.strict is None:
            return None
        if self.strict.match(padded):
            return True
        if not self.loose.match(padded):
            return False
        return None


_SHORT_RESULTS = (
    ValidationResult.TOO_SHORT, ValidationResult.IS_POSSIBLE_LOCAL_ONLY, ValidationResult.INVALID_LENGTH
)
_TYPES = (
    "premium_rate", "toll_free", "shared_cost", "voip", "personal_number", "pager", "uan",
    "voicemail", "fixed_line", "mobile",
)
_DIGITS_ONLY = re.compile(r"\d+")


class _Desc:
    __slots__ = ("lengths", "pattern")

    def __init__(self, desc):
        self.lengths = frozenset(desc.possible_length or ()) if desc else frozenset()
        text = desc.national_number_pattern if desc else None
        self.pattern = _Pattern(text) if text else None

    def matches(self, padded: str):
        """phonenumberutil._is_number_matching_desc, three-valued."""
        if self.pattern is None:
            return False
        if self.lengths and len(padded) not in self.lengths:
            return False
        return self.pattern.full(padded)

    def pattern_matches(self, padded: str):
        """phonenumberutil._match_national_number: the pattern alone, lengths not checked."""
        if self.pattern is None:
            return False
        return self.pattern.full(padded)


class _Region:
    """What the fast path needs from one region's metadata."""

    def __init__(self, metadata):
        self.metadata = metadata
        self.country_code = str(metadata.country_code)
        self.general = _Desc(metadata.general_desc)
        self.types = [_Desc(getattr(metadata, name)) for name in _TYPES if getattr(metadata, name)]
        self.leading = _Pattern(metadata.leading_digits) if metadata.leading_digits is not None else None
        national_prefix = metadata.national_prefix_for_parsing or ""
        # "0", "8", "0|180020": alternatives of plain digits are followed exactly; other forms
        # (capture groups, transform rules) only when the digits clearly don't start with them.
        self.national_prefixes = None
        self.national_prefix = None
        alternatives = national_prefix.split("|")
        if national_prefix and not metadata.national_prefix_transform_rule and all(
            _DIGITS_ONLY.fullmatch(p) for p in alternatives
        ):
            self.national_prefixes = alternatives
        elif national_prefix:
            self.national_prefix = _Pattern(national_prefix)
        idd = metadata.international_prefix or ""
        self.idd = idd if _DIGITS_ONLY.fullmatch(idd) else None
        self.idd_pattern = None if self.idd or not idd else _Pattern(idd)

    def valid_number(self, padded: str):
        """phonenumberutil._number_type_helper(...) != UNKNOWN, three-valued."""
        return _and(
            lambda: self.general.matches(padded),
            lambda: _or(*(lambda d=desc: d.matches(padded) for desc in self.types)),
        )

    def length_ok_after_strip(self, length: int) -> bool:
        """parse() keeps a stripped national prefix only if the rest has a possible length."""
        result = phonenumbers.phonenumberutil._test_number_length("0" * length, self.metadata)
        return result not in _SHORT_RESULTS

    def too_long(self, length: int) -> bool:
        result = phonenumbers.phonenumberutil._test_number_length("0" * length, self.metadata)
        return result == ValidationResult.TOO_LONG

    def strip_national_prefix(self, padded: str):
        """How many leading digits _maybe_strip_national_prefix_carrier_code removes, or None."""
        if self.national_prefixes is None:
            if self.national_prefix is None:
                return 0
            return 0 if self.national_prefix.prefix(padded) is False else None
        for prefix in self.national_prefixes:
            head = padded[: len(prefix)]
            if _PAD in head:
                return None
            if head == prefix:
                break
        else:
            return 0
        cut = len(prefix)
        keep = _and(
            lambda: self.general.pattern_matches(padded),
            lambda: _not(self.general.pattern_matches(padded[cut:])),
        )
        if keep is None:
            return None
        return 0 if keep else cut


@dataclass(frozen=True, slots=True)
class _Outcome:
    """How every number with a given prefix and length comes out: `keep` + number[cut:]."""

    valid: bool
    keep: str = ""
    cut: int = 0


_INVALID = _Outcome(False)
_AS_IS = _Outcome(True)


class _Metadata:
    """Regions by calling code, built on first use (only the codes actually seen)."""

    def __init__(self):
        self._by_code: dict[str, list[_Region]] = {}
        self._main: dict[str, _Region] = {}
        self._by_region: dict[str, _Region] = {}
        # First 3 digits → the calling code they start with (phonenumbers tries 1, 2, 3 digits).
        self.calling_code: dict[str, str] = {}
        for first in range(1000):
            head = f"{first:03d}"
            for size in (1, 2, 3):
                if head[0] != "0" and int(head[:size]) in COUNTRY_CODE_TO_REGION_CODE:
                    self.calling_code[head] = head[:size]
                    break

    def regions(self, code: str) -> list[_Region]:
        regions = self._by_code.get(code)
        if regions is None:
            regions = []
            for region_code in COUNTRY_CODE_TO_REGION_CODE[int(code)]:
                metadata = PhoneMetadata.metadata_for_region_or_calling_code(int(code), region_code)
                if metadata is not None:
                    regions.append(_Region(metadata))
            self._by_code[code] = regions
        return regions

    def main(self, code: str) -> _Region:
        """The metadata parse() uses for a calling code (its main region's)."""
        region = self._main.get(code)
        if region is None:
            region_code = phonenumbers.region_code_for_country_code(int(code))
            metadata = PhoneMetadata.metadata_for_region_or_calling_code(int(code), region_code)
            region = self._main[code] = _Region(metadata)
        return region

    def region(self, region_code: str) -> _Region:
        region = self._by_region.get(region_code)
        if region is None:
            region = self._by_region[region_code] = _Region(PhoneMetadata.metadata_for_region(region_code))
        return region


_METADATA = None


def _metadata() -> _Metadata:
    global _METADATA
    if _METADATA is None:
        _METADATA = _Metadata()
    return _METADATA


def _valid(meta: _Metadata, code: str, nsn: str):
    """is_valid_number(PhoneNumber(code, nsn)), three-valued (region_code_for_number first)."""
    regions = meta.regions(code)
    if len(regions) == 1:
        return regions[0].valid_number(nsn)
    for region in regions:
        found = region.leading.prefix(nsn) if region.leading is not None else region.valid_number(nsn)
        if found is None:
            return None
        if found:
            return region.valid_number(nsn)
    return False


def _decide_international(meta: _Metadata, padded: str, start: int = 0):
    """parse("+" + digits) + is_valid_number, for digits = padded[start:]."""
    head = padded[start : start + 3]
    if _PAD in head:
        return None
    code = meta.calling_code.get(head)
    if code is None:
        return _INVALID
    rest = start + len(code)
    nsn = padded[rest:]
    if len(nsn) < _MIN_NSN:
        return _INVALID
    region = meta.main(code)
    cut = region.strip_national_prefix(nsn)
    if cut is None:
        return None
    if cut and region.length_ok_after_strip(len(nsn) - cut):
        nsn = nsn[cut:]
        rest += cut
    if len(nsn) > _MAX_NSN:
        return _INVALID
    valid = _valid(meta, code, nsn)
    if valid is None:
        return None
    if not valid:
        return _INVALID
    return _AS_IS if rest == len(code) and not start else _Outcome(True, code, rest)


def _decide_national(meta: _Metadata, home: _Region, padded: str):
    """parse(digits, region) + is_valid_number."""
    # An international prefix (00, 011, 810…) followed by a non-zero digit: international.
    if home.idd is not None:
        head = padded[: len(home.idd) + 1]
        if _PAD in head:
            return None
        if head[: len(home.idd)] == home.idd and head[-1:] != "0":
            if len(padded) - len(home.idd) <= _MIN_NSN:
                return _INVALID
            return _decide_international(meta, padded, len(home.idd))
    elif home.idd_pattern is not None and home.idd_pattern.prefix(padded) is not False:
        return None

    # The home calling code in front ("380…" in Ukraine) is taken off if that makes more sense.
    code = home.country_code
    start, region = 0, home
    if _PAD in padded[: len(code)]:
        return None
    if padded.startswith(code):
        rest = padded[len(code) :]
        cut = home.strip_national_prefix(rest)
        if cut is None:
            return None
        stripped = rest[cut:]
        prefer_stripped = _or(
            lambda: _and(
                lambda: _not(home.general.pattern_matches(padded)),
                lambda: home.general.pattern_matches(stripped),
            ),
            home.too_long(len(padded)),
        )
        if prefer_stripped is None:
            return None
        if prefer_stripped:
            # parse() then switches to the calling code's main region (CA → US for +1).
            start, region = len(code) + cut, meta.main(code)
    nsn = padded[start:]
    if len(nsn) < _MIN_NSN:
        return _INVALID
    cut = region.strip_national_prefix(nsn)
    if cut is None:
        return None
    if cut and region.length_ok_after_strip(len(nsn) - cut):
        nsn = nsn[cut:]
        start += cut
    if len(nsn) > _MAX_NSN:
        return _INVALID
    valid = _valid(meta, code, nsn)
    if valid is None:
        return None
    if not valid:
        return _INVALID
    return _Outcome(True, code, start)


def _not(value):
    return None if value is None else not value


class PhoneNormalizer:
    """`normalize_phone` for one default country, fast on large files.

    Numbers are decided in groups: all numbers of the same length that share their first 6
    (failing that, 9) digits get one answer whenever the metadata patterns can't tell them
    apart, which `_Pattern` checks soundly. Anything else goes to phonenumbers.
    """

    LEVELS = (6, 9)
    MAX_MEMO = 500_000  # remembered groups; past this, new ones are still decided, not kept

    def __init__(self, default_country: str | None = None):
        self.region = _region(default_country)
        self._meta = _metadata()
        self._home = self._meta.region(self.region) if self.region else None
        # [national?][level][length] → {first digits: outcome}. Digits with a '+' and digits as
        # dialled in the default country are different questions, hence separate memos.
        self._memos = [[{} for _ in self.LEVELS] for _ in (False, True)]
        # The same memos as ((memo by length, prefix size), …) per national?, for the fast path.
        self._fast = [tuple(zip(memos, self.LEVELS, strict=True)) for memos in self._memos]
        self._remembered = 0

    def __call__(self, raw: str) -> str:
        """International digits for `raw`, or PhoneRejected."""
        if raw.isdigit() and raw.isascii():
            plus, digits = False, raw
        else:
            plus, digits = clean_phone(raw)
        national = not plus and self._home is not None
        if not national and not plus and digits[:2] == "00":
            digits = digits[2:]
        length = len(digits)
        # Most numbers of a big file fall in a group seen before and settled by its first digits:
        # answer those with lookups alone (`_general` is the same search, deciding new groups).
        # A level's memo for a length exists only if the length is longer than its prefix.
        for memo, size in self._fast[national]:
            groups = memo.get(length)
            if groups is None:
                break
            outcome = groups.get(digits[:size])
            if outcome is _AS_IS:
                return digits
            if outcome is not None:
                if not outcome.valid:
                    raise PhoneRejected("not a valid phone number")
                return outcome.keep + digits[outcome.cut :]
        return self._general(plus, digits, national, length)

    def _general(self, plus: bool, digits: str, national: bool, length: int) -> str:
        if length >= _MIN_FAST:
            memos = self._memos[national]
            for level, size in enumerate(self.LEVELS):
                if size >= length:
                    break
                groups = memos[level].get(length)
                if groups is None:
                    groups = memos[level][length] = {}
                prefix = digits[:size]
                outcome = groups.get(prefix, _MISSING)
                if outcome is _MISSING:
                    outcome = self._decide(national, prefix + _PAD * (length - size))
                    if self._remembered < self.MAX_MEMO:
                        groups[prefix] = outcome
                        self._remembered += 1
                if outcome is _AS_IS:
                    return digits
                if outcome is not None:
                    if not outcome.valid:
                        raise PhoneRejected("not a valid phone number")
                    return outcome.keep + digits[outcome.cut :]
        return _reference(plus, digits, self.region)

    def _decide(self, national: bool, padded: str):
        if not national:
            return _decide_international(self._meta, padded)
        outcome = _decide_national(self._meta, self._home, padded)
        if outcome is None or outcome.valid:
            return outcome
        # Not valid as dialled in the default country: maybe international without '+'.
        return _decide_international(self._meta, padded)


_MISSING = object()


@lru_cache(maxsize=1)
def country_choices() -> list[tuple[str, str]]:
    """(region code, "Ukraine +380") for every region a default country can be, by name."""
    from .countries import COUNTRY_NAMES

    choices = [(code, f"{name} +{phonenumbers.country_code_for_region(code)}") for code, name in COUNTRY_NAMES.items()]
    return sorted(choices, key=lambda choice: choice[1])


def country_code(text: str) -> str:
    """The region code meant by what was typed into the country picker: a code ("ua"), a name
    ("Ukraine") or a suggestion as shown ("Ukraine +380"). Anything else is returned upper-cased,
    for the phone rules to refuse by name."""
    typed = " ".join(text.split()).casefold()
    if len(typed) <= 2:
        return typed.upper()
    for code, label in country_choices():
        if typed in (label.casefold(), label.rsplit(" +", 1)[0].casefold()):
            return code
    return typed.upper()


# --- Countries of stored numbers --------------------------------------------------------------------
def _region_decided(meta: _Metadata, padded: str):
    """phonenumbers.region_code_for_number(parse("+" + digits)) for every number `padded` stands
    for: the region code, "" for none, or None when the known digits don't decide it.
    Shared calling codes (+1, +7, +44 …) are told apart as phonenumbers does: a region's leading
    digits, else whether the number is a valid number of that region."""
    code = meta.calling_code.get(padded[:3])
    if code is None or _PAD in padded[: len(code)]:
        return None if _PAD in padded[:3] else ""
    regions = meta.regions(code)
    if len(regions) == 1:
        return regions[0].metadata.id
    nsn = padded[len(code):]
    # parse() takes a national prefix off even after the calling code ("+358 0…"), as in
    # _decide_international; normalised numbers have none, but the answer must be phonenumbers'.
    cut = meta.main(code).strip_national_prefix(nsn)
    if cut is None:
        return None
    if cut and meta.main(code).length_ok_after_strip(len(nsn) - cut):
        nsn = nsn[cut:]
    for region in regions:
        found = region.leading.prefix(nsn) if region.leading is not None else region.valid_number(nsn)
        if found is None:
            return None
        if found:
            return region.metadata.id
    return ""


class PhoneRegions:
    """ISO region of international digits as stored ("447700900123" → "GB"), "" if none.

    Decided once per (length, first 6 digits) whenever those settle it for every number sharing
    them (`_Pattern`), else per first 9, else by phonenumbers itself. `head(first6, length)` is
    the group's answer alone (None: not settled), for deciding in SQL by prefix."""

    LEVELS = (6, 9)
    MAX_MEMO = 500_000

    def __init__(self):
        self._meta = _metadata()
        self._memos: dict[tuple[int, int], dict[str, object]] = {}

    def head(self, prefix: str, length: int) -> str | None:
        size = len(prefix)
        memo = self._memos.setdefault((size, length), {})
        found = memo.get(prefix, _MISSING)
        if found is _MISSING:
            found = _region_decided(self._meta, prefix + _PAD * (length - size)) if length > size else None
            found = None if found is None else _iso(found)
            if len(memo) < self.MAX_MEMO:
                memo[prefix] = found
        return found

    def __call__(self, digits: str) -> str:
        if not digits.isdigit():
            return ""
        for size in self.LEVELS:
            if size >= len(digits):
                break
            found = self.head(digits[:size], len(digits))
            if found is not None:
                return found
        return _iso(_region_exact(digits))


def _region_exact(digits: str) -> str:
    try:
        return phonenumbers.region_code_for_number(phonenumbers.parse("+" + digits)) or ""
    except phonenumbers.NumberParseException:
        return ""


def _iso(region: str) -> str:
    """Two-letter countries only: "001" (international numbers such as +800) is no country."""
    return region if len(region) == 2 else ""


# One memo for the whole process: its groups are the same for every caller.
phone_country = PhoneRegions()
