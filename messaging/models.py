import hashlib
import secrets

from django.conf import settings
from django.db import models

from .mirror import MirroredModel
from .providers.generic.secrets import mask_url
from .validators import validate_sender_name


def new_callback_token() -> str:
    return secrets.token_urlsafe(32)


def default_base_url() -> str:
    return settings.MESSAGEWHIZ_BASE_URL


class ProviderAccount(models.Model):
    """A set of credentials for one messaging provider.

    The API key is write-only: forms never render it back and pages show only `api_key_hint`.
    Providers post callbacks to URLs carrying `callback_token`, which is what authenticates them.
    """

    class Kind(models.TextChoices):
        MESSAGEWHIZ = "messagewhiz", "MessageWhiz"
        GENERIC = "generic", "Generic HTTP"

    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.MESSAGEWHIZ)
    base_url = models.URLField(default=default_base_url, help_text="API root, e.g. https://sms.messagewhiz.com")
    api_key = models.CharField(max_length=255)
    callback_token = models.CharField(max_length=64, unique=True, default=new_callback_token, editable=False)
    is_active = models.BooleanField(default=True)
    # Providers answer prices and estimates as bare numbers in the account's billing currency.
    currency = models.CharField(max_length=3, default="EUR",
                                help_text="ISO code of the currency the provider bills this account in, e.g. EUR")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    def __repr__(self):
        # Never let the key reach logs or tracebacks through repr().
        return f"<ProviderAccount {self.pk} {self.name!r} {self.kind}>"

    @property
    def api_key_hint(self) -> str:
        if not self.api_key:
            return "not set"
        return "•" * 8 + self.api_key[-4:] if len(self.api_key) > 8 else "•" * 8

    def rotate_callback_token(self) -> None:
        self.callback_token = new_callback_token()
        self.save(update_fields=["callback_token", "updated_at"])


class Sender(MirroredModel):
    """The name or number recipients see as the message's origin."""

    name = models.CharField(max_length=20, validators=[validate_sender_name])
    # India's DLT registration (TRAI): sent to generic providers as $$DltTemplateId / $$DltEntityId.
    dlt_template_id = models.CharField("DLT template id", max_length=30, blank=True)
    dlt_entity_id = models.CharField("DLT entity id", max_length=30, blank=True)

    class Meta(MirroredModel.Meta):
        ordering = ["name"]

    def __str__(self):
        return self.name


class SenderList(MirroredModel):
    """A group of senders; MessageWhiz picks one at random for each message."""

    name = models.CharField(max_length=255)
    senders = models.ManyToManyField(Sender, blank=True, related_name="sender_lists")

    class Meta(MirroredModel.Meta):
        ordering = ["name"]

    def __str__(self):
        return self.name


# What a token may be used for, and the Django permissions its user needs for each: a token's
# effective rights are its scopes intersected with what its user may do in the dashboard.
API_SCOPES = {
    "lists:read": ("Read recipient lists and imports", ("recipients.view_recipientlist",)),
    "lists:write": ("Create lists, append numbers, import files",
                    ("recipients.add_recipientlist", "recipients.change_recipientlist")),
    "broadcasts:read": ("Read broadcasts, their estimates and figures", ("campaigns.view_broadcast",)),
    "broadcasts:write": ("Create broadcasts and estimate them", ("campaigns.add_broadcast",)),
    "broadcasts:send": ("Confirm (send or schedule) and cancel broadcasts", ("campaigns.change_broadcast",)),
    "messages:send": ("Send single messages and one text to pasted numbers", ("campaigns.add_broadcast",)),
    "otp:send": ("Send and verify one-time passwords", ("campaigns.add_broadcast",)),
    "consent:read": ("Look up a number's consent history", ("recipients.view_consentevent",)),
    "consent:write": ("Record opt-ins and opt-outs", ("recipients.add_consentevent",)),
}


def all_scopes() -> list[str]:
    return list(API_SCOPES)


