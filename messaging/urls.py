from django.urls import include, path

from . import audit_views, views
from .mirror_views import MirrorPages
from .models import Sender, SenderList

app_name = "messaging"

senders = MirrorPages(
    model=Sender, fields=["name", "dlt_entity_id", "dlt_template_id"],
    help_text="The name or number recipients see. At most 11 latin letters, digits or ' . _ - + & and space, "
              "or up to 20 digits.",
)
sender_lists = MirrorPages(model=SenderList, fields=["name", "senders"],
                           help_text="MessageWhiz picks one of the list's senders at random for each message.")

urlpatterns = [
    path("audit/", audit_views.audit_trail, name="audit"),
    path("audit.csv", audit_views.audit_export, name="audit_export"),
    path("providers/", views.account_list, name="account_list"),
    path("providers/<int:pk>/", views.account_detail, name="account_detail"),
    path("api-tokens/", views.api_tokens, name="api_tokens"),
    path("api-tokens/<int:pk>/revoke/", views.api_token_revoke, name="api_token_revoke"),
    path("senders/", include(senders.urls())),
    path("sender-lists/", include(sender_lists.urls())),
]
