import math

from django import template

from messaging.breaker import LATENCY_BOUNDS

register = template.Library()


@register.filter
def percent(value) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


@register.filter
def latency(ms) -> str:
    """A histogram bucket's upper bound: "≤ 250 ms", "≤ 2.5 s", "> 30 s"."""
    if ms is None:
        return "—"
    if math.isinf(ms):
        return f"> {LATENCY_BOUNDS[-1] / 1000:g} s"
    return f"≤ {ms:.0f} ms" if ms < 1000 else f"≤ {ms / 1000:g} s"