class ApiToken(models.Model):
    """A bearer token with which a back-office system calls Textcast's JSON API.

    Only a SHA-256 of the token is stored; the token itself is shown once, when it is created.
    """

    name = models.CharField(max_length=100, help_text="Which system uses it")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    prefix = models.CharField(max_length=8, editable=False, help_text="First characters, to tell tokens apart")
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    scopes = models.JSONField(default=all_scopes, blank=True, help_text="What the token may be used for")
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    @staticmethod
    def hash(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()

    @classmethod
    def issue(cls, *, name: str, user, scopes=None) -> tuple["ApiToken", str]:
        key = "tc_" + secrets.token_urlsafe(32)
        scopes = all_scopes() if scopes is None else [scope for scope in API_SCOPES if scope in set(scopes)]
        return cls.objects.create(name=name, user=user, prefix=key[:8], key_hash=cls.hash(key), scopes=scopes), key

    def allows(self, scope: str) -> bool:
        """The token has the scope and its user (still) has the permissions the scope needs."""
        return scope in (self.scopes or []) and self.user.has_perms(API_SCOPES[scope][1])


class IdempotencyKey(models.Model):
    """The first answer to a sending API request made with an `Idempotency-Key` header, kept so
    that a client retrying the same request (same key, same body) gets it again instead of sending
    twice. A row without a status is a request still running."""

    token = models.ForeignKey(ApiToken, on_delete=models.CASCADE, related_name="idempotency_keys")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64, help_text="SHA-256 of method, path and body")
    status = models.PositiveSmallIntegerField(null=True, blank=True)
    response = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["token", "key"], name="idempotency_key_per_token")]

    def __str__(self):
        return self.key


# Whole-message opt-out words (folded as messaging.providers.inbound folds a reply): the CTIA set,
# then Ukrainian, Russian, Spanish, French and German equivalents.
DEFAULT_OPTOUT_WORDS = (
    "STOP\nUNSUBSCRIBE\nEND\nQUIT\nSTOPALL\nREVOKE\nOPTOUT\nCANCEL\n"
    "СТОП\nВІДПИСАТИСЯ\nВІДПИСКА\n"  # noqa: RUF001 — Cyrillic on purpose
    "ОТПИСАТЬСЯ\nОТПИСКА\n"  # noqa: RUF001
    "BAJA\nALTO\nPARAR\nCANCELAR\n"
    "ARRET\nARRÊT\nDESABONNER\nDÉSABONNER\n"
    "STOPP\nABMELDEN\nABBESTELLEN"
)
DEFAULT_OPTIN_WORDS = "START\nUNSTOP"


def default_stop_keywords() -> str:
    return DEFAULT_OPTOUT_WORDS


