"""Each stored number's country: the fast path by prefix agrees with phonenumbers itself."""

import random

import phonenumbers
import pytest

from recipients.phones import PhoneRegions


def reference(digits: str) -> str:
    try:
        region = phonenumbers.region_code_for_number(phonenumbers.parse("+" + digits)) or ""
    except phonenumbers.NumberParseException:
        return ""
    return region if len(region) == 2 else ""


@pytest.mark.parametrize(("digits", "country"), [
    ("447400123451", "GB"), ("447781123456", "GG"), ("447911123456", "GG"), ("447624123456", "IM"),
    ("447700900123", ""),  # Ofcom's drama range: no valid number, so no country
    ("12025550101", "US"), ("14165550101", "CA"), ("18092345678", "DO"),
    ("79161234567", "RU"), ("77011234567", "KZ"), ("380501234567", "UA"), ("4915112345678", "DE"),
    ("35818123456", "AX"), ("3584571234567", "FI"), ("262692123456", "RE"), ("80012345678", ""),
    ("999123456789", ""), ("", ""), ("12ab", ""),
])
def test_countries_as_phonenumbers_tells_them(digits, country):
    assert PhoneRegions()(digits) == country == reference(digits)


def test_random_numbers_of_shared_calling_codes_agree_with_phonenumbers():
    """+1, +7, +44, +47, +61, +262, +358, +590, +599: where one calling code is several countries."""
    rnd = random.Random(14)
    regions = PhoneRegions()
    numbers = [code + "".join(rnd.choice("0123456789") for _ in range(length))
               for code, length in (("1", 10), ("7", 10), ("44", 10), ("47", 8), ("61", 9), ("262", 9),
                                    ("358", 9), ("590", 9), ("599", 7)) for _ in range(400)]
    assert [regions(n) for n in numbers] == [reference(n) for n in numbers]
