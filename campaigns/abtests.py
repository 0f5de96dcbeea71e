"""A/B tests on any provider: 2 to 4 variants to random, disjoint samples, then the winner to the rest.

1. **Start** (`abtest_start`, when the tested broadcast is submitted): its audience — its lists
   minus its unsubscribe lists and the account's opt-outs, one row per phone — is put in
   md5(seed || phone) order, a reproducible shuffle. The first `share`% is cut into one equal
   sample per variant, the rest is everyone else. Each part becomes a recipient list (MessageWhiz
   accounts: uploaded like any list; generic accounts: kept here, disabled, never uploaded), and
   each variant a child broadcast (role VARIANT) to its sample, scheduled and sent by the ordinary
   machinery through the one policy check. All in one transaction: a crash leaves the tested
   broadcast scheduled, and the every-minute sweep starts it again.
2. **Decide** (`abtest_decide_due`, beat every minute): a test whose decision time has come is
   locked and still "testing" or it is left alone; the winner (the metric's best rate) gets a
   child broadcast (role WINNER) to the rest list, in the same transaction as the test becomes
   "decided". The database allows one winner child per parent, so running the decision again,
   or twice at once, sends nothing more.
3. **Results** (`abtest_results`): each variant's figures from its child's counters, the winner
   and why, and a two-proportion z-test of the winner against the runner-up.

Rules: each variant gets floor(audience * share / 100 / variants) recipients (at least one, or the
test cannot start); ties go to the earliest variant (A before B); with no data at all variant A
wins. The tested broadcast sends nothing itself and keeps no figures of its own: its page adds up
its children's.
"""

import math
import secrets
from datetime import timedelta

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from messaging.mirror import SyncState
from messaging.models import ProviderAccount
from messaging.sync.push import mirror_changed
from recipients.consent import optout_list_for
from recipients.models import Recipient, RecipientList
from recipients.selectors import recipients_for_send

from .models import AbTest, AbVariant, Broadcast, BroadcastEvent
from .scheduling import broadcast_clone
from .states import broadcast_transition, broadcast_transition_or_raise

S = Broadcast.State
LABELS = "ABCD"
MIN_VARIANTS, MAX_VARIANTS = 2, 4
SIGNIFICANCE = 0.05
COPIED_FIELDS = ("first_name", "last_name", "email", "url", "custom", "custom1", "custom2", "custom3", "custom4",
                 "timezone")


class AbTestProblem(Exception):
    """The test cannot start as it stands; the message says why."""


# --- composing --------------------------------------------------------------------------------------
def abtest_save(broadcast: Broadcast, *, share: int, metric: str, decide_after: timedelta,
                variants: list[dict]) -> AbTest:
    """Make `broadcast` (a draft) an A/B test. Variant A is the broadcast's own text and senders;
    `variants` are B, C, D: {"body", "template", "senders", "sender_lists"} (no senders: A's)."""
    with transaction.atomic():
        test, created = AbTest.objects.update_or_create(
            broadcast=broadcast, defaults={"share": share, "metric": metric, "decide_after": decide_after})
        if created:
            AbTest.objects.filter(pk=test.pk).update(seed=secrets.token_hex(16))
        test.variants.all().delete()
        own = {"body": broadcast.body, "template": broadcast.template, "senders": [], "sender_lists": []}
        for label, content in zip(LABELS, [own, *variants], strict=False):
            variant = AbVariant.objects.create(test=test, label=label, body=content["body"],
                                               template=content["template"])
            variant.senders.set(content["senders"])
            variant.sender_lists.set(content["sender_lists"])
    return test


def abtest_remove(broadcast: Broadcast) -> None:
    """The draft is an ordinary broadcast again."""
    AbTest.objects.filter(broadcast=broadcast, state=AbTest.State.DRAFT).delete()


def abtest_of(broadcast: Broadcast) -> AbTest | None:
    return AbTest.objects.filter(broadcast=broadcast).first()


