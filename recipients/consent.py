"""Consent: the append-only ledger of opt-ins and opt-outs, and the suppression derived from it.

Every change of a number's consent towards an account is one `ConsentEvent` with its proof (the
import file and user, the inbound message, the link, the API token, a note). `Suppression` holds
the current state — the numbers whose latest event is an opt-out — in the same transaction, so a
send path reads one indexed row per number; `suppressions_rebuild` recomputes it from the ledger.
For MessageWhiz accounts, opt-outs are also mirrored into the account's "Opted out" unsubscribe
list, which the sync machinery pushes to MessageWhiz (and which MessageWhiz broadcasts exclude).

Nothing here deletes an event. GDPR erasure (`consent_erase`) replaces the number with a salted
hash in the ledger and drops it from the suppression: the hash still proves that *a* number opted
out at that time, and the same number erased again maps to the same hash.
"""

import csv
import hashlib
import io
import json
from collections.abc import Iterable

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, OuterRef, Subquery
from django.utils import timezone

from messaging.models import ProviderAccount, SendingPolicy
from messaging.webhooks.events import emit_many, subscribed

from .models import ConsentEvent, Recipient, Suppression, UnsubscribeList, UnsubscribeNumber

Kind, Source = ConsentEvent.Kind, ConsentEvent.Source
ERASED_PREFIX = "erased:"


def consent_record(*, account: ProviderAccount, phones: Iterable[str], kind: str, source: str,
                   evidence: dict | None = None, actor=None, at=None) -> int:
    """Append one event per number and move the suppression with it; returns how many were written.
    A number whose current state already is `kind` still gets its event (the proof is the point)."""
    phones = list(dict.fromkeys(p for p in phones if p))
    if not phones:
        return 0
    at = at or timezone.now()
    with transaction.atomic():
        events = ConsentEvent.objects.bulk_create(
            [ConsentEvent(account=account, phone=p, kind=kind, source=source, evidence=evidence or {},
                          actor=actor, created_at=at) for p in phones], batch_size=2000)
        if kind == Kind.OPT_OUT:
            by_phone = {e.phone: e for e in events}
            existing = set(Suppression.objects.filter(account=account, phone__in=phones).values_list(
                "phone", flat=True))
            Suppression.objects.bulk_create(
                [Suppression(account=account, phone=p, event=by_phone[p]) for p in phones if p not in existing],
                batch_size=2000)
            _mirror_optouts(account, [p for p in phones if p not in existing])
        else:
            Suppression.objects.filter(account=account, phone__in=phones).delete()
            _mirror_optins(account, phones)
        _webhook_emit(kind, [(e.account_id, e.phone, e.source, e.created_at) for e in events])
    return len(phones)


WEBHOOK_EVENTS = {Kind.OPT_OUT: "optout.created", Kind.OPT_IN: "optin.created"}


def _webhook_emit(kind: str, rows) -> None:
    """Outbound webhooks for consent events (messaging.webhooks), in the ledger's transaction.
    `rows`: (account id, phone, source, created_at), or a query yielding them."""
    event_type = WEBHOOK_EVENTS[kind]
    if not subscribed(event_type):
        return
    batch = []
    for account_id, phone, source, created_at in rows:
        batch.append({"account_id": account_id, "phone": phone, "source": source, "created_at": created_at})
        if len(batch) == 5000:
            emit_many(event_type, batch)
            batch = []
    emit_many(event_type, batch)


