from django import template

from messaging.providers.generic.layout import form_groups

register = template.Library()


@register.filter
def provider_form_groups(form):
    """The HTTP-provider form's fields in groups with their conditions (see generic/layout.py)."""
    return form_groups(form)
