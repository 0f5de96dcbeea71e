from django.apps import AppConfig


class MessagingConfig(AppConfig):
    name = "messaging"

    def ready(self):
        from . import audit, mirrors  # noqa: F401 - registers the mirrored resources

        audit.connect()
        audit.connect_auth()