# --- starting: samples and variant sends -----------------------------------------------------------
def abtest_start(broadcast: Broadcast, *, actor=None) -> list[int]:
    """Split the audience and schedule one child per variant; returns the children to submit
    (the caller queues them on commit). Nothing, if the test has started already."""
    with transaction.atomic():
        test = AbTest.objects.select_for_update().filter(broadcast=broadcast, state=AbTest.State.DRAFT).first()
        if test is None:
            return []
        broadcast_transition_or_raise(broadcast, S.SUBMITTING, actor=actor, reason="Drawing the A/B test's samples")
        variants = list(test.variants.prefetch_related("senders", "sender_lists"))
        sql, params = _audience_sql(broadcast)
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT COUNT(*) FROM ({sql}) AS audience", params)  # noqa: S608
            total = cursor.fetchone()[0]
        size = total * test.share // 100 // len(variants)
        if size < 1:
            reason = (f"Too few recipients for this A/B test: {total} with a test share of {test.share}% leaves "
                      f"fewer than one per variant.")
            broadcast_transition(broadcast, S.FAILED, actor=actor, reason=reason, last_error=reason)
            return []
        children = []
        for index, variant in enumerate(variants):
            variant.sample_list = _part_list(broadcast, test, f"A/B {variant.label} sample", sql, params,
                                             offset=index * size, limit=size)
            variant.broadcast = _child(broadcast, variant, role=Broadcast.Role.VARIANT, recipients=variant.sample_list,
                                       name=f"{broadcast.name} · variant {variant.label}", actor=actor)
            variant.save(update_fields=["sample_list", "broadcast"])
            children.append(variant.broadcast.pk)
        rest = _part_list(broadcast, test, "A/B rest", sql, params, offset=len(variants) * size, limit=None)
        start = max(timezone.now(), broadcast.send_at or timezone.now())
        AbTest.objects.filter(pk=test.pk).update(state=AbTest.State.TESTING, audience=total, rest_list=rest,
                                                 decide_at=start + test.decide_after)
        broadcast_transition_or_raise(
            broadcast, S.SUBMITTED, actor=actor, last_error="",
            reason=f"A/B test: {len(variants)} samples of {size:,} of {total:,} recipients; {rest.recipient_count:,} "
                   f"wait for the winner")
    return children


def _audience_sql(broadcast: Broadcast) -> tuple[str, list]:
    """Who the broadcast reaches, one row per phone with the fields messages are filled from."""
    unsubscribed = list(broadcast.unsubscribe_lists.values_list("pk", flat=True))
    if (optout := optout_list_for(broadcast.account)) is not None:
        unsubscribed.append(optout.pk)
    audience = recipients_for_send(recipient_list_ids=list(broadcast.recipient_lists.values_list("pk", flat=True)),
                                   unsubscribe_list_ids=unsubscribed).values("phone", *COPIED_FIELDS)
    sql, params = audience.query.sql_with_params()
    return sql, list(params)


def _part_list(broadcast: Broadcast, test: AbTest, what: str, sql: str, params: list, *, offset: int,
               limit: int | None) -> RecipientList:
    """A list of one slice of the shuffled audience, in one INSERT … SELECT. MessageWhiz accounts
    upload it (the child broadcast names it); generic accounts only read it here."""
    mirrored = broadcast.account.kind == ProviderAccount.Kind.MESSAGEWHIZ
    columns = {}
    for names in broadcast.recipient_lists.values_list("column_names", flat=True):
        columns.update(names)
    part = RecipientList.objects.create(
        account=broadcast.account, name=f"{broadcast.name} · {what}"[:255], enabled=mirrored, column_names=columns,
        sync_state=SyncState.PENDING if mirrored else SyncState.DISABLED)
    fields = ", ".join(COPIED_FIELDS)
    picked = ", ".join(f"audience.{name}" for name in COPIED_FIELDS)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {Recipient._meta.db_table} (recipient_list_id, phone, {fields}) "  # noqa: S608
            f"SELECT %s, audience.phone, {picked} FROM ({sql}) AS audience "
            "ORDER BY md5(%s || audience.phone), audience.phone LIMIT %s OFFSET %s",
            [part.pk, *params, test.seed, limit if limit is not None else 2**62, offset])
        part.recipient_count = cursor.rowcount
    RecipientList.objects.filter(pk=part.pk).update(recipient_count=part.recipient_count)
    if mirrored:
        mirror_changed(part)  # uploaded once the transaction commits
    return part


