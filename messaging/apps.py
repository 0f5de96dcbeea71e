from django.apps import AppConfig
from django.db.models.signals import post_migrate


class MessagingConfig(AppConfig):
    name = "messaging"

    def ready(self):
        from . import audit, mirrors  # noqa: F401 - registers the mirrored resources

        audit.connect()
        audit.connect_auth()
        post_migrate.connect(_sync_roles, sender=self, dispatch_uid="messaging.sync_roles")


def _sync_roles(*, using, verbosity=1, **kwargs):
    """After every migrate (and test database flush): permissions of every app exist, then each
    role's group holds exactly its own (messaging.roles)."""
    from django.apps import apps
    from django.contrib.auth.management import create_permissions
    from django.contrib.auth.models import Group, Permission

    from .roles import roles_sync

    # Django creates each app's permissions when that app's own post_migrate is sent; apps after
    # messaging are not done yet, so do them all now (it is idempotent).
    for app_config in apps.get_app_configs():
        create_permissions(app_config, verbosity=0, using=using)
    roles_sync(group_model=Group, permission_model=Permission)
