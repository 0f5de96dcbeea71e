import random
import unicodedata

import pytest

from campaigns import sms
from campaigns.sms import GSM7, UCS2, Ucs2Char

EMOJI = "\U0001f600"  # two UTF-16 code units
ZHE = "ж"  # Cyrillic: UCS-2, no replacement


def reference_parts(text: str) -> tuple[str, int, int]:
    """A slow, obviously correct counter: walk the text unit by unit."""
    if all(char in sms.GSM_BASIC or char in sms.GSM_EXTENSION for char in text):
        encoding, costs, single, multi = GSM7, [1 + (c in sms.GSM_EXTENSION) for c in text], 160, 153
    else:
        encoding, costs, single, multi = UCS2, [1 + (ord(c) > 0xFFFF) for c in text], 70, 67
    length = sum(costs)
    if length <= single:
        return encoding, length, 1 if length else 0
    parts, used = 1, 0
    for cost in costs:
        if used + cost > multi:
            parts, used = parts + 1, 0
        used += cost
    return encoding, length, parts


def test_tables():
    assert len(sms.GSM_BASIC) == len(set(sms.GSM_BASIC)) == 127
    assert "\x1b" not in sms.GSM_BASIC
    assert len(sms.GSM_EXTENSION) == 10
    assert not set(sms.GSM_BASIC) & set(sms.GSM_EXTENSION)
    for char, replacement in sms.REPLACEMENTS.items():
        assert not sms.is_gsm(char), char
        assert sms.is_gsm(replacement), (char, replacement)


def test_accent_table_agrees_with_unicode():
    for accented, plain in zip(sms._ACCENTED, sms._UNACCENTED, strict=True):
        assert unicodedata.normalize("NFD", accented)[0] == plain


def test_empty_text_is_zero_parts():
    assert sms.count("") == sms.SmsCount(GSM7, 0, 0, 160, 160, ())
    assert sms.count_parts("") == 0


@pytest.mark.parametrize("char", sms.GSM_BASIC)
def test_every_basic_char_is_one_septet(char):
    result = sms.count(char * 160)
    assert (result.encoding, result.length, result.parts) == (GSM7, 160, 1)


@pytest.mark.parametrize("char", sms.GSM_EXTENSION)
def test_every_extension_char_is_two_septets(char):
    assert (sms.count(char).encoding, sms.count(char).length) == (GSM7, 2)
    assert sms.count(char * 80).parts == 1
    assert sms.count(char * 81).parts == 2


def test_extension_char_at_the_single_part_limit():
    fits = sms.count("a" * 158 + "€")
    assert (fits.length, fits.parts, fits.remaining) == (160, 1, 0)
    over = sms.count("a" * 159 + "€")
    assert (over.length, over.parts, over.per_part, over.remaining) == (161, 2, 153, 145)


@pytest.mark.parametrize(
    ("length", "parts"), [(1, 1), (160, 1), (161, 2), (306, 2), (307, 3), (459, 3), (460, 4)]
)
def test_gsm_thresholds(length, parts):
    result = sms.count("a" * length)
    assert (result.encoding, result.length, result.parts) == (GSM7, length, parts)
    assert sms.count_parts("a" * length) == parts


@pytest.mark.parametrize(
    ("length", "parts"), [(1, 1), (70, 1), (71, 2), (134, 2), (135, 3), (201, 3), (202, 4)]
)
def test_ucs2_thresholds(length, parts):
    result = sms.count(ZHE * length)
    assert (result.encoding, result.length, result.parts) == (UCS2, length, parts)
    assert sms.count_parts(ZHE * length) == parts


def test_per_part_and_remaining_are_in_the_same_unit_as_length():
    single = sms.count("a" * 100)
    assert (single.per_part, single.remaining) == (160, 60)
    split = sms.count("a" * 200)
    assert (split.parts, split.per_part, split.remaining) == (2, 153, 106)
    ucs2 = sms.count(ZHE * 100)
    assert (ucs2.parts, ucs2.per_part, ucs2.remaining) == (2, 67, 34)
    assert sms.count("{" * 10).remaining == 140


def test_extension_pair_is_not_split_across_parts():
    # "€" would take septets 153 and 154: it moves to part 2, which then overflows into part 3.
    text = "a" * 152 + "€" + "a" * 152
    result = sms.count(text)
    assert (result.length, result.parts, result.remaining) == (306, 3, 153 - 1)
    # One septet earlier it fits exactly at the end of part 1.
    assert sms.count("a" * 151 + "€" + "a" * 153).parts == 2


