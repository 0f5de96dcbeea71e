"""`{{ amount|money:currency }}`: every cost on the pages, with its currency ("8,715.84 EUR")."""

from django import template

from campaigns.estimates import money as format_money

register = template.Library()


@register.filter
def money(amount, currency: str = "") -> str:
    return format_money(amount, currency)
