from django.apps import AppConfig


class CallbacksConfig(AppConfig):
    name = "callbacks"

    def ready(self):
        from campaigns.signals import messages_identified

        from .services import apply_pending_for

        def apply_reports_that_came_early(sender, message_ids=(), broadcast_remote_ids=(), **kwargs):
            apply_pending_for(message_ids=message_ids, broadcast_remote_ids=broadcast_remote_ids)

        messages_identified.connect(apply_reports_that_came_early, weak=False,
                                    dispatch_uid="callbacks.apply_pending_for")
