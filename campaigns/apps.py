from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    name = "campaigns"

    def ready(self):
        from . import mirrors  # noqa: F401 - registers the mirrored resources
