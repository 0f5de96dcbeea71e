"""The browser counter (static/js/sms-counter.js) must agree with campaigns.sms to the character.

Runs the script in node with a stub `window` and no `document` (so nothing is wired to a page),
over a corpus of tricky texts and over every BMP character on its own.
"""

import json
import random
import shutil
import subprocess
from pathlib import Path

import pytest

from campaigns import rendering, sms
from campaigns.estimates import TYPICAL_RECIPIENT, typical_token_values

JS = Path(__file__).resolve().parents[2] / "static" / "js" / "sms-counter.js"
EMOJI = "\U0001f600"
ZHE = "ж"

pytestmark = pytest.mark.skipif(
    shutil.which("node") is None, reason="node is not on PATH, so the browser SMS counter can't be run"
)

NODE_SCRIPT = """
const fs = require("fs");
const vm = require("vm");
const window = {};
vm.runInNewContext(fs.readFileSync(process.argv[1], "utf8"), { window });
const sms = window.TextcastSms;
const input = JSON.parse(fs.readFileSync(0, "utf8"));
const corpus = input.corpus.map((text) => ({ ...sms.count(text), replaced: sms.replaceUcs2(text) }));
const tokens = (input.tokens || []).map((text) => sms.count(sms.fillTokens(text, input.values)));
const sweep = input.sweep.map((char) => {
  const result = sms.count(char);
  return [result.encoding, result.length, result.ucs2Chars.length ? result.ucs2Chars[0].replacement : null];
});
process.stdout.write(JSON.stringify({ corpus, sweep, tokens }));
"""


def corpus() -> list[str]:
    texts = list(sms.GSM_BASIC) + list(sms.GSM_EXTENSION) + [sms.GSM_BASIC, sms.GSM_EXTENSION, ""]
    texts += ["a" * n for n in (69, 70, 71, 134, 135, 152, 153, 154, 159, 160, 161, 305, 306, 307, 459, 460)]
    texts += [ZHE * n for n in (69, 70, 71, 133, 134, 135, 136, 201, 202, 203)]
    texts += ["a" * 158 + "€", "a" * 159 + "€", "€" * 80, "€" * 81, "a" * 152 + "€" + "a" * 152]
    texts += ["a" * 151 + "€" + "a" * 153, "a" * 305 + "|", "a" * 304 + "|" + "a" * 200, "\f" * 77 + "a"]
    texts += [EMOJI * n for n in (1, 34, 35, 36, 67, 68)]
    texts += [ZHE * k + EMOJI + ZHE * 70 for k in (64, 65, 66, 67, 132, 133, 134)]
    texts += ["a" * 69 + EMOJI, "a" * 68 + EMOJI, "a" * 159 + ZHE, "a" * 160 + "\xa0"]
    texts += [
        "Hello Привіт 你好 مرحبا שלום Γειά \u03c3\u03bf\u03c5",
        "ΔΦΓΛΩΠΨΣΘΞ and \u0391\u0392\u0395",
        "100\xa0EUR — \u201cquoted\u201d \u2018single\u2019 wait\u2026",
        "Łódź, Kraków, Gdańsk, Straße, Ærø, Ørsted, Ñandú, Çava",
        "\U0001f1fa\U0001f1e6 flag, \U0001f468\u200d\U0001f469\u200d\U0001f467 family, \U0001f44d\U0001f3fd tone",
        "tab\there, zero\u200bwidth, soft\u00adhyphen, \ufeffbom",
        "backtick ` and acute \u00b4 and caret ^",
        "lone \ud83d surrogate",
        "{{first_name}}, [sale] ~50% off {today} | only €5 \\ promo",
        "line\nbreak\r\nand form\ffeed",
    ]
    # Random texts from a mixed alphabet, both encodings, up to four parts.
    alphabet = "aZ0 .\n" * 20 + sms.GSM_EXTENSION * 3 + "éÄ£" + ZHE + "\xa0\u2019" + EMOJI
    rng = random.Random(7)
    for _ in range(300):
        text = "".join(rng.choices(alphabet, k=rng.randrange(0, 480)))
        texts.append(text if rng.random() < 0.5 else sms.replace_ucs2(text).replace(ZHE, "").replace(EMOJI, ""))
    return texts


def run_node(payload: dict) -> dict:
    result = subprocess.run(
        ["node", "-e", NODE_SCRIPT, str(JS)],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=60,
        check=True,
    )
    return json.loads(result.stdout)