def test_emoji_counts_two_units():
    result = sms.count(EMOJI)
    assert (result.encoding, result.length, result.parts) == (UCS2, 2, 1)
    assert sms.count(EMOJI * 35).parts == 1
    many = sms.count(EMOJI * 36)  # 72 units; 33 pairs fill 66 units of part 1, the 67th can't hold a half
    assert (many.length, many.parts, many.remaining) == (72, 2, 67 - 6)


def test_surrogate_pair_is_not_split_across_parts():
    text = ZHE * 66 + EMOJI + ZHE * 66  # 134 units: two parts by arithmetic, three in fact
    result = sms.count(text)
    assert (result.length, result.parts, result.remaining) == (134, 3, 67 - 1)
    assert sms.count(ZHE * 65 + EMOJI + ZHE * 67).parts == 2
    # At the second boundary too.
    assert sms.count(ZHE * 133 + EMOJI + ZHE * 3).parts == 3
    assert sms.count(ZHE * 132 + EMOJI + ZHE * 67).parts == 3


def test_one_non_gsm_char_makes_the_whole_text_ucs2():
    result = sms.count("a" * 69 + ZHE)
    assert (result.encoding, result.length, result.parts) == (UCS2, 70, 1)
    assert sms.count("a" * 70 + ZHE).parts == 2
    # In UCS-2 the extension characters are ordinary single units.
    assert sms.count("€{}" + ZHE).length == 4


def test_ucs2_chars_are_distinct_in_order_with_suggestions():
    text = "Hi\xa0\u201cAnna\u201d \u2014 ж\u2026 ő ж" + EMOJI + "\u201c"
    result = sms.count(text)
    assert result.ucs2_chars == (
        Ucs2Char("\xa0", " "),
        Ucs2Char("\u201c", '"'),
        Ucs2Char("\u201d", '"'),
        Ucs2Char("\u2014", "-"),
        Ucs2Char("ж", None),
        Ucs2Char("\u2026", "..."),
        Ucs2Char("ő", "o"),
        Ucs2Char(EMOJI, None),
    )
    assert sms.count("plain {text} €").ucs2_chars == ()


@pytest.mark.parametrize(
    ("text", "replaced"),
    [
        ("\u2018single\u2019 \u201cdouble\u201d \u00abguillemets\u00bb", "'single' \"double\" \"guillemets\""),
        ("en\u2013dash em\u2014dash minus\u2212", "en-dash em-dash minus-"),
        ("wait\u2026", "wait..."),
        ("100\xa0EUR", "100 EUR"),
        ("\u00e1rv\u00edzt\u0171r\u0151 t\u00fck\u00f6rf\u00far\u00f3g\u00e9p", "arvizturo tükörfurogép"),
        ("Łódź Ærø Straße", "Lodz Ærø Straße"),
        ("zero\u200bwidth", "zerowidth"),
    ],
)
def test_replace_ucs2(text, replaced):
    assert sms.replace_ucs2(text) == replaced
    assert sms.is_gsm(replaced)


def test_replace_ucs2_keeps_what_has_no_equivalent():
    assert sms.replace_ucs2("\u201cЖ\u201d " + EMOJI) == '"Ж" ' + EMOJI


def test_the_sms_price_of_a_non_breaking_space():
    assert sms.count("Your code is 1234.\xa0Thanks").encoding == UCS2
    assert sms.count(sms.replace_ucs2("Your code is 1234.\xa0Thanks")).encoding == GSM7


def test_parts_distribution():
    texts = ["", "hi", "a" * 161, ZHE * 71, EMOJI * 36, "€" * 81, "a" * 460]
    assert sms.parts_distribution(texts) == {0: 1, 1: 1, 2: 4, 4: 1}
    assert sms.parts_distribution(iter(texts)) == sms.parts_distribution(texts)


def test_agrees_with_a_slow_reference_on_random_texts():
    alphabet = "aZ0 .\n" * 20 + sms.GSM_EXTENSION * 3 + "éÄ£" + "ж\xa0\u2019" + EMOJI + "\U0001f44d"
    rng = random.Random(20240611)
    for _ in range(3000):
        text = "".join(rng.choices(alphabet, k=rng.randrange(0, 480)))
        if rng.random() < 0.5:  # half of them pure GSM, so both encodings get boundaries
            text = text.translate({ord(c): None for c in "ж\xa0\u2019" + EMOJI + "\U0001f44d"})
        result = sms.count(text)
        assert (result.encoding, result.length, result.parts) == reference_parts(text), text
        assert sms.count_parts(text) == result.parts
