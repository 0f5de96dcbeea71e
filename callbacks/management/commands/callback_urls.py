import json

from django.core.management.base import BaseCommand

from callbacks.selectors import callback_urls
from messaging.models import ProviderAccount


class Command(BaseCommand):
    help = "Print every provider account's callback URLs as JSON (built from PUBLIC_BASE_URL)."

    def handle(self, *args, **options):
        accounts = [{"account": account.name, "kind": account.kind, **callback_urls(account)}
                    for account in ProviderAccount.objects.order_by("name")]
        self.stdout.write(json.dumps(accounts, indent=2))
