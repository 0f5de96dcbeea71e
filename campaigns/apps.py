import hashlib

from django.apps import AppConfig
from django.db.backends.signals import connection_created


def _sqlite_md5(sender, connection, **kwargs):
    """PostgreSQL's md5(text) on SQLite too: A/B samples are drawn in md5(seed || phone) order
    (campaigns.abtests), in SQL, on both."""
    if connection.vendor == "sqlite":
        connection.connection.create_function("md5", 1, _md5, deterministic=True)


def _md5(text) -> str:
    return hashlib.md5(str(text).encode(), usedforsecurity=False).hexdigest()


class CampaignsConfig(AppConfig):
    name = "campaigns"

    def ready(self):
        from . import mirrors  # noqa: F401 - registers the mirrored resources

        connection_created.connect(_sqlite_md5, dispatch_uid="campaigns_sqlite_md5")