def _child(parent: Broadcast, variant: AbVariant, *, role: str, recipients: RecipientList, name: str,
           actor) -> Broadcast:
    """A scheduled base broadcast of the parent's with the variant's content, to `recipients`."""
    child = broadcast_clone(parent, relations=("unsubscribe_lists",), name=name[:255], parent=parent, role=role,
                            type=Broadcast.Type.BASE, body=variant.body, template=variant.template,
                            send_at=parent.send_at if role == Broadcast.Role.VARIANT else None,
                            window_start=parent.window_start, window_end=parent.window_end)
    child.recipient_lists.set([recipients])
    senders, sender_lists = list(variant.senders.all()), list(variant.sender_lists.all())
    if not (senders or sender_lists):
        senders, sender_lists = list(parent.senders.all()), list(parent.sender_lists.all())
    child.senders.set(senders)
    child.sender_lists.set(sender_lists)
    what = "The winner" if role == Broadcast.Role.WINNER else f"Variant {variant.label}"
    broadcast_transition_or_raise(child, S.SCHEDULED, actor=actor,
                                  reason=f"{what} of the A/B test of “{parent}”, to {recipients.recipient_count:,}")
    return child


# --- deciding ----------------------------------------------------------------------------------------
def abtest_decide_due(*, now=None) -> list[int]:
    """Decide every test whose time has come; returns the winner broadcasts to submit."""
    due = AbTest.objects.filter(state=AbTest.State.TESTING, decide_at__lte=now or timezone.now())
    return [pk for test_id in due.values_list("pk", flat=True) for pk in abtest_decide(test_id)]


def abtest_decide(test_id: int) -> list[int]:
    """Choose the winner and schedule its send to the rest, once: [the winner child] or []."""
    with transaction.atomic():
        test = (AbTest.objects.select_for_update(of=("self",)).select_related("broadcast", "rest_list")
                .filter(pk=test_id, state=AbTest.State.TESTING).first())
        if test is None:
            return []
        variants = list(test.variants.select_related("broadcast"))
        decision = decision_for(test.metric, [_counts(test.metric, v) for v in variants])
        winner = next(v for v in variants if v.label == decision["winner"])
        child = None
        if test.rest_list is not None and test.rest_list.recipient_count:
            try:
                with transaction.atomic():
                    child = _child(test.broadcast, winner, role=Broadcast.Role.WINNER, recipients=test.rest_list,
                                   name=f"{test.broadcast.name} · winner ({winner.label})", actor=None)
            except IntegrityError:  # the winner's send exists (broadcast_one_winner): it stays the only one
                AbTest.objects.filter(pk=test.pk).update(state=AbTest.State.DECIDED)
                return []
        else:
            decision["reason"] += " Everyone was in a sample, so the winner has no one left to go to."
        AbTest.objects.filter(pk=test.pk).update(state=AbTest.State.DECIDED, winner=winner, decision=decision,
                                                 decided_at=timezone.now())
    return [child.pk] if child else []


def abtest_stop(test: AbTest, *, actor=None) -> bool:
    """Stop a test before its decision: no winner is chosen or sent (the variants already out stay
    sent). False when the decision came first."""
    with transaction.atomic():
        stopped = AbTest.objects.filter(pk=test.pk, state=AbTest.State.TESTING).update(
            state=AbTest.State.STOPPED, decided_at=timezone.now(),
            decision={"reason": f"Stopped by {actor or 'a user'} before the decision: no winner was sent."})
        if stopped:  # recorded on the tested broadcast's timeline; its state stays as it is
            BroadcastEvent.objects.create(broadcast=test.broadcast, from_state=test.broadcast.state,
                                          to_state=test.broadcast.state, actor=actor,
                                          reason="A/B test stopped before its decision: no winner sent")
    return bool(stopped)


def abtest_complete_finished() -> int:
    """The tested broadcast completes once the winner is chosen and all its sends are final."""
    done = 0
    for test in AbTest.objects.filter(state__in=(AbTest.State.DECIDED, AbTest.State.STOPPED),
                                      broadcast__state=S.SUBMITTED).select_related("broadcast"):
        if not test.broadcast.children.exclude(state__in=(S.COMPLETED, S.FAILED, S.CANCELLED)).exists():
            done += broadcast_transition(test.broadcast, S.COMPLETED, reason="The A/B test's sends are complete")
    return done


def _counts(metric: str, variant: AbVariant) -> dict:
    """(label, successes, trials) of a variant for the metric, from its send's counters."""
    b = variant.broadcast
    sent, delivered = (b.sent, b.delivered) if b else (0, 0)
    trials = {AbTest.Metric.DELIVERY: sent, AbTest.Metric.CTR: delivered or sent,
              AbTest.Metric.CONVERSION: b.recipients_count if b else 0}[metric]
    successes = delivered if metric == AbTest.Metric.DELIVERY else (b.clicks_unique if b else 0)
    return {"label": variant.label, "successes": successes, "trials": trials}


