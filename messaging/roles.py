"""The four roles: Django groups holding model permissions, nothing more.

Pages and admin actions check permissions (never `is_staff` or a group name), so a role is only a
bundle: what each may do is read here, and a user may also be given single permissions in the
admin. `roles_sync` makes each group hold exactly its permissions; it runs after every `migrate`
(messaging.apps) and as `manage.py sync_roles`, so permissions declared by later migrations land
in their groups. Permissions named here that do not exist (yet) are skipped.
"""

VIEW = "view"
CHANGE = ("add", "change", "delete")


def perms(app: str, models: str, actions=(VIEW,)) -> set[str]:
    return {f"{app}.{action}_{model}" for model in models.split() for action in actions}


# What the dashboard shows: lists, content, broadcasts with their figures and exports, setup pages.
SEEN = (
    perms("messaging", "provideraccount sender senderlist genericproviderconfig whatsapptemplate inboundmessage "
                       "sendingpolicy")
    | perms("recipients", "recipientlist recipient unsubscribelist unsubscribenumber importjob consentevent "
                          "suppression")
    | perms("campaigns", "broadcast broadcastevent segment message recurringbroadcast campaign template link "
                         "linklist wordspinner trigger abtest abvariant")
)

# Lists, content and broadcasts, and sending them within the account's limits (window, caps).
MADE = (
    perms("messaging", "sender senderlist whatsapptemplate", CHANGE)
    | perms("recipients", "recipientlist recipient unsubscribelist unsubscribenumber importjob", CHANGE)
    | perms("campaigns", "broadcast recurringbroadcast campaign template link linklist wordspinner trigger abtest "
                         "abvariant", CHANGE)
    | {"campaigns.send_broadcast"}
)

APPROVE = {"campaigns.approve_broadcast"}

# Provider accounts (the approval threshold is set there), API tokens, webhooks, users, compliance
# settings, and the audit trail of who did what.
ADMINISTER = (
    perms("messaging", "provideraccount genericproviderconfig apitoken sendingpolicy", CHANGE)
    | perms("messaging", "apitoken auditevent webhookendpoint webhookmessage webhookattempt")
    | perms("messaging", "webhookendpoint", CHANGE)
    | perms("auth", "user group", (VIEW, *CHANGE))
    | perms("recipients", "consentevent suppression", ("add",))
    | perms("callbacks", "callbackevent")
    | {"recipients.erase_consentevent", "campaigns.widen_sending_window"}
)

ROLES: dict[str, set[str]] = {
    "Viewer": SEEN,
    "Marketer": SEEN | MADE,
    "Approver": SEEN | APPROVE,
    "Admin": SEEN | MADE | APPROVE | ADMINISTER,
}


def roles_sync(*, group_model, permission_model) -> dict[str, int]:
    """Give each role's group exactly its permissions; returns how many each holds. Takes the models
    so the data migration can pass its historical ones."""
    held = {}
    for name, wanted in ROLES.items():
        group, _ = group_model.objects.get_or_create(name=name)
        found = [perm for perm in permission_model.objects.select_related("content_type")
                 if f"{perm.content_type.app_label}.{perm.codename}" in wanted]
        group.permissions.set(found)
        held[name] = len(found)
    return held
