"""Benchmark a local broadcast estimate: render personalised texts, count their SMS parts.

    .venv/bin/python bench/estimate_parts.py --texts 1000000

Generates recipients (some with Cyrillic names, which push a GSM template into UCS-2) and splits
them over six templates: plain GSM, GSM with extension characters, a three-part GSM text with a
word spinner, Cyrillic, emoji, and "smart" punctuation. Renders them in chunks (compiled once per
template) and counts parts with campaigns.sms. Baselines from the same run: a naive per-character
loop (on a sample; it is slow) and len() over the same texts, the ceiling no counter can beat.
"""

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from campaigns import rendering, sms

FIRST = ["Anna", "John", "Zoë", "José", "Maria", "Sam", "Li", "Ольга", "Андрій", "Łukasz", "Søren", "Chloé"]
LAST = ["Smith", "Kowalski", "Müller", "García", "O'Brien", "Nguyen", "Петренко", "Rossi", "Ødegård"]
TEMPLATES = [
    "Hi {{first_name}}, your order is ready for pickup! Details: {{link:1}} Reply STOP to opt out",
    "{{first_name}}, [today only] everything from €5 ~ 50% off {curtains|sofas}: {{shorten_url}} {{link:2}}",
    "{{word_spinner:1}} {{first_name}} {{last_name}}! Our summer collection has arrived and we saved the best "
    "pieces for you: linen shirts, light dresses, sandals and hats for every trip you have planned this year. "
    "Members get free delivery and 30 days to return anything that does not fit. Show this message in store or "
    "order online at {{link:1}} before Sunday. Questions? Just reply to this message. Opt out: {{unsubscription_link}}",
    "Привіт, {{first_name}}! Ваше замовлення готове. Деталі: {{link:1}}",
    "🎉 {{first_name}}, the big sale is on 🔥 up to 50% off everything in store and online, today only! "
    "{{link:1}} 🛍️",
    "Hi {{first_name}} — “Summer sale” starts now… don\u2019t miss it: {{link:1}}",
]
SPINNERS = {1: {"enabled": True, "name": "Greeting", "words": ["Hi", "Hello", "Good news", "Dear"]}}

GSM_SET = frozenset(sms.GSM_BASIC + sms.GSM_EXTENSION)
EXT_SET = frozenset(sms.GSM_EXTENSION)


def naive_parts(text: str) -> int:
    """The obvious per-character implementation: correct, and the baseline to beat."""
    if all(char in GSM_SET for char in text):
        costs = [2 if char in EXT_SET else 1 for char in text]
        single, multi = sms.GSM_SINGLE, sms.GSM_MULTI
    else:
        costs = [2 if ord(char) > 0xFFFF else 1 for char in text]
        single, multi = sms.UCS2_SINGLE, sms.UCS2_MULTI
    total = sum(costs)
    if total <= single:
        return 1 if total else 0
    parts, used = 1, 0
    for cost in costs:
        if used + cost > multi:
            parts, used = parts + 1, 0
        used += cost
    return parts


def recipients(start: int, count: int) -> list[dict]:
    return [
        {
            "phone": str(380500000000 + i),
            "first_name": FIRST[i * 7 % len(FIRST)],
            "last_name": LAST[i * 5 % len(LAST)],
            "url": "https://example.com/p/" + str(i),
        }
        for i in range(start, start + count)
    ]


def rate(count: int, seconds: float) -> str:
    return f"{seconds:7.2f} s {count / seconds:>12,.0f} msgs/s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=1_000_000)
    parser.add_argument("--chunk", type=int, default=100_000)
    parser.add_argument("--baseline-sample", type=int, default=100_000)
    args = parser.parse_args()

    context = rendering.RenderContext(spinners=SPINNERS)
    renderers = [rendering.compile(body, context=context) for body in TEMPLATES]
    render_s = parts_s = count_s = len_s = 0.0
    distribution: Counter[int] = Counter()
    encodings: Counter[str] = Counter()
    sample: list[str] = []
    for start in range(0, args.texts, args.chunk):
        chunk = recipients(start, min(args.chunk, args.texts - start))
        share = -(-len(chunk) // len(renderers))
        t0 = time.perf_counter()
        texts = [
            text
            for n, renderer in enumerate(renderers)
            for text in map(renderer, chunk[n * share : (n + 1) * share])
        ]
        t1 = time.perf_counter()
        distribution += sms.parts_distribution(texts)
        t2 = time.perf_counter()
        encodings.update(sms.count(text).encoding for text in texts)
        t3 = time.perf_counter()
        sum(map(len, texts))
        t4 = time.perf_counter()
        render_s, parts_s, count_s, len_s = render_s + t1 - t0, parts_s + t2 - t1, count_s + t3 - t2, len_s + t4 - t3
        if len(sample) < args.baseline_sample:
            sample += texts[: args.baseline_sample - len(sample)]

    t0 = time.perf_counter()
    naive = Counter(map(naive_parts, sample))
    naive_s = time.perf_counter() - t0
    assert naive == sms.parts_distribution(sample), "naive and fast counters disagree"

    n = args.texts
    print(f"{n:,} texts: {dict(encodings)}, parts {dict(sorted(distribution.items()))}")
    print(f"render (compiled once per template)  {rate(n, render_s)}")
    print(f"sms.parts_distribution               {rate(n, parts_s)}")
    print(f"sms.count (full result)              {rate(n, count_s)}")
    print(f"render + parts_distribution          {rate(n, render_s + parts_s)}")
    print(f"baseline: naive per-char loop        {rate(len(sample), naive_s)}  ({len(sample):,} sample)")
    print(f"ceiling: len()                       {rate(n, len_s)}")
    fast_rate, naive_rate, len_rate = n / parts_s, len(sample) / naive_s, n / len_s
    print(f"parts_distribution is {fast_rate / naive_rate:.1f}x the naive loop, {fast_rate / len_rate:.2f}x len()")


if __name__ == "__main__":
    main()