def two_proportion_z_test(x1: int, n1: int, x2: int, n2: int) -> tuple[float, float]:
    """z and the two-sided p-value of H0 "both proportions are equal" (pooled standard error)."""
    if not (n1 and n2):
        return 0.0, 1.0
    pooled = (x1 + x2) / (n1 + n2)
    error = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if error == 0:
        return 0.0, 1.0
    z = (x1 / n1 - x2 / n2) / error
    return z, math.erfc(abs(z) / math.sqrt(2))


def decision_for(metric: str, counts: list[dict]) -> dict:
    """The winner of `counts` (in label order) with the reason and the confidence note."""
    label = AbTest.Metric(metric).label.split(" (")[0].lower()
    measured = [c for c in counts if c["trials"]]
    if not measured:
        return {"winner": counts[0]["label"], "significant": False, "p_value": None, "z": None,
                "reason": f"No variant had any data for the {label} yet: variant {counts[0]['label']} wins by rule.",
                "confidence": "No data to test."}
    # Highest rate; among equal rates the earliest variant (sorted() keeps label order).
    ranked = sorted(measured, key=lambda c: -c["successes"] / c["trials"])
    best = ranked[0]
    rate = 100 * best["successes"] / best["trials"]
    tied = [c["label"] for c in ranked[1:] if c["successes"] * best["trials"] == best["successes"] * c["trials"]]
    if tied:
        reason = (f"Variants {', '.join([best['label'], *tied])} tie on {label} ({rate:.1f}%): the earliest, "
                  f"{best['label']}, wins by rule.")
    else:
        reason = f"Variant {best['label']} has the highest {label}: {rate:.1f}%."
    if len(ranked) < 2:
        return {"winner": best["label"], "significant": False, "p_value": None, "z": None,
                "reason": reason + " The other variants had no data.", "confidence": "Only one variant had data."}
    second = ranked[1]
    z, p = two_proportion_z_test(best["successes"], best["trials"], second["successes"], second["trials"])
    significant = p < SIGNIFICANCE
    confidence = (f"Against variant {second['label']}: z = {z:.2f}, p = {p:.3g} — "
                  f"{'significant' if significant else 'not significant'} at 95%"
                  f"{'' if significant else '; the difference may be chance'}.")
    return {"winner": best["label"], "significant": significant, "p_value": p, "z": z, "reason": reason,
            "confidence": confidence}


# --- results -----------------------------------------------------------------------------------------
def abtest_results(test: AbTest) -> dict:
    """The parent page's A/B panel: a row per variant, the decision (made, or as it stands now)."""
    variants = list(test.variants.select_related("broadcast", "template"))
    rows = []
    for variant in variants:
        b, counts = variant.broadcast, _counts(test.metric, variant)
        rows.append({
            "variant": variant, "broadcast": b, "text": variant.template.body if variant.template else variant.body,
            "sample": variant.sample_list.recipient_count if variant.sample_list else None,
            "sent": b.sent if b else 0, "delivered": b.delivered if b else 0, "clicks": b.clicks_unique if b else 0,
            "rate": round(100 * counts["successes"] / counts["trials"], 1) if counts["trials"] else None,
            "winner": test.winner_id == variant.pk,
        })
    decided = test.state == AbTest.State.DECIDED
    decision = test.decision if test.state in (AbTest.State.DECIDED, AbTest.State.STOPPED) else (
        decision_for(test.metric, [_counts(test.metric, v) for v in variants])
        if test.state == AbTest.State.TESTING else None)
    return {"test": test, "rows": rows, "decision": decision, "decided": decided,
            "winner_send": test.broadcast.children.filter(role=Broadcast.Role.WINNER).first(),
            "rest": test.rest_list.recipient_count if test.rest_list else None,
            "metric": AbTest.Metric(test.metric).label}


ROLLED_UP = ("recipients_count", "sent", "delivered", "undelivered", "expired", "rejected", "failed", "unknown",
             "cost", "clicks_total", "clicks_unique", "held", "capped", "opted_out")


def with_children_figures(broadcast: Broadcast) -> Broadcast:
    """`broadcast` with its children's counters added to its own (in memory only: stored, each
    message counts once, on the broadcast that sent it)."""
    from django.db.models import Sum

    sums = broadcast.children.aggregate(**{name: Sum(name) for name in ROLLED_UP})
    for name, value in sums.items():
        if value:
            setattr(broadcast, name, getattr(broadcast, name) + value)
    return broadcast
