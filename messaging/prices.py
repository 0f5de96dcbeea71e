"""Generic accounts' price tables: what one SMS part to a country costs, in the account's currency.

campaigns.dispatch prices each message it sends with them (its parts times its country's price,
or the account's default); the review page estimates with them.
"""

from dataclasses import dataclass, field
from decimal import Decimal

from django.db import transaction

from .models import CountryPrice, ProviderAccount


@dataclass
class PriceTable:
    """An account's price per SMS part by country, in its currency; `default` for the rest."""

    currency: str
    prices: dict[str, Decimal] = field(default_factory=dict)
    default: Decimal | None = None

    def per_part(self, country: str) -> Decimal | None:
        return self.prices.get(country, self.default)

    def price(self, country: str, parts: int) -> Decimal | None:
        unit = self.per_part(country)
        return None if unit is None else unit * parts


def price_table(account: ProviderAccount) -> PriceTable | None:
    """The account's table, or None when it has none (MessageWhiz accounts: prices come in DLRs)."""
    if account.kind != ProviderAccount.Kind.GENERIC:
        return None
    prices = dict(CountryPrice.objects.filter(account=account).values_list("country", "price_per_part"))
    if not prices and account.default_price_per_part is None:
        return None
    return PriceTable(account.currency, prices, account.default_price_per_part)


def price_table_save(*, account: ProviderAccount, currency: str, default: Decimal | None,
                     prices: dict[str, Decimal]) -> None:
    """Replace the account's table (country → price per part) and set its default and currency."""
    with transaction.atomic():
        ProviderAccount.objects.filter(pk=account.pk).update(currency=currency, default_price_per_part=default)
        CountryPrice.objects.filter(account=account).exclude(country__in=prices).delete()
        for country, price in prices.items():
            CountryPrice.objects.update_or_create(account=account, country=country,
                                                  defaults={"price_per_part": price})
    account.currency, account.default_price_per_part = currency, default