def consent_list_record(*, target, source: str, evidence: dict, actor=None) -> int:
    """After numbers were loaded into a list (an import, a paste): an unsubscribe list's new numbers
    are opt-outs; a recipient list's numbers without any consent record get an opt-in whose proof is
    the import. A suppressed number stays suppressed: loading it again is no consent. One
    INSERT … SELECT per table, so a million-row import writes its ledger in a few statements."""
    events, supp = ConsentEvent._meta.db_table, Suppression._meta.db_table
    at, account_id = timezone.now(), target.account_id
    payload = "CAST(%s AS jsonb)" if connection.vendor == "postgresql" else "%s"
    if isinstance(target, UnsubscribeList):
        members, kind = UnsubscribeNumber._meta.db_table, Kind.OPT_OUT
        where = (f"m.unsubscribe_list_id = %s AND NOT EXISTS (SELECT 1 FROM {supp} s "  # noqa: S608
                 "WHERE s.account_id = %s AND s.phone = m.phone)")
    else:
        members, kind = Recipient._meta.db_table, Kind.OPT_IN
        where = (f"m.recipient_list_id = %s AND NOT EXISTS (SELECT 1 FROM {events} e "  # noqa: S608
                 "WHERE e.account_id = %s AND e.phone = m.phone)")
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {events} (account_id, phone, kind, source, evidence, actor_id, created_at) "  # noqa: S608
            # No DISTINCT: a list holds a number once (its unique (list, phone)), and sorting a
            # million rows to prove it again took longer than writing them.
            f"SELECT %s, m.phone, %s, %s, {payload}, CAST(%s AS INTEGER), %s FROM {members} m "
            f"WHERE {where}",
            [account_id, kind, source, json.dumps(evidence), getattr(actor, "pk", None), at, target.pk, account_id])
        written = cursor.rowcount
        if kind == Kind.OPT_OUT and written:
            cursor.execute(
                f"INSERT INTO {supp} (account_id, phone, event_id) SELECT e.account_id, e.phone, e.id "  # noqa: S608
                f"FROM {events} e WHERE e.account_id = %s AND e.created_at = %s AND e.kind = %s AND NOT EXISTS "
                f"(SELECT 1 FROM {supp} s WHERE s.account_id = e.account_id AND s.phone = e.phone)",
                [account_id, at, kind])
        if written:
            _webhook_emit(kind, ConsentEvent.objects.filter(account_id=account_id, created_at=at, kind=kind,
                                                           source=source).values_list(
                "account_id", "phone", "source", "created_at").iterator(chunk_size=5000))
    return written


def optout_list_for(account: ProviderAccount, *, create: bool = False) -> UnsubscribeList | None:
    """The unsubscribe list opt-outs are mirrored into: a generic account's configured list, else
    the account policy's; "Opted out (<account>)" is created on first use."""
    generic = getattr(account, "generic", None) if account.kind == ProviderAccount.Kind.GENERIC else None
    holder = generic if generic is not None else sending_policy_for(account, save=create)
    if holder.optout_list_id is None and create:
        holder.optout_list = UnsubscribeList.objects.create(account=account, name=f"Opted out ({account.name})")
        type(holder).objects.filter(pk=holder.pk).update(optout_list=holder.optout_list)
    return holder.optout_list


def _mirror_optouts(account: ProviderAccount, phones: list[str]) -> None:
    if not phones:
        return
    target = optout_list_for(account, create=True)
    present = set(UnsubscribeNumber.objects.filter(unsubscribe_list=target, phone__in=phones).values_list(
        "phone", flat=True))
    new = [UnsubscribeNumber(unsubscribe_list=target, phone=p) for p in phones if p not in present]
    if not new:
        return
    UnsubscribeNumber.objects.bulk_create(new, batch_size=2000)
    if account.kind == ProviderAccount.Kind.MESSAGEWHIZ:
        from .services import _mark_changed  # the one way a local list edit is queued for MessageWhiz

        _mark_changed(target, member_count=F("member_count") + len(new))
    else:
        UnsubscribeList.objects.filter(pk=target.pk).update(member_count=F("member_count") + len(new))


def _mirror_optins(account: ProviderAccount, phones: list[str]) -> None:
    target = optout_list_for(account)
    if target is None:
        return
    removed, _ = UnsubscribeNumber.objects.filter(unsubscribe_list=target, phone__in=phones).delete()
    if not removed:
        return
    if account.kind == ProviderAccount.Kind.MESSAGEWHIZ:
        from .services import _mark_changed

        # Pushed too: a number left on MessageWhiz's copy would come back with the next pull.
        _mark_changed(target, member_count=F("member_count") - removed)
    else:
        UnsubscribeList.objects.filter(pk=target.pk).update(member_count=F("member_count") - removed)


def sending_policy_for(account: ProviderAccount, *, save: bool = False) -> SendingPolicy:
    """The account's policy; if none was saved, the default: settings.SENDING_WINDOW every day, no cap."""
    try:
        saved = account.sending_policy
    except SendingPolicy.DoesNotExist:
        saved = None
    if saved is not None and saved.pk:
        return saved
    start, end = settings.SENDING_WINDOW.split("-")
    if save:
        policy, _ = SendingPolicy.objects.get_or_create(account=account, defaults={
            "window_start": start, "window_end": end})
        return policy
    # By id, not instance: assigning the account would cache this unsaved policy on it.
    return SendingPolicy(account_id=account.pk, window_start=start, window_end=end)


