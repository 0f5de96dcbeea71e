from django.contrib.auth.models import Group, Permission
from django.core.management.base import BaseCommand

from messaging.roles import roles_sync


class Command(BaseCommand):
    help = "Make the Viewer, Marketer, Approver and Admin groups hold exactly their permissions (messaging.roles)."

    def handle(self, *args, **options):
        for name, count in roles_sync(group_model=Group, permission_model=Permission).items():
            self.stdout.write(f"{name}: {count} permissions")
