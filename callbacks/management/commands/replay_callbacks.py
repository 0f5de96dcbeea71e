from datetime import UTC, datetime

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from callbacks.services import replay
from messaging.models import ProviderAccount


class Command(BaseCommand):
    help = ("Apply stored callback events again (all, or since a time / for one account). Already applied "
            "events change nothing; events whose messages now exist get applied.")

    def add_arguments(self, parser):
        parser.add_argument("--since", help="ISO 8601 time, e.g. 2025-01-31T00:00 (UTC unless an offset is given)")
        parser.add_argument("--account", help="provider account name")

    def handle(self, *args, since=None, account=None, **options):
        account_ids = None
        if account:
            account_ids = list(ProviderAccount.objects.filter(name=account).values_list("pk", flat=True))
            if not account_ids:
                raise CommandError(f"No provider account named {account!r}.")
        if since:
            try:
                since = datetime.fromisoformat(since)
            except ValueError as exc:
                raise CommandError(f"--since: {exc}") from exc
            if timezone.is_naive(since):
                since = since.replace(tzinfo=UTC)
        outcome = replay(since=since, account_ids=account_ids)
        self.stdout.write(f"events: {outcome.events}, status changes: {outcome.status_changes}, "
                          f"clicks added: {outcome.clicks}, still pending: {outcome.pending}")
