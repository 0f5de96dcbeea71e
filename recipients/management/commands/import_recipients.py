import json

from django.core.management.base import BaseCommand, CommandError

from messaging.models import ProviderAccount
from recipients.errors import ImportProblem
from recipients.models import ImportJob, RecipientList, UnsubscribeList
from recipients.services import import_job_create, recipient_list_import


class ImportFailed(CommandError):
    """A failure, with what a script needs to know besides the message (job id, report)."""

    def __init__(self, message: str, **details):
        super().__init__(message)
        self.details = details


class Command(BaseCommand):
    help = (
        "Import a CSV/XLSX/XLS file into a recipient (or unsubscribe) list, synchronously, and print "
        'the result as JSON: inserted, total, wrong, duplicate — or {"error": …} with exit status 1.'
    )

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--list", required=True, dest="list_name", help="Name of the list")
        parser.add_argument(
            "--mapping", required=True, help='Column → marker, e.g. \'{"0":"phone_number","1":"first_name"}\''
        )
        parser.add_argument("--mode", choices=[m.value for m in ImportJob.Mode], default=ImportJob.Mode.NEW)
        parser.add_argument("--truncate", action="store_true", help="Cut fields longer than allowed")
        parser.add_argument("--default-country", default="", help="ISO code for national numbers, e.g. UA")
        parser.add_argument("--sheet", default="", help="Sheet index (from 0) or name")
        parser.add_argument("--no-header", action="store_true", help="The first row is data, not a header")
        parser.add_argument("--account", help="Provider account name (optional if there is only one)")
        parser.add_argument("--unsubscribe", action="store_true", help="Import into an unsubscribe list")

    def handle(self, *args, **options):
        try:
            output = self._import(**options)
        except CommandError as exc:
            self.stdout.write(json.dumps({"error": str(exc), **getattr(exc, "details", {})}))
            raise
        self.stdout.write(json.dumps(output))

    def _import(self, *, file, list_name, mapping, mode, truncate, default_country, sheet, no_header, account,
                unsubscribe, **options) -> dict:
        provider = self._account(account)
        kind = ImportJob.Kind.UNSUBSCRIBES if unsubscribe else ImportJob.Kind.RECIPIENTS
        target = None
        if mode != ImportJob.Mode.NEW:
            model = UnsubscribeList if unsubscribe else RecipientList
            matches = list(model.objects.filter(account=provider, name=list_name)[:2])
            if len(matches) != 1:
                problem = "No list" if not matches else "More than one list"
                raise CommandError(f"{problem} named {list_name!r} in account {provider.name!r}.")
            target = matches[0]
        try:
            job = import_job_create(
                account=provider, upload=file, mapping=mapping, kind=kind, mode=mode, target=target,
                name=list_name if mode == ImportJob.Mode.NEW else "", truncate=truncate,
                default_country=default_country, sheet=sheet, has_header=not no_header, enqueue=False,
            )
        except (ImportProblem, OSError) as exc:
            raise CommandError(str(exc)) from exc
        job = recipient_list_import(job_id=job.pk)
        report = {"rejects": job.rejects.path} if job.rejects else {}
        if job.status != ImportJob.Status.SUCCEEDED:
            hint = f" Rejected rows: {job.rejects.path}" if job.rejects else ""
            raise ImportFailed(f"{job.error}{hint}", job_id=job.pk, **report)
        return {**job.result, "list_id": job.target_list.pk, "job_id": job.pk, **report}

    def _account(self, name):
        if name:
            try:
                return ProviderAccount.objects.get(name=name)
            except ProviderAccount.DoesNotExist:
                raise CommandError(f"No provider account named {name!r}.") from None
        accounts = list(ProviderAccount.objects.all()[:2])
        if len(accounts) != 1:
            raise CommandError("Name the provider account with --account." if accounts else
                               "There is no provider account yet; create one first.")
        return accounts[0]
