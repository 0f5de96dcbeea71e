from collections import Counter
from types import SimpleNamespace

import pytest

from campaigns import rendering, sms
from campaigns.rendering import ERROR, WARNING, Problem, RenderContext, Token

LINKS = {5: {"enabled": True, "name": "Shop", "url": "https://shop.example"}, 6: {"enabled": False, "name": "Old"}}
LINK_LISTS = {7: SimpleNamespace(enabled=True, name="Rotation"), 8: SimpleNamespace(enabled=False, name="")}
SPINNERS = {
    1: {"enabled": True, "name": "Greeting", "words": ["Hi", "Hello", "Good morning"]},
    2: {"enabled": False, "name": "Off", "words": ["x"]},
    3: {"enabled": True, "name": "Empty", "words": []},
}
RECIPIENT = {
    "phone": "380501234567",
    "first_name": "Anna",
    "last_name": "Smith",
    "url": "https://example.com/anna",
    "custom": "c0",
    "custom1": "c1",
    "custom2": "c2",
    "custom3": "c3",
    "custom4": "c4",
}


def check(body, otp=False):
    return rendering.check(body, links=LINKS, link_lists=LINK_LISTS, spinners=SPINNERS, otp=otp)


def messages(body, otp=False):
    return [(p.start, p.text, p.message, p.severity) for p in check(body, otp)]


def test_parse_every_token():
    names = sorted(rendering.TOKEN_NAMES - rendering.ID_TOKENS.keys())
    body = " ".join("{{" + name + "}}" for name in names) + " {{link:5}} {{link_list:7}} {{word_spinner:1}}"
    tokens = rendering.parse(body)
    assert [(t.name, t.id) for t in tokens] == [(n, None) for n in names] + [
        ("link", 5),
        ("link_list", 7),
        ("word_spinner", 1),
    ]
    for token in tokens:
        assert body[token.start : token.end] == token.text


def test_parse_tolerates_whitespace_inside_braces():
    body = "Hi {{ first_name }}, {{link : 5 }} {{\tword_spinner:1}}"
    assert rendering.parse(body) == [
        Token("first_name", None, 3, 19, "{{ first_name }}"),
        Token("link", 5, 21, 34, "{{link : 5 }}"),
        Token("word_spinner", 1, 35, 54, "{{\tword_spinner:1}}"),
    ]


def test_parse_leaves_out_what_is_not_a_valid_token():
    assert rendering.parse("{{nope}} {{link:}} {shorten_url} {{first_name") == []


def test_check_accepts_a_good_body():
    body = "Hi {{first_name}} {{last_name}}! {{word_spinner:1}} {{link:5}} {{link_list:7}} {{unsubscription_link}}"
    assert check(body) == []


def test_unknown_tokens_with_suggestions():
    assert messages("a {{frist_name}} {{First_Name}} {{totally_new}}") == [
        (2, "{{frist_name}}", "unknown token {{frist_name}}; did you mean {{first_name}}?", ERROR),
        (17, "{{First_Name}}", "unknown token {{First_Name}}; did you mean {{first_name}}?", ERROR),
        (32, "{{totally_new}}", "unknown token {{totally_new}}", ERROR),
    ]


def test_malformed_tokens():
    assert messages("{{link:}} {{link:abc}} {{link}} {{url:3}} {{}} {{first name}}") == [
        (0, "{{link:}}", "{{link:}} needs an id, like {{link:123}}", ERROR),
        (10, "{{link:abc}}", "{{link:abc}}: the link id must be a number", ERROR),
        (23, "{{link}}", "{{link}} needs an id, like {{link:123}}", ERROR),
        (32, "{{url:3}}", "{{url:3}}: {{url}} takes no id", ERROR),
        (42, "{{}}", "{{}} is not a token: expected {{name}} or {{name:ID}}", ERROR),
        (47, "{{first name}}", "{{first name}} is not a token: expected {{name}} or {{name:ID}}", ERROR),
    ]


def test_unclosed_tokens():
    assert messages("Hi {{first_name, and {{ last_name} bye {{") == [
        (3, "{{first_name", "{{first_name is not closed: expected {{first_name}}", ERROR),
        (21, "{{ last_name", "{{ last_name is not closed: expected {{last_name}}", ERROR),
        (39, "{{", "{{ is not closed", ERROR),
    ]
    # The token after an unclosed one is still found.
    assert [t.name for t in rendering.parse("{{first_name {{last_name}}")] == ["last_name"]


