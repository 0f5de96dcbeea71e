"""One-time passwords through MessageWhiz: send a code, verify what the person typed.

Each send is recorded as a single-message Broadcast (so it shows in history and receives DLRs).
Both actions are rate-limited per phone number, so nobody can flood a number with codes or
guess a code by brute force.
"""

from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

from messaging.messagewhiz.client import MessageWhizClient
from messaging.messagewhiz.errors import MessageWhizError
from messaging.models import ProviderAccount, Sender

from . import policy
from .estimates import text_parts_problem
from .models import Broadcast, Campaign, Message, Template
from .singles import outcome_unknown, send_accepted, send_failed
from .states import broadcast_transition

CODE_PLACEHOLDER = "{{verification_code}}"


class OtpProblem(Exception):
    """Something the caller can fix or wait out; str() is the message to show."""

    def __init__(self, message: str, *, status: int = 400):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class OtpSent:
    broadcast: Broadcast
    remote_id: int | None


def _rate_limit(action: str, phone: str, limit: int) -> None:
    key = f"textcast:otp:{action}:{phone}"  # per phone, whichever account or user asks
    window = settings.OTP_WINDOW_SECONDS
    cache.add(key, 0, timeout=window)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=window)
        count = 1
    if count > limit:
        minutes = max(1, window // 60)
        raise OtpProblem(f"Too many attempts for {phone}; try again in {minutes} minutes.", status=429)


def messagewhiz_account(name: str | None) -> ProviderAccount:
    """The active MessageWhiz account named `name`, or the only one when no name is given."""
    accounts = ProviderAccount.objects.filter(is_active=True, kind=ProviderAccount.Kind.MESSAGEWHIZ)
    if name:
        account = accounts.filter(name=name).first()
        if account is None:
            raise OtpProblem(f"No active MessageWhiz account named “{name}”.")
        return account
    if accounts.count() != 1:
        raise OtpProblem("Name the provider account to use (\"account\").")
    return accounts.get()


def otp_objects(account, *, sender, campaign, template=None) -> dict:
    """otp_send's sender (by name), campaign and template (by id) of `account`, or OtpProblem."""
    sender_obj = Sender.objects.filter(account=account, name=str(sender or ""), enabled=True).first()
    if sender_obj is None:
        raise OtpProblem("Give \"sender\": the name of an enabled sender of this account.")
    if campaign is None:
        raise OtpProblem("Give \"campaign\": the id of the campaign to send the code under.")
    campaign_obj = Campaign.objects.filter(account=account, enabled=True, pk=_int(campaign, "campaign")).first()
    if campaign_obj is None:
        raise OtpProblem("No such campaign (enabled, of this account).")
    template_obj = None
    if template is not None:
        template_obj = Template.objects.filter(account=account, pk=_int(template, "template")).first()
        if template_obj is None:
            raise OtpProblem("No such template.")
    return {"sender": sender_obj, "campaign": campaign_obj, "template": template_obj}


def _int(value, name: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise OtpProblem(f"\"{name}\" must be a number.") from None


def otp_send(*, account, campaign, sender, phone: str, body: str = "", template=None, actor=None) -> OtpSent:
    phone = "".join(ch for ch in phone if ch.isdigit())
    if not 10 <= len(phone) <= 15:
        raise OtpProblem("Enter the number in international format, 10 to 15 digits.")
    text = template.body if template else body
    if CODE_PLACEHOLDER not in text.replace(" ", ""):
        raise OtpProblem(f"The message must contain {CODE_PLACEHOLDER}, where the code goes.")
    if problem := text_parts_problem(text, account=account):
        raise OtpProblem(problem)
    for obj, what in ((campaign, "campaign"), (sender, "sender"), (template, "template")):
        if obj is not None and obj.remote_id is None:
            raise OtpProblem(f"The {what} “{obj}” is not in MessageWhiz yet.")
    # A code the recipient just asked for ignores quiet hours and caps, but never an opt-out.
    if refusal := policy.single_refusal(account=account, phone=phone, quiet_hours=False, caps=False):
        raise OtpProblem(refusal)
    _rate_limit("send", phone, settings.OTP_SENDS_PER_WINDOW)

    with transaction.atomic():
        broadcast = Broadcast.objects.create(
            account=account, campaign=campaign, name=f"OTP to {phone}", type=Broadcast.Type.SINGLE,
            recipient=phone, body="" if template else body, template=template, created_by=actor,
            recipients_count=1,
        )
        broadcast.senders.set([sender])
        message = Message.objects.create(account=account, broadcast=broadcast, phone=phone)
    broadcast_transition(broadcast, Broadcast.State.SUBMITTING, actor=actor, reason="Sending a one-time password")
    try:
        with MessageWhizClient.from_account(account) as client:
            result = client.otp_send(
                campaign_id=campaign.remote_id, sender_id=sender.remote_id, recipient=phone,
                message_body=None if template else body,
                message_template_id=template.remote_id if template else None,
            )
    except MessageWhizError as exc:
        # Not retried: a code sent twice is worse than a "try again" on the screen.
        send_failed(broadcast, exc)
        if outcome_unknown(exc):
            raise OtpProblem(f"MessageWhiz gave no clear answer, so the code may have been sent; give it a minute "
                             f"before sending another ({exc}).", status=504) from exc
        raise OtpProblem(f"MessageWhiz did not send the code: {exc}", status=502) from exc
    remote_id = result.get("id") if isinstance(result, dict) else None
    send_accepted(broadcast, remote_id=remote_id, message=message)
    return OtpSent(broadcast=broadcast, remote_id=remote_id)


def otp_verify(*, account, phone: str, code: str) -> bool:
    phone = "".join(ch for ch in phone if ch.isdigit())
    code = str(code).strip()
    if not phone or not code.isdigit() or len(code) > 10:
        raise OtpProblem("Give the phone number and the numeric code.")
    _rate_limit("verify", phone, settings.OTP_VERIFIES_PER_WINDOW)
    try:
        with MessageWhizClient.from_account(account) as client:
            # An int, as in the reference's example, unless a leading zero would be lost.
            result = client.otp_verify(phone_number=phone, verification_code=code if code[0] == "0" else int(code))
    except MessageWhizError as exc:
        raise OtpProblem(f"MessageWhiz could not check the code: {exc}", status=502) from exc
    return bool(result.get("valid")) if isinstance(result, dict) else False
