from django.core.management.base import BaseCommand

from campaigns.costs import messages_countries_fill


class Command(BaseCommand):
    help = "Record the country of messages created before messages knew it (cost per country pages)."

    def handle(self, *args, **options):
        self.stdout.write(f"{messages_countries_fill():,} messages given their country")