def python_view(text: str) -> dict:
    result = sms.count(text)
    return {
        "encoding": result.encoding,
        "length": result.length,
        "parts": result.parts,
        "perPart": result.per_part,
        "remaining": result.remaining,
        "ucs2Chars": [{"char": c.char, "replacement": c.replacement} for c in result.ucs2_chars],
        "replaced": sms.replace_ucs2(text),
    }


def test_browser_counter_matches_python():
    texts = corpus()
    bmp = [chr(cp) for cp in range(0x10000) if not 0xD800 <= cp <= 0xDFFF]
    node = run_node({"corpus": texts, "sweep": bmp})

    for text, js in zip(texts, node["corpus"], strict=True):
        assert js == python_view(text), text

    # Every BMP character on its own: same encoding, same cost, same suggested replacement.
    mismatches = []
    for char, js in zip(bmp, node["sweep"], strict=True):
        result = sms.count(char)
        python = [result.encoding, result.length, result.ucs2_chars[0].replacement if result.ucs2_chars else None]
        if js != python:
            mismatches.append((f"U+{ord(char):04X}", js, python))
    assert mismatches == []


def test_browser_counter_counts_tokens_as_the_estimate_renders_them():
    spinners = {7: {"words": ["Hi", "Hello there", "Привіт"], "enabled": True}, 8: {"words": ["a"], "enabled": True}}
    texts = [
        "{{first_name}}", "Hi {{ first_name }} {{last_name}}, see {{link:1}} or {{link_list: 22 }}",
        "{{shorten_url}} {{url}} {{unsubscription_link}} {{callback_link}} {{random_symbol}} {{gender}}",
        "{{custom}} {{custom1}} {{custom2}} {{custom3}} {{custom4}} {{verification_code}}",
        "{{word_spinner:7}} and {{word_spinner:8}}", "€ {{first_name}} " + "x" * 140,
        # Not tokens, or not well-formed: left as written on both sides.
        "{{frist_name}} {{link}} {{first_name:3}} {first_name} {{{first_name}}} {{link:x}} {{first_name",
    ]
    node = run_node({"corpus": [], "sweep": [], "tokens": texts, "values": typical_token_values(spinners)})
    context = rendering.RenderContext(spinners=spinners, worst_case=True)
    for text, js in zip(texts, node["tokens"], strict=True):
        python = sms.count(rendering.render(text, TYPICAL_RECIPIENT, context=context))
        assert (js["encoding"], js["length"], js["parts"]) == (python.encoding, python.length, python.parts), text
    first_name, link = node["tokens"][0], run_node({"corpus": [], "sweep": [], "tokens": ["{{link:1}}"],
                                                    "values": typical_token_values({})})["tokens"][0]
    assert (first_name["length"], link["length"]) == (len(TYPICAL_RECIPIENT["first_name"]), len(rendering.SHORT_LINK))
    assert node["tokens"][4]["encoding"] == "UCS-2"  # the spinner's longest word is Cyrillic


def test_browser_counter_counts_a_fallback_where_it_is_longer_than_the_typical_value():
    values = typical_token_values({})  # a typical first name: "Alexandra", 9 characters
    texts = ["Hi {{first_name|there}}", "Hi {{ first_name | dear valued customer }}"]
    node = run_node({"corpus": [], "sweep": [], "tokens": texts, "values": values})
    assert [t["length"] for t in node["tokens"]] == [3 + 9, 3 + len("dear valued customer")]


def test_browser_counter_counts_textcast_links_for_http_providers(settings):
    """HTTP providers get Textcast's own links (PUBLIC_BASE_URL/r/…), not MessageWhiz's short
    ones: the counter counts the link the recipient really gets, as the estimate does."""
    from campaigns import tracking

    settings.PUBLIC_BASE_URL = "https://textcast.example-company.com"
    text = "Sale: {{link:1}} — stop: {{unsubscription_link}}"
    values = typical_token_values({}, own_links=True)
    assert values["link:*"].startswith("https://textcast.example-company.com/r/")
    [js] = run_node({"corpus": [], "sweep": [], "tokens": [text], "values": values})["tokens"]
    python = sms.count(rendering.render(text, TYPICAL_RECIPIENT,
                                        context=tracking.render_context(spinners={}, worst_case=True)))
    assert (js["length"], js["parts"]) == (python.length, python.parts)
    [provider] = run_node({"corpus": [], "sweep": [], "tokens": [text], "values": typical_token_values({})})["tokens"]
    assert js["length"] - provider["length"] == 2 * (len(values["link:*"]) - len(rendering.SHORT_LINK))