class GenericProviderConfig(models.Model):
    """How to talk to a provider configured the way CleverTap's "Generic SMS" provider is.

    `$$To`, `$$Body` and `$$MessageID` (case-sensitive) may appear in the endpoint, the header
    values, the parameters and the body template; messaging.providers.generic.request escapes each
    for where it stands. The password and the values of credential-like headers are write-only.
    """

    class Channel(models.TextChoices):
        SMS = "sms", "SMS"
        WHATSAPP = "whatsapp", "WhatsApp"

    class Method(models.TextChoices):
        GET = "GET", "GET"
        POST = "POST", "POST"

    class Auth(models.TextChoices):
        NONE = "none", "No authentication"
        BASIC = "basic", "Basic authentication"

    class BodyFormat(models.TextChoices):
        FORM = "form", "x-www-form-urlencoded"
        JSON = "json", "JSON"
        RAW = "raw", "Raw"

    account = models.OneToOneField(ProviderAccount, on_delete=models.CASCADE, related_name="generic")
    channel = models.CharField(max_length=8, choices=Channel.choices, default=Channel.SMS)
    method = models.CharField("request type", max_length=4, choices=Method.choices, default=Method.POST)
    endpoint = models.CharField("HTTP endpoint", max_length=2000)
    auth = models.CharField("authentication", max_length=5, choices=Auth.choices, default=Auth.NONE)
    username = models.CharField(max_length=255, blank=True)
    password = models.CharField(max_length=255, blank=True)
    # [[key, value], …] in order; a key may repeat.
    headers = models.JSONField(default=list, blank=True)
    body_format = models.CharField(max_length=4, choices=BodyFormat.choices, default=BodyFormat.FORM)
    # Form bodies and GET queries: [[key, value], …]. JSON and raw bodies: body_template.
    params = models.JSONField("parameters", default=list, blank=True)
    body_template = models.TextField(blank=True)
    batch_enabled = models.BooleanField("batch", default=False)
    batch_size = models.PositiveSmallIntegerField(default=100)
    batch_record_template = models.TextField(blank=True, help_text="JSON for one message")
    batch_envelope = models.TextField(blank=True, help_text='JSON around the records, "$$Records" where they go')
    max_concurrency = models.PositiveSmallIntegerField("maximum concurrent requests", default=100)
    rate_limit = models.PositiveIntegerField("messages per second", null=True, blank=True)
    timeout = models.PositiveSmallIntegerField("timeout (seconds)", default=30)
    # When the provider ignores a second request with the same $$MessageID, a request whose answer
    # was lost may be repeated; otherwise such a message is left for reconciliation, never resent.
    dedupes_message_id = models.BooleanField("provider de-duplicates by $$MessageID", default=False)
    response_id_field = models.CharField("message id in the answer", max_length=100, blank=True,
                                         help_text="Dotted path in the JSON answer, e.g. message_id or data.0.id")
    is_default = models.BooleanField("default provider", default=False)

    # Delivery reports
    dlr_enabled = models.BooleanField("delivery reports", default=False)
    dlr_ref_field = models.CharField("our message id field", max_length=100, blank=True,
                                     help_text="Where the report carries $$MessageID")
    dlr_id_field = models.CharField("provider message id field", max_length=100, blank=True)
    dlr_status_field = models.CharField("status field", max_length=100, blank=True)
    dlr_error_field = models.CharField("error field", max_length=100, blank=True)
    # {"provider value": "canonical status"}; values are matched case-insensitively.
    dlr_status_map = models.JSONField("status mapping", default=dict, blank=True)

    # WhatsApp and inbound messages
    whatsapp_number = models.CharField(max_length=20, blank=True)
    auto_reply = models.BooleanField("auto-reply to unknown numbers", default=False)
    auto_reply_text = models.TextField(blank=True)
    # WhatsApp lets a business write first only with an approved template, so a WhatsApp account
    # replies with one; the reply text's lines fill its variables.
    auto_reply_template = models.ForeignKey("WhatsAppTemplate", null=True, blank=True, on_delete=models.SET_NULL,
                                            related_name="+")
    stop_keywords = models.TextField(default=default_stop_keywords, blank=True, help_text="One per line")
    optout_list = models.ForeignKey("recipients.UnsubscribeList", null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+", help_text="Empty: one is created on the first opt-out")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["channel"], condition=models.Q(is_default=True),
                                    name="one_default_generic_provider_per_channel"),
        ]

    def __str__(self):
        return f"{self.account} ({self.get_channel_display()})"

    def __repr__(self):
        return f"<GenericProviderConfig {self.pk} account={self.account_id}>"

    @property
    def display_endpoint(self) -> str:
        """The endpoint as pages show it: credential-looking query values masked."""
        return mask_url(self.endpoint)

    @property
    def has_dlr(self) -> bool:
        return self.dlr_enabled and bool(self.dlr_status_field) and bool(self.dlr_ref_field or self.dlr_id_field)


class WhatsAppTemplate(models.Model):
    """A template approved at the provider (MSG91), recorded here so that we can send it.

    Validation (`clean`) follows WhatsApp's template rules as CleverTap's page describes them.
    """

    class Header(models.TextChoices):
        NONE = "none", "None"
        TEXT = "text", "Text"
        IMAGE = "image", "Image"
        VIDEO = "video", "Video"
        DOCUMENT = "document", "Document"
        LOCATION = "location", "Location"

    class Buttons(models.TextChoices):
        NONE = "none", "None"
        QUICK_REPLY = "quick_reply", "Quick reply"
        CALL_TO_ACTION = "cta", "Call to action"

    account = models.ForeignKey(ProviderAccount, on_delete=models.CASCADE, related_name="whatsapp_templates")
    name = models.CharField(max_length=512)
    language = models.CharField(max_length=15, default="en")
    header_type = models.CharField(max_length=8, choices=Header.choices, default=Header.NONE)
    header_text = models.CharField(max_length=60, blank=True)
    header_media_url = models.URLField(blank=True)
    # Location headers: {"latitude": …, "longitude": …, "name": …, "address": …}, sent with each message.
    header_location = models.JSONField(default=dict, blank=True)
    body = models.TextField(max_length=1024)
    footer = models.CharField(max_length=60, blank=True)
    button_type = models.CharField(max_length=11, choices=Buttons.choices, default=Buttons.NONE)
    # quick reply: [{"text": …}]; call to action: [{"type": "url"|"phone", "text": …, "value": …}]
    buttons = models.JSONField(default=list, blank=True)
    limited_time_offer = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "language"]
        constraints = [
            models.UniqueConstraint(fields=["account", "name", "language"], name="whatsapp_template_unique_name_lang"),
        ]

    def __str__(self):
        return f"{self.name} ({self.language})"

    def clean(self):
        from django.core.exceptions import ValidationError

        from .providers.whatsapp.templates import template_problems

        problems = template_problems(self)
        if problems:
            raise ValidationError(problems)


