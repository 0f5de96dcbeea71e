"""Consent lookups: a number's ledger (recipients.consent) and whether each account may message it."""

from datetime import datetime

from django.shortcuts import get_object_or_404
from ninja import Router, Schema

from messaging.models import ProviderAccount
from recipients.consent import consent_history, suppressed_phones
from recipients.phones import PhoneRejected, normalize_phone

from .base import ApiError, Scope

router = Router(tags=["consent"])


class ConsentEventOut(Schema):
    account: int
    kind: str
    source: str
    evidence: dict
    at: datetime


class AccountConsent(Schema):
    account: int
    name: str
    opted_out: bool


class ConsentOut(Schema):
    phone: str
    accounts: list[AccountConsent]
    events: list[ConsentEventOut]


@router.get("/consent/{phone}", response=ConsentOut, auth=Scope("consent:read"),
            summary="A number's consent: opted out where, and the ledger")
def consent_lookup(request, phone: str, account: int | None = None):
    """`phone` in international form. `accounts`: whether each provider account must not message
    the number (the suppression every send checks); `events`: the append-only ledger, newest first."""
    try:
        phone = normalize_phone(phone)
    except PhoneRejected as exc:
        raise ApiError(422, str(exc), field="phone") from None
    accounts = ProviderAccount.objects.order_by("name")
    if account is not None:
        accounts = [get_object_or_404(ProviderAccount, pk=account)]
    events = consent_history(account=accounts[0] if account is not None else None, phone=phone)
    return {
        "phone": phone,
        "accounts": [{"account": a.pk, "name": a.name, "opted_out": bool(suppressed_phones(account_id=a.pk,
                                                                                            phones=[phone]))}
                     for a in accounts],
        "events": [{"account": e.account_id, "kind": e.kind, "source": e.source, "evidence": e.evidence,
                    "at": e.created_at} for e in events.order_by("-created_at", "-pk")[:500]],
    }
