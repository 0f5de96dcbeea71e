from django.core.management.base import BaseCommand, CommandError

from messaging.selectors import mirror_accounts
from messaging.sync import resources
from messaging.sync.pull import mirror_pull_account

COLUMNS = ("created", "updated", "unchanged", "kept_local", "missing", "failed")


class Command(BaseCommand):
    help = "Pull every mirrored MessageWhiz entity (or some) into Textcast and print what changed."

    def add_arguments(self, parser):
        parser.add_argument("--account", help="Provider account name (default: every active MessageWhiz account)")
        parser.add_argument(
            "--entity", action="append", dest="entities", metavar="ENTITY",
            help=f"Repeatable; one of: {', '.join(r.key for r in resources.all_resources())}",
        )

    def handle(self, *args, account=None, entities=None, **options):
        accounts = mirror_accounts()
        if account:
            accounts = accounts.filter(name=account)
            if not accounts:
                raise CommandError(f"No active MessageWhiz account named {account!r}.")
        try:
            [resources.get(key) for key in entities or []]
        except KeyError as exc:
            raise CommandError(exc.args[0]) from None

        failed = False
        for acc in accounts:
            self.stdout.write(self.style.MIGRATE_HEADING(f"{acc.name} ({acc.base_url})"))
            self.stdout.write(f"  {'entity':<14}" + "".join(f"{c:>11}" for c in COLUMNS))
            for key, summary in mirror_pull_account(acc, entities).items():
                row = summary.as_dict()
                self.stdout.write(f"  {key:<14}" + "".join(f"{row[c]:>11}" for c in COLUMNS))
                if summary.error:
                    failed = True
                    self.stderr.write(f"  {key}: {summary.error}")
        if failed:
            raise CommandError("Some entities could not be pulled; see above.")