class InboundMessage(models.Model):
    """A message a user sent us through a provider (WhatsApp inbound callback), as received."""

    account = models.ForeignKey(ProviderAccount, on_delete=models.CASCADE, related_name="inbound_messages",
                                db_index=False)  # covered by the (account, received_at) index
    phone = models.CharField(max_length=20)
    text = models.TextField(blank=True)
    provider_message_id = models.CharField(max_length=128, blank=True)
    raw = models.TextField()
    received_at = models.DateTimeField(auto_now_add=True)
    opted_out = models.BooleanField(default=False)
    auto_replied = models.BooleanField(default=False)

    class Meta:
        ordering = ["-received_at", "-pk"]
        indexes = [models.Index(fields=["account", "received_at"], name="inbound_account_time")]
        constraints = [
            models.UniqueConstraint(fields=["account", "provider_message_id"],
                                    condition=~models.Q(provider_message_id=""), name="inbound_once_per_provider_id"),
        ]

    def __str__(self):
        return f"{self.phone}: {self.text[:40]}"


def default_optout_words() -> str:
    return DEFAULT_OPTOUT_WORDS


def default_optin_words() -> str:
    return DEFAULT_OPTIN_WORDS


class SendingPolicy(models.Model):
    """What an account may send, and when: campaigns.policy applies it on every send path.

    The window is the recipient's local time (47 CFR 64.1200(c)(1): 08:00 to 21:00). `country_windows`
    overrides it per ISO country, e.g. {"GB": {"start": "09:00", "end": "20:00", "days": "01234"}};
    days are weekday digits, Monday = 0.
    """

    account = models.OneToOneField(ProviderAccount, on_delete=models.CASCADE, related_name="sending_policy")
    window_start = models.TimeField(default="08:00")
    window_end = models.TimeField(default="21:00")
    days = models.CharField(max_length=7, default="0123456", help_text="Weekdays sent on, Monday = 0")
    country_windows = models.JSONField(default=dict, blank=True)
    cap_messages = models.PositiveIntegerField(null=True, blank=True,
                                               help_text="At most this many messages per number; empty: no cap")
    cap_hours = models.PositiveIntegerField(default=24, help_text="…in this many hours (rolling)")
    # Generic accounts keep theirs on the provider configuration (stop_keywords), next to inbound.
    optout_words = models.TextField(default=default_optout_words, help_text="One per line; the whole reply")
    optin_words = models.TextField(default=default_optin_words, help_text="One per line; the whole reply")
    # MessageWhiz accounts: where opt-outs are mirrored (generic accounts use their config's list).
    optout_list = models.ForeignKey("recipients.UnsubscribeList", null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "sending policies"

    def __str__(self):
        return f"Sending policy of {self.account}"


class AuditEvent(models.Model):
    """One entry of the audit trail (messaging.audit): append-only, refused by the database itself
    on UPDATE (migration 0010). The actor is kept by name too, so the entry outlives the user."""

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    # No constraint: deleting a user must not rewrite (SET NULL) the entries they left.
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.DO_NOTHING,
                              db_constraint=False, related_name="+")
    actor_name = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=40, db_index=True)
    object_type = models.CharField(max_length=100, blank=True, db_index=True)
    object_id = models.CharField(max_length=64, blank=True)
    object_repr = models.CharField(max_length=255, blank=True)
    changes = models.JSONField(default=dict, blank=True)
    detail = models.TextField(blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ["-at", "-pk"]
        indexes = [models.Index(fields=["object_type", "object_id"])]

    def __str__(self):
        return f"{self.actor_name or 'system'} {self.action} {self.object_repr}".strip()

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValueError("Audit events are append-only.")
        super().save(*args, **kwargs)

    @property
    def action_label(self) -> str:
        return self.action.replace("_", " ")

    def change_lines(self) -> list[tuple[str, str]]:
        from .audit import describe

        return describe(self.changes)


from .webhooks.models import WebhookAttempt, WebhookEndpoint, WebhookMessage  # noqa: E402, F401 - the app's models
