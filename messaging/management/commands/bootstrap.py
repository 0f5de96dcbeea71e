import os
import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from messaging.models import ProviderAccount
from messaging.tasks import connect_sandbox, heartbeat


class Command(BaseCommand):
    help = "Make a fresh install usable: an admin login, optionally a sandbox account, a first task."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")
        parser.add_argument("--sandbox-url", help="URL of the sandbox for the 'Sandbox' account")
        parser.add_argument("--sandbox-key", default=os.environ.get("SANDBOX_API_KEY"),
                            help="API key the sandbox accepts (default: $SANDBOX_API_KEY, kept out of `ps`)")
        parser.add_argument("--public-url", default="http://127.0.0.1:8000", help="Shown in the sign-in hint")

    def handle(self, *args, username, sandbox_url, sandbox_key, public_url, **options):
        self._ensure_admin(username, public_url)
        if sandbox_url and sandbox_key:
            account, created = ProviderAccount.objects.update_or_create(
                name="Sandbox",
                defaults={"kind": ProviderAccount.Kind.MESSAGEWHIZ, "base_url": sandbox_url,
                          "api_key": sandbox_key},
            )
            verb = "Created" if created else "Updated"
            self.stdout.write(f"{verb} provider account 'Sandbox' → {sandbox_url}")
            # The sandbox starts beside the worker: the task waits for it, then gives it our
            # delivery-report and click URLs (its in-memory settings are new on every start).
            connect_sandbox.delay(account.pk)
            self.stdout.write("Queued connecting the sandbox's delivery reports and clicks to Textcast.")
        # Proves the broker round trip: the worker logs this task as soon as it starts.
        heartbeat.delay()
        self.stdout.write("Queued a heartbeat task for the Celery worker.")

    def _ensure_admin(self, username, public_url):
        User = get_user_model()
        if User.objects.filter(is_superuser=True).exists():
            names = ", ".join(User.objects.filter(is_superuser=True).values_list("username", flat=True)[:3])
            self.stdout.write(
                f"Sign in at {public_url}/ as {names} (existing password; "
                "reset it with `python manage.py changepassword USERNAME`)."
            )
            return
        password = secrets.token_urlsafe(12)
        User.objects.create_superuser(username=username, email="", password=password)
        self.stdout.write(self.style.SUCCESS(
            f"\n  Created admin login — sign in at {public_url}/\n"
            f"    username: {username}\n    password: {password}\n"
            "  (shown once; change it with `python manage.py changepassword`)\n"
        ))
