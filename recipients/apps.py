from django.apps import AppConfig


class RecipientsConfig(AppConfig):
    name = "recipients"

    def ready(self):
        from . import mirrors  # noqa: F401 - registers the mirrored resources
