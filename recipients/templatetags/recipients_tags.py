from django import template

from recipients.phones import country_choices

register = template.Library()


@register.inclusion_tag("recipients/_country_picker.html")
def country_picker(value="", *, field_id="default_country", placeholder="e.g. UA: 050 123 45 67 → 380501234567"):
    """The "country for national numbers" input: type a code, a country's name or its calling code
    and pick from the browser's suggestions (a <datalist>, so it needs no script)."""
    return {"value": value or "", "field_id": field_id, "placeholder": placeholder, "countries": country_choices()}