def optout_words_for(account: ProviderAccount) -> str:
    generic = getattr(account, "generic", None) if account.kind == ProviderAccount.Kind.GENERIC else None
    return generic.stop_keywords if generic is not None else sending_policy_for(account).optout_words


def suppressed_phones(*, account_id: int, phones: Iterable[str]) -> set[str]:
    """Which of these numbers the account must not message (erased ones are found by their hash)."""
    phones = list(phones)
    found: set[str] = set()
    for start in range(0, len(phones), 2000):
        found.update(Suppression.objects.filter(account_id=account_id, phone__in=phones[start:start + 2000])
                     .values_list("phone", flat=True))
    if Suppression.objects.filter(account_id=account_id, phone__startswith=ERASED_PREFIX).exists():
        hashes = {erased_hash(p): p for p in phones}
        found.update(hashes[h] for h in Suppression.objects.filter(
            account_id=account_id, phone__in=list(hashes)).values_list("phone", flat=True))
    return found


def suppressed_among(*, account_id: int, limit: int = 200_000):
    """`check(phones) -> set` of the suppressed ones, for a run over many chunks (a broadcast's
    plan): the account's suppressions are read once when there are at most `limit` of them, so a
    chunk costs set lookups instead of a query; more, and each chunk asks `suppressed_phones`."""
    suppressions = Suppression.objects.filter(account_id=account_id)
    if suppressions[:limit + 1].count() > limit:
        return lambda phones: suppressed_phones(account_id=account_id, phones=phones)
    known = set(suppressions.values_list("phone", flat=True))
    erased = any(phone.startswith(ERASED_PREFIX) for phone in known)

    def check(phones) -> set[str]:
        found = {phone for phone in phones if phone in known}
        if erased:
            found.update(phone for phone in phones if erased_hash(phone) in known)
        return found

    return check


def suppressions_rebuild(*, account: ProviderAccount) -> int:
    """Recompute the account's suppression from the ledger (latest event per number wins)."""
    latest = ConsentEvent.objects.filter(account=account, phone=OuterRef("phone")).order_by("-created_at", "-pk")
    heads = ConsentEvent.objects.filter(account=account, pk=Subquery(latest.values("pk")[:1]),
                                        kind=Kind.OPT_OUT).values_list("phone", "pk")
    with transaction.atomic():
        Suppression.objects.filter(account=account).delete()
        Suppression.objects.bulk_create([Suppression(account=account, phone=p, event_id=pk) for p, pk in heads],
                                        batch_size=2000)
    return Suppression.objects.filter(account=account).count()


def consent_history(*, account: ProviderAccount | None = None, phone: str):
    events = ConsentEvent.objects.filter(phone=phone).select_related("account", "actor")
    return events.filter(account=account) if account is not None else events


def consent_export_csv(*, phone: str, account: ProviderAccount | None = None) -> str:
    """Every event of one number, oldest first: when, where and how it consented or opted out."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["time", "account", "number", "kind", "source", "actor", "evidence"])
    for e in consent_history(account=account, phone=phone):
        writer.writerow([e.created_at.isoformat(), e.account.name, e.phone, e.kind, e.source,
                         e.actor.get_username() if e.actor else "", _evidence_text(e.evidence)])
    return out.getvalue()


def _evidence_text(evidence: dict) -> str:
    return "; ".join(f"{key}={value}" for key, value in sorted(evidence.items()))


def erased_hash(phone: str) -> str:
    return ERASED_PREFIX + hashlib.sha256(f"{settings.SECRET_KEY}:{phone}".encode()).hexdigest()


def consent_erase(*, phone: str, actor=None) -> int:
    """GDPR erasure: the number becomes a hash in every ledger row and suppression (evidence that
    could name it, such as an inbound message's text, is dropped); returns the ledger rows rewritten.
    A suppressed number stays suppressed under its hash (`suppressed_phones` checks hashes too):
    erasure must not make a number that said STOP reachable again."""
    hashed = erased_hash(phone)
    with transaction.atomic():
        Suppression.objects.filter(phone=phone).update(phone=hashed)
        return ConsentEvent.objects.filter(phone=phone).update(
            phone=hashed, evidence={"erased": True, "erased_at": timezone.now().isoformat(),
                                    "erased_by": actor.get_username() if actor else ""})
