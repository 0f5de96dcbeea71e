"""Messages sent at once (campaigns.singles) and one-time passwords (campaigns.otp), through the
same policy check as the dashboard; every send takes an Idempotency-Key."""

from typing import Literal

from ninja import Router, Schema, Status

from recipients.phones import PhoneRejected, normalize_phone

from ..otp import OtpProblem, messagewhiz_account, otp_objects, otp_send, otp_verify
from ..singles import FAST, SingleProblem, pasted_send, single_send
from .base import ApiError, IdempotencyKeyHeader, Scope, decorate_idempotent

router = Router(tags=["messages"])


class SingleIn(Schema):
    sender: str
    phone: str
    text: str
    endpoint: Literal["fast", "tiny"] = FAST
    account: str = ""


class PastedIn(Schema):
    sender: str
    numbers: list[str]
    text: str
    name: str = ""
    account: str = ""


class Sent(Schema):
    broadcast: int
    state: str
    recipients: int
    last_error: str


class OtpIn(Schema):
    phone: str
    sender: str
    campaign: int
    message: str = ""
    template: int | None = None
    account: str = ""


class OtpSentOut(Schema):
    broadcast: int
    remote_id: int | None


class VerifyIn(Schema):
    phone: str
    code: str
    account: str = ""


class Verified(Schema):
    valid: bool


def _account(name: str):
    try:
        return messagewhiz_account(name or None)
    except OtpProblem as exc:
        raise ApiError(422, str(exc), field="account") from None


def sent_out(broadcast) -> dict:
    return {"broadcast": broadcast.pk, "state": broadcast.state, "recipients": broadcast.recipients_count,
            "last_error": broadcast.last_error}


@router.post("/messages/single", response={201: Sent}, auth=Scope("messages:send"), summary="One message")
@decorate_idempotent
def message_single(request, payload: SingleIn, idempotency_key: str = IdempotencyKeyHeader):
    """MessageWhiz's fast single (its report comes straight back) or the tiny single. Opt-outs,
    quiet hours and frequency caps apply as in the dashboard."""
    try:
        message = single_send(account=_account(payload.account), sender=payload.sender, phone=payload.phone,
                              text=payload.text, endpoint=payload.endpoint, actor=request.user)
    except SingleProblem as exc:
        raise ApiError(422, str(exc)) from None
    return Status(201, sent_out(message.broadcast))


@router.post("/messages/pasted", response={201: Sent}, auth=Scope("messages:send"),
             summary="One text to many numbers")
@decorate_idempotent
def message_pasted(request, payload: PastedIn, idempotency_key: str = IdempotencyKeyHeader):
    """Up to MAX_PASTED (10,000) numbers in international form, as one MessageWhiz broadcast."""
    wrong = []
    for index, number in enumerate(payload.numbers):
        try:
            normalize_phone(number)
        except PhoneRejected as exc:
            wrong.append({"field": f"numbers[{index}]", "message": str(exc)})
    if wrong:
        error = ApiError(422, "Not phone numbers.")
        error.errors = wrong[:100]
        raise error
    try:
        broadcast = pasted_send(account=_account(payload.account), sender=payload.sender,
                                numbers="\n".join(payload.numbers), text=payload.text, name=payload.name,
                                actor=request.user)
    except SingleProblem as exc:
        raise ApiError(422, str(exc)) from None
    return Status(201, sent_out(broadcast))


@router.post("/otp/send", response={201: OtpSentOut}, auth=Scope("otp:send"), summary="Send a one-time password")
@decorate_idempotent
def otp_send_view(request, payload: OtpIn, idempotency_key: str = IdempotencyKeyHeader):
    """`message` (or the template's text) must contain {{verification_code}}; MessageWhiz makes
    the code. Rate-limited per phone number as well."""
    try:
        account = messagewhiz_account(payload.account or None)
        objects = otp_objects(account, sender=payload.sender, campaign=payload.campaign, template=payload.template)
        sent = otp_send(account=account, **objects, phone=payload.phone, body=payload.message, actor=request.user)
    except OtpProblem as exc:
        raise ApiError(422 if exc.status == 400 else exc.status, str(exc)) from None
    return Status(201, {"broadcast": sent.broadcast.pk, "remote_id": sent.remote_id})


@router.post("/otp/verify", response=Verified, auth=Scope("otp:send"), summary="Check a one-time password")
def otp_verify_view(request, payload: VerifyIn):
    try:
        return {"valid": otp_verify(account=messagewhiz_account(payload.account or None), phone=payload.phone,
                                    code=payload.code)}
    except OtpProblem as exc:
        raise ApiError(422 if exc.status == 400 else exc.status, str(exc)) from None