def test_missing_and_disabled_objects():
    body = "{{link:4}} {{link:6}} {{link_list:9}} {{link_list:8}} {{word_spinner:2}} {{word_spinner:3}}"
    assert messages(body) == [
        (0, "{{link:4}}", "there is no link with id 4", ERROR),
        (11, "{{link:6}}", 'link 6 "Old" is disabled', ERROR),
        (22, "{{link_list:9}}", "there is no link list with id 9", ERROR),
        (38, "{{link_list:8}}", "link list 8 is disabled", ERROR),
        (54, "{{word_spinner:2}}", 'word spinner 2 "Off" is disabled', ERROR),
        (73, "{{word_spinner:3}}", 'word spinner 3 "Empty" has no words', ERROR),
    ]


def test_single_brace_token_is_a_warning():
    # The provider's own template example: "Test test {shorten_url}".
    assert check("Test test {shorten_url} { first_name } {link:5}") == [
        Problem(10, 23, "{shorten_url}", "{shorten_url} is sent as it is; did you mean {{shorten_url}}?", WARNING),
        Problem(24, 38, "{ first_name }", "{ first_name } is sent as it is; did you mean {{first_name}}?", WARNING),
        Problem(39, 47, "{link:5}", "{link:5} is sent as it is; did you mean {{link:5}}?", WARNING),
    ]
    # Braces that don't name a token are just text.
    assert check('Use code {SALE} or {"a": 1} {{{first_name}}}') == []


def test_verification_code_is_for_otp_only():
    assert messages("Your code: {{verification_code}}") == [
        (11, "{{verification_code}}", "{{verification_code}} is only filled in for OTP messages", ERROR)
    ]
    assert check("Your code: {{verification_code}}", otp=True) == []
    assert messages("Your code: 1234", otp=True) == [
        (0, "", "an OTP message must contain {{verification_code}}", ERROR)
    ]


def test_render_every_token():
    body = (
        "{{first_name}}|{{last_name}}|{{url}}|{{custom}}|{{custom1}}|{{custom2}}|{{custom3}}|{{custom4}}|"
        "{{link:5}}|{{link_list:7}}|{{shorten_url}}|{{unsubscription_link}}|{{callback_link}}|"
        "{{verification_code}}|{{random_symbol}}|{{gender}}|{{word_spinner:1}}"
    )
    text = rendering.render(body, RECIPIENT, context=RenderContext(spinners=SPINNERS))
    fields = text.split("|")
    link = rendering.SHORT_LINK
    assert fields[:15] == [
        "Anna", "Smith", "https://example.com/anna", "c0", "c1", "c2", "c3", "c4",
        link, link, link, link, link, "123456", fields[14],
    ]  # fmt: skip
    assert len(fields[14]) == 1 and sms.is_gsm(fields[14])
    assert fields[15] == ""
    assert fields[16] in SPINNERS[1]["words"]


def test_short_link_placeholder_has_a_realistic_length():
    assert len(rendering.SHORT_LINK) == 22
    assert rendering.render("{{link:5}}", {}) == rendering.SHORT_LINK


def test_render_missing_fields_are_empty():
    body = "Hi {{first_name}} {{last_name}}{{custom3}}! {{shorten_url}}."
    assert rendering.render(body, {"phone": "1"}) == "Hi  ! ."
    assert rendering.render(body, {"first_name": None, "url": ""}) == "Hi  ! ."


def test_render_gender_and_non_string_values():
    assert rendering.render("{{gender}}:{{custom}}", {"gender": "F", "custom": 42}) == "F:42"


def test_render_given_verification_code():
    context = RenderContext(verification_code="987654")
    assert rendering.render("Code {{verification_code}}", {}, context=context) == "Code 987654"


def test_render_leaves_unknown_and_malformed_tokens_as_written():
    body = "{{frist_name}} {shorten_url} {{link:abc}} {{first_name"
    assert rendering.render(body, RECIPIENT) == body


