"""Campaign-side services: writes that involve the provider."""

from django.utils import timezone

from messaging.messagewhiz.client import MessageWhizClient
from messaging.messagewhiz.errors import MessageWhizError
from messaging.messagewhiz.parsing import to_float, to_int

from .models import Link


def link_conversion_refresh(*, links) -> dict[int, str]:
    """Fetch conversion / total recipients / clicks for each link; returns {link id: error} for failures."""
    errors = {}
    by_account = {}
    for link in links:
        by_account.setdefault(link.account, []).append(link)
    for account, account_links in by_account.items():
        with MessageWhizClient.from_account(account) as client:
            for link in account_links:
                try:
                    result = client.link_conversion(url=link.url) or {}
                except MessageWhizError as exc:
                    errors[link.pk] = str(exc)
                    Link.objects.filter(pk=link.pk).update(conversion_error=str(exc))
                    continue
                Link.objects.filter(pk=link.pk).update(
                    conversion=_number(to_float(result.get("conversion")), float),
                    total_recipients=_number(to_int(result.get("totalRecipients")), int),
                    clicks=_number(to_int(result.get("clicks")), int),
                    conversion_checked_at=timezone.now(),
                    conversion_error="",
                )
    return errors


def _number(value, kind):
    """The value if the provider sent a number of that kind, else None (shown as "unknown")."""
    return value if isinstance(value, kind) and not isinstance(value, bool) else None
