"""The audit trail: who did what to which object, when and from where (AuditEvent, append-only).

Changes to the models in AUDITED are recorded from model signals, with the before and after of
each changed field; secrets appear only as "changed". Everything else that matters and is not a
row changing (a send, a cancel, a sign-in, a failed sign-in, an export, a secret shown) is
recorded by its caller with `record()`. The actor and address come from the request being served
(AuditContextMiddleware); work done by Celery or a command has no actor: "system".

It lives in messaging, the lowest app, so that every app can record without importing upwards.
"""

import contextvars
import datetime
import decimal
import uuid
from dataclasses import dataclass

from django.apps import apps
from django.db import models
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_save

HIDDEN = "changed"  # what a secret field's change shows: that it changed, never the value
# Field names whose values never enter the trail, in any model.
SECRET_FIELDS = frozenset({"api_key", "password", "callback_token", "key_hash", "secret", "signing_secret",
                           "previous_secret",
                           "headers", "params", "body_template", "key"})
# URLs recorded with credential-looking query values masked.
URL_FIELDS = frozenset({"endpoint", "base_url", "url"})
# Bookkeeping that moves by itself (sync, dispatch, counters): not someone's change.
_MIRROR_NOISE = ("sync_state", "synced_at", "sync_error", "remote_snapshot", "create_attempted_at", "revision",
                 "next_push_at", "remote_id")
_BROADCAST_NOISE = ("recipients_count", "sent", "delivered", "undelivered", "expired", "rejected", "failed",
                    "unknown", "cost", "clicks_total", "clicks_unique", "reported_clicks_unique",
                    "reported_clicks_total", "conversion", "held", "capped", "opted_out", "estimate",
                    "local_estimate", "estimated_at", "provider_report", "remote_state", "remote_id",
                    "dispatch_state", "dispatch_lease", "dispatch_owner", "submission_lease", "submission_key",
                    "submission_attempts", "next_attempt_at", "last_error", "submitted_at", "completed_at")
# model label → fields left out of its change records (besides auto_now ones and SECRET_FIELDS' values).
AUDITED = {
    "auth.user": ("last_login",),
    "auth.group": (),
    "messaging.provideraccount": (),
    "messaging.genericproviderconfig": (),
    "messaging.apitoken": ("last_used_at",),
    "messaging.sendingpolicy": (),
    "messaging.sender": _MIRROR_NOISE,
    "messaging.senderlist": _MIRROR_NOISE,
    "recipients.recipientlist": (*_MIRROR_NOISE, "recipient_count", "upload_inserted", "upload_wrong",
                                 "upload_duplicate", "upload_total", "uploaded_revision"),
    "recipients.unsubscribelist": (*_MIRROR_NOISE, "recipient_count"),
    "campaigns.campaign": _MIRROR_NOISE,
    "campaigns.template": _MIRROR_NOISE,
    "campaigns.link": (*_MIRROR_NOISE, "conversion", "clicks", "total_recipients", "conversion_checked_at",
                       "conversion_error"),
    "campaigns.linklist": _MIRROR_NOISE,
    "campaigns.wordspinner": _MIRROR_NOISE,
    "campaigns.trigger": _MIRROR_NOISE,
    "campaigns.broadcast": _BROADCAST_NOISE,
    "campaigns.recurringbroadcast": ("last_run_at", "periodic_task"),
    "messaging.webhookendpoint": ("consecutive_failures", "paused_until", "pauses"),
}


@dataclass(frozen=True)
class Context:
    user: object = None
    ip: str | None = None


NOBODY = Context()
_current: contextvars.ContextVar[Context | None] = contextvars.ContextVar("audit_context", default=None)


def actor_from(request) -> Context:
    from config.login import client_ip

    user = getattr(request, "user", None)
    return Context(user=user if user is not None and user.is_authenticated else None, ip=client_ip(request) or None)