def test_spinner_choice_is_deterministic_per_recipient():
    context = RenderContext(spinners=SPINNERS)
    recipients = [{"phone": str(380500000000 + i)} for i in range(300)]
    first = [rendering.compile("{{word_spinner:1}}", context=context)(r) for r in recipients]
    again = [rendering.render("{{word_spinner:1}}", r, context=context) for r in recipients]
    assert first == again
    # Spread over all the words, not stuck on one.
    assert set(Counter(first)) == set(SPINNERS[1]["words"])
    assert min(Counter(first).values()) > 50


def test_random_symbol_is_stable_per_recipient():
    renderer = rendering.compile("{{random_symbol}}")
    assert renderer({"phone": "380501234567"}) == renderer({"phone": "380501234567"})
    assert len({renderer({"phone": str(n)}) for n in range(200)}) > 10


def test_worst_case_takes_the_longest_word():
    spinners = {1: {"words": ["Hi", "Good morning", "Hello"]}, 2: {"words": ["Hello there", "Щиро"]}}
    context = RenderContext(spinners=spinners, worst_case=True)
    assert rendering.render("{{word_spinner:1}}", {"phone": "1"}, context=context) == "Good morning"
    # A shorter word that forces UCS-2 costs more than a longer GSM one.
    assert rendering.render("{{word_spinner:2}}", {"phone": "1"}, context=context) == "Щиро"


def test_spinner_edge_cases():
    context = RenderContext(spinners={1: {"words": ["only"]}, 2: {"words": []}})
    body = "[{{word_spinner:1}}|{{word_spinner:2}}|{{word_spinner:9}}]"
    assert rendering.render(body, {}, context=context) == "[only||]"


def test_static_text_for_bodies_the_same_for_everyone():
    renderer = rendering.compile("Sale! {{link:5}} {{unsubscription_link}}")
    assert renderer.static_text == f"Sale! {rendering.SHORT_LINK} {rendering.SHORT_LINK}"
    assert renderer({}) == renderer.static_text
    assert rendering.compile("Hi {{first_name}}").static_text is None


@pytest.mark.parametrize(
    "body", ["", "no tokens", "{{first_name}}", "{{first_name}}{{last_name}}", "a{{url}}b{{url}}c"]
)
def test_compiled_renderer_matches_simple_substitution(body):
    expected = body.replace("{{first_name}}", "Anna").replace("{{last_name}}", "Smith")
    expected = expected.replace("{{url}}", RECIPIENT["url"])
    assert rendering.compile(body)(RECIPIENT) == expected


def test_many_renders_compile_once(monkeypatch):
    """Speed sanity: the body is parsed once, and a broadcast-sized batch goes through."""
    scans = []
    real_scan = rendering._scan
    monkeypatch.setattr(rendering, "_scan", lambda body: scans.append(body) or real_scan(body))
    renderer = rendering.compile(
        "Hi {{first_name}}, {{word_spinner:1}}! 20% off: {{link:5}}", context=RenderContext(spinners=SPINNERS)
    )
    recipients = ({"phone": str(n), "first_name": ("Anna", "Ольга")[n % 2]} for n in range(20_000))
    distribution = sms.parts_distribution(map(renderer, recipients))
    assert len(scans) == 1
    assert sum(distribution.values()) == 20_000
    assert set(distribution) == {1}


def test_a_field_token_falls_back_when_the_field_is_empty():
    body = "Hi {{first_name|there}}, {{ custom | your city }}!"
    assert rendering.render(body, {"first_name": "", "custom": None}) == "Hi there, your city!"
    assert rendering.render(body, {"first_name": "Ann", "custom": "Kyiv"}) == "Hi Ann, Kyiv!"
    assert rendering.check(body, links={}, link_lists={}, spinners={}) == []
    [problem] = rendering.check("{{link|x}}", links={}, link_lists={}, spinners={})
    assert "only recipient fields" in problem.message
    [problem] = rendering.check("Hi {{first_name|there}}", links={}, link_lists={}, spinners={},
                                provider_renders=True)
    assert problem.severity == rendering.ERROR and "has no fallbacks" in problem.message
    assert rendering.fill_fallbacks("Hi {{first_name|there}} {{link:3}}", {}) == "Hi there {{link:3}}"
