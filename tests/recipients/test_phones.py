"""Phone normalisation: the formats people write, and the fast path against phonenumbers."""

import random

import phonenumbers
import pytest

from recipients.phones import PhoneNormalizer, PhoneRejected, normalize_phone


@pytest.mark.parametrize(
    "raw",
    ["050 123 45 67", "+380 (50) 123-45-67", "00380501234567", "380501234567", "0501234567", "(050) 123-45-67"],
)
def test_ukrainian_formats_with_default_country(raw):
    assert PhoneNormalizer("UA")(raw) == "380501234567"
    assert normalize_phone(raw, "ua") == "380501234567"


@pytest.mark.parametrize("raw", ["+380 (50) 123-45-67", "00380501234567", "380501234567", "+380501234567"])
def test_international_formats_without_default_country(raw):
    assert PhoneNormalizer()(raw) == "380501234567"


def test_national_number_needs_a_default_country():
    with pytest.raises(PhoneRejected):
        PhoneNormalizer()("050 123 45 67")


def test_with_a_default_country_foreign_numbers_without_plus_still_work():
    assert PhoneNormalizer("UA")("447400123456") == "447400123456"
    assert PhoneNormalizer("GB")("07400 123456") == "447400123456"
    assert PhoneNormalizer("US")("(202) 555-0123") == "12025550123"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "no phone number"),
        ("   ", "no phone number"),
        ("call me", "not a phone number"),
        ("+380 50 123 45 67 ext. 5", "not a phone number"),
        ("3.80501E+11", "scientific notation"),
        ("12345", "not a valid phone number"),
        ("380123", "not a valid phone number"),
        ("+999123456789", "not a valid phone number"),
    ],
)
def test_invalid_values_say_why(raw, reason):
    with pytest.raises(PhoneRejected, match=reason):
        PhoneNormalizer("UA")(raw)


def test_unknown_default_country_is_refused():
    with pytest.raises(ValueError, match="Unknown country code 'XX'"):
        PhoneNormalizer("XX")


def _reference(raw, region):
    try:
        return normalize_phone(raw, region)
    except PhoneRejected:
        return None


def _fast(normalize, raw):
    try:
        return normalize(raw)
    except PhoneRejected:
        return None


def _sample(rnd: random.Random, size: int) -> list[str]:
    """Example numbers of every region and type, mutated, plus random digit strings."""
    examples = []
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for kind in (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE,
                     phonenumbers.PhoneNumberType.TOLL_FREE):
            example = phonenumbers.example_number_for_type(region, kind)
            if example:
                examples.append(phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)[1:])
    sample = list(examples)
    while len(sample) < size:
        digits = list(rnd.choice(examples))
        for _ in range(rnd.randint(0, 2)):  # a typo: changed, extra or missing digit
            at = rnd.randrange(len(digits))
            choice = rnd.random()
            if choice < 0.5:
                digits[at] = str(rnd.randint(0, 9))
            elif choice < 0.75:
                digits.insert(at, str(rnd.randint(0, 9)))
            elif len(digits) > 4:
                del digits[at]
        keep = rnd.randint(2, len(digits))  # same prefix, random rest: exercises the memo
        sample.append("".join(digits[:keep]) + "".join(str(rnd.randint(0, 9)) for _ in digits[keep:]))
        if rnd.random() < 0.1:
            sample.append("".join(str(rnd.randint(0, 9)) for _ in range(rnd.randint(4, 18))))
    return sample


@pytest.mark.parametrize("region", [None, "UA", "US", "GB", "DE", "IN", "BR", "IT", "RU", "AR", "JP", "GG"])
def test_fast_path_agrees_with_phonenumbers(region):
    """The memoised normaliser gives exactly phonenumbers' answers, on a varied sample."""
    rnd = random.Random(f"textcast-{region}")
    normalize = PhoneNormalizer(region)
    sample = _sample(rnd, 2500)
    rnd.shuffle(sample)
    disagreements = []
    for digits in sample:
        for raw in (digits, "+" + digits, "00" + digits, "0" + digits[2:]):
            expected, got = _reference(raw, region), _fast(normalize, raw)
            if expected != got:
                disagreements.append((raw, expected, got))
    assert disagreements == []


def test_fast_path_serves_repeated_prefixes_from_its_memo(monkeypatch):
    normalize = PhoneNormalizer("UA")
    normalize("380501234567")
    calls = []
    monkeypatch.setattr("recipients.phones._reference", lambda *args: calls.append(args))
    assert [normalize(f"3805012{i:05d}") for i in range(1000)] == [f"3805012{i:05d}" for i in range(1000)]
    assert calls == []


@pytest.mark.parametrize("region", [None, "UA", "GB", "DE", "US"])
def test_memo_lookups_agree_with_phonenumbers_on_a_second_pass(region):
    """The lookup-only fast path (groups already decided, at 6 or at 9 digits) gives the same
    answers as deciding them: the second pass over a sample is served from the memo."""
    rnd = random.Random(f"second-pass-{region}")
    normalize = PhoneNormalizer(region)
    sample = [raw for digits in _sample(rnd, 2000) for raw in (digits, "+" + digits, "0" + digits[2:])]
    first = [_fast(normalize, raw) for raw in sample]
    second = [_fast(normalize, raw) for raw in sample]
    assert second == first == [_reference(raw, region) for raw in sample]


def test_groups_settled_only_by_nine_digits_are_served_from_the_memo(monkeypatch):
    # UK mobiles: "447400" + 6 digits is not settled by its first 6 digits, but is by its first 9.
    normalize = PhoneNormalizer()
    normalize("447400123456")
    assert normalize._memos[False][0][12]["447400"] is None
    calls = []
    monkeypatch.setattr(normalize, "_general", lambda *args: calls.append(args))
    assert [normalize(f"447400123{i:03d}") for i in range(1000)] == [f"447400123{i:03d}" for i in range(1000)]
    assert calls == []