class AuditContextMiddleware:
    """Makes the signed-in user and their address the actor of whatever the request records."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = _current.set(actor_from(request))
        try:
            return self.get_response(request)
        finally:
            _current.reset(token)


def act_as(request) -> None:
    """A user authenticated inside the view (an API token) is the actor of what the request
    records from here on (AuditContextMiddleware restores the context afterwards)."""
    _current.set(actor_from(request))


def record(action: str, obj=None, *, changes: dict | None = None, detail: str = "", user=None, ip=None,
           request=None, object_type: str = "", object_repr: str = "") -> None:
    """Append one event. The actor is `user`, else `request`'s, else the current request's."""
    from .models import AuditEvent

    context = actor_from(request) if request is not None else (_current.get() or NOBODY)
    user = user if user is not None else context.user
    AuditEvent.objects.create(
        actor=user if getattr(user, "pk", None) else None,
        actor_name=(user.get_username() if getattr(user, "pk", None) else "")[:150],
        action=action[:40],
        object_type=(object_type or (obj._meta.label_lower if obj is not None else ""))[:100],
        object_id=str(obj.pk)[:64] if obj is not None and obj.pk is not None else "",
        object_repr=(object_repr or (str(obj) if obj is not None else ""))[:255],
        changes=changes or {},
        detail=detail[:1000],
        ip=ip or context.ip,
    )


def _plain(value, name: str = ""):
    """A field value as JSON can hold it."""
    if name in URL_FIELDS and isinstance(value, str):
        from .providers.generic.secrets import mask_url

        return mask_url(value)
    if isinstance(value, models.Model):
        return value.pk
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, str) and len(value) > 500:
        return value[:500] + "…"
    return value


def _fields(model) -> list[models.Field]:
    skipped = set(AUDITED[model._meta.label_lower])
    return [f for f in model._meta.concrete_fields
            if f.name not in skipped and not f.primary_key and not getattr(f, "auto_now", False)
            and not getattr(f, "auto_now_add", False)]


def _values(instance) -> dict:
    return {f.name: getattr(instance, f.attname) for f in _fields(type(instance))}


def _diff(before: dict, after: dict) -> dict:
    changes = {}
    for name, value in after.items():
        if before.get(name) != value:
            changes[name] = HIDDEN if name in SECRET_FIELDS else [_plain(before.get(name), name), _plain(value, name)]
    return changes


def _created(after: dict) -> dict:
    return {name: HIDDEN if name in SECRET_FIELDS else [None, _plain(value, name)]
            for name, value in after.items() if value not in (None, "", [], {})}


def _before_save(sender, instance, raw=False, **kwargs):
    if raw or instance.pk is None or instance._state.adding:
        instance._audit_before = None
        return
    update_fields = kwargs.get("update_fields")
    row = sender._default_manager.filter(pk=instance.pk).values(*[f.attname for f in _fields(sender)]).first()
    instance._audit_before = None if row is None else {
        f.name: row[f.attname] for f in _fields(sender) if update_fields is None or f.name in update_fields}


def _after_save(sender, instance, created, raw=False, **kwargs):
    if raw:
        return
    after = _values(instance)
    if created:
        record("create", instance, changes=_created(after))
        return
    before = getattr(instance, "_audit_before", None)
    if before is None:
        return
    changes = _diff(before, {name: value for name, value in after.items() if name in before})
    if changes:
        record("change", instance, changes=changes)


def _after_delete(sender, instance, **kwargs):
    record("delete", instance)


def _m2m(sender, instance, action, model, pk_set, reverse, **kwargs):
    if reverse or action not in ("post_add", "post_remove", "post_clear"):
        return
    if type(instance)._meta.label_lower not in AUDITED or instance.pk is None:
        return
    field = next((f for f in type(instance)._meta.many_to_many if f.remote_field.through is sender), None)
    if field is None:
        return
    verb = {"post_add": "added", "post_remove": "removed", "post_clear": "cleared"}[action]
    record("change", instance, changes={field.name: {verb: sorted(pk_set or ())}})


def _short(value) -> str:
    text = "—" if value in (None, "") else str(value)
    return text if len(text) <= 80 else text[:79] + "…"


def describe(changes: dict) -> list[tuple[str, str]]:
    """(field, what happened to it) for the page: "changed" for secrets, "before → after", or
    what was added to or removed from a many-to-many field."""
    lines = []
    for name, change in (changes or {}).items():
        if change == HIDDEN:
            lines.append((name, "changed"))
        elif isinstance(change, list) and len(change) == 2:
            lines.append((name, f"{_short(change[0])} → {_short(change[1])}"))
        elif isinstance(change, dict):
            lines.append((name, "; ".join(f"{verb} {', '.join(map(str, ids)) or 'all'}"
                                          for verb, ids in change.items())))
        else:
            lines.append((name, _short(change)))
    return lines


def connect() -> None:
    """Connect the signals for every audited model that is installed (called from ready())."""
    for label in AUDITED:
        try:
            model = apps.get_model(label)
        except LookupError:
            continue
        uid = f"audit:{label}"
        pre_save.connect(_before_save, sender=model, dispatch_uid=f"{uid}:pre")
        post_save.connect(_after_save, sender=model, dispatch_uid=f"{uid}:post")
        post_delete.connect(_after_delete, sender=model, dispatch_uid=f"{uid}:delete")
    m2m_changed.connect(_m2m, dispatch_uid="audit:m2m")


def _signed_in(sender, request, user, **kwargs):
    record("login", user, request=request)


def _sign_in_failed(sender, credentials, request=None, **kwargs):
    # Only the username the attempt named: never what was typed as the password.
    username = str((credentials or {}).get("username", ""))[:150]
    record("login_failed", None, request=request, object_type="auth.user", object_repr=username,
           detail=f"Sign-in failed for “{username}”")


def _signed_out(sender, request, user, **kwargs):
    if user is not None:
        record("logout", user, request=request, user=user)


def connect_auth() -> None:
    from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed

    user_logged_in.connect(_signed_in, dispatch_uid="audit:login")
    user_login_failed.connect(_sign_in_failed, dispatch_uid="audit:login_failed")
    user_logged_out.connect(_signed_out, dispatch_uid="audit:logout")
