"""Sending a broadcast ourselves, through a generic HTTP provider (messaging.providers.generic).

Submitting fans the broadcast out into one QUEUED Message per recipient (one INSERT … SELECT,
without the numbers on the account's opt-out list) and queues `campaigns.tasks.dispatch_broadcast`.
That task is the broadcast's only sender at a time: it holds `Broadcast.dispatch_lease` under an
owner token (`_Lease`), and every claim, start, renewal and release checks that token, so a worker
that stalled past its lease can neither send nor free the lease of the worker that took over.
It loops (`_Pump`, in the task's thread; HTTP runs on the sender's event loop thread):

1. claim: one conditional UPDATE … RETURNING stamps `submitted_at` on QUEUED messages that have
   none (PostgreSQL: FOR UPDATE SKIP LOCKED). A QUEUED message with a `submitted_at` is *claimed*;
   claimed messages are rendered into requests and wait in this worker's backlog;
2. start: claimed requests are handed to the async sender (`aio.AsyncSender`, gated) as its
   queue runs low (about two small batches ahead), which keeps up to `max_concurrency` requests
   in flight and spaces starts by the rate cap. A request the rate cap and a free connection
   admit asks us for a go: its messages become SENDING in one committed UPDATE (with whatever
   else was admitted meanwhile; less any message a delivery report moved since it was claimed:
   it was sent already), and only then is it written. So only requests on their way to the socket
   or on the wire are SENDING, never those still waiting for the rate cap;
3. record: outcomes are written as they arrive, a batch per loop turn: SUBMITTED (+ provider id),
   FAILED with the provider's answer, UNKNOWN ("no answer after sending"), or back to unclaimed
   QUEUED when the provider certainly did not take it (unreachable, 503, 429) — moving the
   broadcast's counters with F();
4. meanwhile: the lease is renewed, `dispatch_state` is read (pause and cancel stop starting,
   give the backlog back and wait for what is in flight), a provider outage holds sending with a
   growing backoff, probing one request at a time, and pauses the broadcast with the reason
   after `DISPATCH_OUTAGE_SECONDS`. After `DISPATCH_RUN_SECONDS` (and always inside the task's
   time budget, retries included) the task re-queues itself.

At most once, none lost. A message is sent only by the worker holding the lease, after it was
marked SENDING. A worker that dies leaves claimed messages (QUEUED with `submitted_at`: never
sent, so given back and sent by the next worker) and SENDING ones (it may or may not have sent
them). Unless the account says its provider de-duplicates by $$MessageID, the next worker marks
the latter UNKNOWN with `RECONCILE_NOTE` instead of sending them again — a late DLR (matched by our
$$MessageID) still moves them forward. When the provider does de-duplicate, they are resent.
"""

import contextlib
import logging
import queue
import threading
import time
import uuid
from collections import defaultdict, deque
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Exists, F, Q
from django.utils import timezone

from messaging import breaker
from messaging.models import FailoverRoute
from messaging.providers.generic.aio import (
    AMBIGUOUS,
    DEFERRED,
    FAILED,
    READY,
    SENT,
    WITHDRAWN,
    AsyncSender,
    Outcome,
)
from messaging.providers.generic.request import TEMPLATE, Record, RequestTemplate, TemplateError
from messaging.providers.whatsapp.templates import (
    MissingValue,
    header_variable,
    template_object_from_lines,
    values_needed,
)
from recipients.models import Recipient, UnsubscribeNumber
from recipients.phones import phone_country
from recipients.selectors import phones_for_send

from . import costs, policy, rendering, sms, tracking
from .models import Broadcast, BroadcastRoute, Message
from .models.broadcasts import STATUS_RANK
from .selectors import FAILED_COUNTERS, OUTCOMES, failed_total
from .sending import SubmissionProblem, client_ref_sql, messages_lock_parents, rows_insert
from .signals import messages_identified_announce
from .states import broadcast_reopen, broadcast_transition, broadcast_transition_or_raise

logger = logging.getLogger(__name__)

S = Broadcast.State
M = Message.Status
RUNNING, PAUSED, CANCELLED, DONE, LOST = "running", "paused", "cancelled", "done", "lost"
HELD = "held"  # only messages waiting for their recipients' sending window are left
CLAIM = "claim"  # some claimed messages went back: claim again
CHUNK = 2000
START_BATCH = 200  # claimed messages handed to the sender at a time, at most
STATE_CHECK_SECONDS = 0.5
# Outcomes are written at most this often (or when nothing else is outstanding): each write is a
# few statements, and while it runs, admitted requests wait for their go.
RECORD_SECONDS = 0.1
MAX_HOLD_SECONDS = 60.0
RECIPIENT_FIELDS = ("phone", "first_name", "last_name", "email", "url", "custom", "custom1", "custom2", "custom3",
                    "custom4")
AMBIGUOUS_NOTE = "No answer after sending; not resent. Check with the provider whether it was sent."
RECONCILE_NOTE = "Interrupted while sending; not resent. Check with the provider whether it was sent."
OUTAGE_NOTE = "The provider is not taking messages"
BREAKER_NOTE = "Every route's circuit breaker is open"


def lease_seconds() -> int:
    return int(getattr(settings, "DISPATCH_LEASE_SECONDS", 120))


def chunk_size() -> int:
    return int(getattr(settings, "DISPATCH_CHUNK", CHUNK))


def run_seconds() -> float:
    return float(getattr(settings, "DISPATCH_RUN_SECONDS", 240))


def outage_seconds() -> float:
    """How long a provider may take no message before the broadcast is paused."""
    return float(getattr(settings, "DISPATCH_OUTAGE_SECONDS", 120))


# --- submitting --------------------------------------------------------------------------------------
def dispatch_submit(broadcast: Broadcast, *, actor=None) -> None:
    """Fan a generic-provider broadcast out into queued messages and start sending them.
    SubmissionProblem (noted on the broadcast): nothing was queued, fix the broadcast."""
    try:
        _submittable(broadcast)
    except SubmissionProblem as problem:
        Broadcast.objects.filter(pk=broadcast.pk).update(last_error=str(problem))
        raise
    if broadcast.state != S.SUBMITTING:
        broadcast_transition_or_raise(broadcast, S.SUBMITTING, actor=actor, reason="Queuing messages")
    with transaction.atomic():
        count = _messages_create_queued(broadcast)
        broadcast_transition(broadcast, S.SUBMITTED, reason=f"{count} messages queued for {broadcast.account}",
                             recipients_count=count, dispatch_state=RUNNING, last_error="")
    transaction.on_commit(lambda: _enqueue(broadcast.pk))


def _submittable(broadcast: Broadcast) -> None:
    config = getattr(broadcast.account, "generic", None)
    if config is None:
        raise SubmissionProblem("The provider account has no generic configuration.")
    if not broadcast.account.is_active:
        raise SubmissionProblem("The provider account is disabled.")
    if not (broadcast.body or broadcast.template_id or broadcast.whatsapp_template_id):
        raise SubmissionProblem("Write a message or choose a template.")
    if broadcast.type != Broadcast.Type.SINGLE and not broadcast.recipient_lists.exists():
        raise SubmissionProblem("Choose at least one recipient list.")
    if broadcast.type == Broadcast.Type.SINGLE and not broadcast.recipient:
        raise SubmissionProblem("Enter the recipient's number.")
    try:
        RequestTemplate(config)
    except TemplateError as exc:
        raise SubmissionProblem(f"The provider configuration is incomplete: {exc}") from None
    if broadcast.type == Broadcast.Type.SINGLE and config.optout_list_id and UnsubscribeNumber.objects.filter(
            unsubscribe_list_id=config.optout_list_id, phone=broadcast.recipient).exists():
        raise SubmissionProblem("This number has opted out of messages from this account.")
    if config.channel == config.Channel.WHATSAPP:
        _whatsapp_submittable(broadcast)


def _whatsapp_submittable(broadcast: Broadcast) -> None:
    template = broadcast.whatsapp_template
    if template is None or template.account_id != broadcast.account_id:
        raise SubmissionProblem("Choose one of this WhatsApp account's approved templates.")
    needed = values_needed(template)
    lines = len(_body(broadcast).splitlines())
    if lines < needed:
        order = "the header's {{1}} first, then the body's variables" if header_variable(template) else "in order"
        raise SubmissionProblem(f"The template “{template}” takes {needed} values: write one line per value in "
                                f"the message ({order}); it has {lines}.")
    if template.limited_time_offer:
        if broadcast.exp_date is None:
            raise SubmissionProblem(f"“{template}” is a limited-time offer: set when the offer expires (Expires).")
        if broadcast.exp_date <= timezone.now():
            raise SubmissionProblem("The offer has already expired: set a later expiry.")


def _body(broadcast: Broadcast) -> str:
    return broadcast.template.body if broadcast.template else broadcast.body


def _enqueue(broadcast_id: int, countdown: float | None = None) -> None:
    from .tasks import dispatch_broadcast

    dispatch_broadcast.apply_async((broadcast_id,), countdown=countdown)


def _messages_create_queued(broadcast: Broadcast) -> int:
    """One QUEUED message per recipient in one INSERT … SELECT; safe to repeat (unique per phone)."""
    messages_lock_parents(broadcast)
    if Message.objects.filter(broadcast=broadcast).exists():
        return Message.objects.filter(broadcast=broadcast).count()
    if broadcast.type == Broadcast.Type.SINGLE:
        Message.objects.create(account=broadcast.account, broadcast=broadcast, phone=broadcast.recipient,
                               country=phone_country(broadcast.recipient))
        return 1
    unsubscribed = list(broadcast.unsubscribe_lists.values_list("pk", flat=True))
    if broadcast.account.generic.optout_list_id:
        # Whoever replied STOP to this account never hears from it again, whichever lists were picked.
        unsubscribed.append(broadcast.account.generic.optout_list_id)
    phones = phones_for_send(recipient_list_ids=list(broadcast.recipient_lists.values_list("pk", flat=True)),
                             unsubscribe_list_ids=unsubscribed)
    if broadcast.recipient_cap:
        phones = phones[: broadcast.recipient_cap]
    select_sql, params = phones.query.sql_with_params()
    country, joins = costs.CountryMap(select_sql, params).sql("phones")
    rows = (f"SELECT %s, %s, phones.phone, {client_ref_sql()}, '', %s, 0, '', 0, {country} "  # noqa: S608
            f"FROM ({select_sql}) AS phones {joins}")
    return rows_insert(Message._meta.db_table, "account_id, broadcast_id, phone, client_ref, provider_message_id, "
                       "status, status_rank, error, clicks, country", rows,
                       [broadcast.account_id, broadcast.pk, broadcast.pk, M.QUEUED, *params])


# --- pause, resume, cancel ---------------------------------------------------------------------------
def dispatch_pause(broadcast: Broadcast) -> bool:
    return bool(Broadcast.objects.filter(pk=broadcast.pk, dispatch_state=RUNNING).update(dispatch_state=PAUSED))


def dispatch_resume(broadcast: Broadcast) -> bool:
    """Send again; routes whose circuit breaker is open are probed at once, not after their cool-down."""
    resumed = Broadcast.objects.filter(pk=broadcast.pk, state=S.SUBMITTED, dispatch_state=PAUSED).update(
        dispatch_state=RUNNING, last_error="")
    if resumed:
        if breaker.enabled():
            for account in [broadcast.account, *(entry.route for entry in FailoverRoute.objects.filter(
                    account_id=broadcast.account_id).select_related("route"))]:
                breaker.probe_now(account)
        transaction.on_commit(lambda: _enqueue(broadcast.pk))
    return bool(resumed)


def dispatch_cancel(broadcast: Broadcast) -> bool:
    """Stop sending; what was sent stays sent, the rest stays QUEUED and is never sent."""
    cancelled = Broadcast.objects.filter(pk=broadcast.pk, dispatch_state__in=(RUNNING, PAUSED)).update(
        dispatch_state=CANCELLED)
    if cancelled:
        transaction.on_commit(lambda: _enqueue(broadcast.pk))  # the sender finishes it under its lease
    return bool(cancelled)


def dispatch_resend_unknown(broadcast: Broadcast, *, actor=None) -> int:
    """Queue the broadcast's "unknown" messages (no answer after sending, or interrupted while
    sending) to be sent again; returns how many. A recipient whose message did reach the provider
    gets it twice: the page says so and asks first.

    One conditional UPDATE moves each such message back to QUEUED, so a second click (or a second
    tab) finds nothing left to queue; a delivery report that moved a message meanwhile keeps it
    out. A completed broadcast is sending again; a paused one sends them on resume. Recorded in
    the broadcast's events, with who asked."""
    with transaction.atomic():
        row = Broadcast.objects.select_for_update().filter(pk=broadcast.pk).values_list(
            "state", "dispatch_state").first()
        if row is None or row[0] not in (S.SUBMITTED, S.COMPLETED) or row[1] == CANCELLED:
            return 0
        dispatch_state = row[1]
        count = Message.objects.filter(broadcast=broadcast, status=M.UNKNOWN,
                                       error__in=(AMBIGUOUS_NOTE, RECONCILE_NOTE)).update(
            status=M.QUEUED, status_rank=0, status_at=None, submitted_at=None, error="")
        if not count:
            return 0
        running = dispatch_state != PAUSED
        reason = (f"{count} unknown message{'s' if count > 1 else ''} queued to be sent again; any that had "
                  "reached the provider will be received twice")
        broadcast_reopen(broadcast, actor=actor, reason=reason, sent=F("sent") - count,
                         unknown=F("unknown") - count, dispatch_state=RUNNING if running else PAUSED)
    if running:
        transaction.on_commit(lambda: _enqueue(broadcast.pk))
    return count


# --- the sender --------------------------------------------------------------------------------------
def dispatch_run(broadcast_id: int, *, budget: float = 480.0) -> str:
    """Send a slice of the broadcast (see the module docstring) within `budget` seconds, retries and
    the answers still in flight included. Returns what happened, for logs and tests."""
    started = time.monotonic()
    broadcast = Broadcast.objects.select_related("account__generic", "template", "whatsapp_template").get(
        pk=broadcast_id)
    if broadcast.state != S.SUBMITTED or broadcast.dispatch_state not in (RUNNING, CANCELLED):
        return "idle"
    lease = _Lease.take(broadcast_id)
    if lease is None:
        return "busy"
    outcome, countdown = "crashed", None
    try:
        config = broadcast.account.generic
        _reconcile_orphans(broadcast, dedupes=config.dedupes_message_id)
        state = Broadcast.objects.filter(pk=broadcast_id).values_list("dispatch_state", flat=True).get()
        if state == CANCELLED:
            outcome = _finish(broadcast, cancelled=True)
            return outcome
        try:
            template = RequestTemplate(config, dlt=policy.dlt_values(broadcast))
        except TemplateError as exc:
            Broadcast.objects.filter(pk=broadcast_id).update(dispatch_state=PAUSED, last_error=str(exc))
            outcome = PAUSED
            return outcome
        routes = _routes(broadcast, template)
        # No request starts after this: the last answers (a timeout at most) still fit the budget.
        deadline = started + max(1.0, min(run_seconds(), budget - max(r.config.timeout for r in routes)))
        pump = _Pump(broadcast, routes, lease, deadline)
        outcome = pump.run()
        countdown = pump.countdown
        if outcome == "done":
            outcome = _finish(broadcast, cancelled=False)
        elif outcome == CANCELLED:
            outcome = _finish(broadcast, cancelled=True)
        return outcome
    finally:
        if outcome not in ("crashed", LOST):
            lease.release()
        if outcome == "more":
            _enqueue(broadcast_id, countdown)


class _Route:
    """A provider account the broadcast may be sent through: its own, or one of its failover routes."""

    def __init__(self, account, template: RequestTemplate):
        self.account, self.config, self.template = account, account.generic, template

    def __str__(self):
        return str(self.account)


def _routes(broadcast: Broadcast, template: RequestTemplate) -> list[_Route]:
    """The broadcast's account, then (with the breaker on) its failover routes in order: active
    generic SMS accounts whose configuration is complete. WhatsApp broadcasts have none: their
    approved templates belong to their own account."""
    routes = [_Route(broadcast.account, template)]
    if not breaker.enabled() or broadcast.account.generic.channel != broadcast.account.generic.Channel.SMS:
        return routes
    entries = FailoverRoute.objects.filter(account=broadcast.account).select_related("route__generic")
    for entry in entries:
        account = entry.route
        config = getattr(account, "generic", None)
        if not account.is_active or config is None or config.channel != config.Channel.SMS:
            continue
        try:
            routes.append(_Route(account, RequestTemplate(config, dlt=policy.dlt_values(broadcast))))
        except TemplateError as exc:
            logger.warning("Broadcast %s: failover route %r skipped: %s", broadcast.pk, account, exc)
    return routes


class _Lease:
    """The broadcast's sending lease, held under a token of our own."""

    def __init__(self, broadcast_id: int, token: str):
        self.broadcast_id, self.token = broadcast_id, token

    @classmethod
    def take(cls, broadcast_id: int) -> "_Lease | None":
        now, token = timezone.now(), uuid.uuid4().hex
        taken = Broadcast.objects.filter(Q(dispatch_lease__isnull=True) | Q(dispatch_lease__lt=now), pk=broadcast_id
                                         ).update(dispatch_lease=now + timedelta(seconds=lease_seconds()),
                                                  dispatch_owner=token)
        return cls(broadcast_id, token) if taken else None

    def renew(self) -> bool:
        """False when another worker has taken the lease over: this one must stop at once."""
        return bool(Broadcast.objects.filter(pk=self.broadcast_id, dispatch_owner=self.token).update(
            dispatch_lease=timezone.now() + timedelta(seconds=lease_seconds())))

    def release(self) -> None:
        Broadcast.objects.filter(pk=self.broadcast_id, dispatch_owner=self.token).update(dispatch_lease=None,
                                                                                         dispatch_owner="")

    def ours(self) -> bool:
        return Broadcast.objects.filter(pk=self.broadcast_id, dispatch_owner=self.token).exists()

    def held(self) -> Exists:
        """For a statement that must only act while this lease is ours."""
        return Exists(Broadcast.objects.filter(pk=self.broadcast_id, dispatch_owner=self.token))


class _Pump:
    """One run's loop, in the task's thread: claim, start, hand over, record (module docstring)."""

    def __init__(self, broadcast: Broadcast, routes: list[_Route], lease: _Lease, deadline: float):
        self.broadcast_id = broadcast.pk
        self.lease = lease
        config = broadcast.account.generic
        # Link tokens become each message's own Textcast links (campaigns.tracking).
        self.renderer = rendering.compile(_body(broadcast), context=tracking.render_context())
        self.whatsapp = broadcast.whatsapp_template if config.channel == config.Channel.WHATSAPP else None
        self.offer_expires = broadcast.exp_date
        self.list_ids = list(broadcast.recipient_lists.values_list("pk", flat=True))
        self.gate = policy.Gate(broadcast, self.list_ids)  # opt-out, quiet hours, caps
        # A generic account's price table: each message taken is priced by its country and parts.
        self.prices = costs.price_table(broadcast.account)
        self.priced: dict[int, tuple] = {}  # claimed message → (parts, price), written once it is sent
        self.deadline = deadline
        # Provider health (messaging.breaker): the routes in order, the one sent through, whether it
        # admits requests now, and the token of the one probe request while this run holds it.
        self.routes = routes
        self.breaker = breaker.enabled()
        self.allowed = True
        self.probe: str | None = None
        self.next_route_check = 0.0
        self.blocked = False
        self.sender = self.starter = None
        self._use(routes[0])
        self.backlog: deque = deque()  # jobs of claimed messages, built, not started
        self.backlog_messages = 0
        self.claiming = True
        self.in_flight = 0  # messages handed to the sender, outcome not recorded yet
        self.stop: str | None = None
        self.countdown: float | None = None  # "more": when the next run should start
        self.next_renew = self.next_check = 0.0
        self.answered: list = []  # outcomes not written yet
        self.recorded_at = 0.0
        self.identified: list[int] = []  # messages that learned the provider's id since the last _apply_pending
        self.applied_at = 0.0
        # A provider that takes nothing: since when, why, when to try again; whether the broadcast
        # may carry a note saying so (a previous run may have left one).
        self.outage_since: float | None = None
        self.outage_reason = ""
        self.hold_until = 0.0
        self.backoff = 1.0
        self.noted = True

    def _use(self, route: _Route) -> None:
        """Send through `route` from now on (nothing of the previous one is in flight)."""
        self._close()
        self.route, self.template = route, route.template
        config, rate = route.config, route.config.rate_limit
        # A claim is at most ~10 s of sending at the rate cap.
        self.claim_size = max(1, min(chunk_size(), rate * 10 if rate else chunk_size()))
        if self.template.batch:
            self.claim_size = max(self.claim_size, self.template.batch_size)
        # Small batches ahead of the wire keep pause and cancel prompt (what is handed over is sent
        # unless a halt withdraws it at its go); under a rate cap, a fifth of a second's worth.
        self.start_batch = max(1, min(START_BATCH, config.max_concurrency // 2, rate // 5 if rate else START_BATCH))
        # Without a rate cap the sender holds a whole claim: this thread then feeds it a few times per
        # claim instead of every turn, and what it holds unstarted is taken back (_take_back) on a
        # pause, a cancel, a lost lease, an outage or a route switch, so none of it is sent then.
        self.ahead = 2 * self.start_batch if rate else max(2 * self.start_batch, self.claim_size)
        # PostgreSQL: admitted requests get their go from a thread of their own (_Starter), so they
        # never wait for this thread's claims, rendering and records. SQLite: from this thread
        # (a second writer there would only queue for the same lock); so too inside a transaction,
        # whose rows another connection could not see.
        threaded = connection.vendor == "postgresql" and not connection.in_atomic_block
        ready = queue.SimpleQueue() if threaded else None
        self.sender = AsyncSender(config, deadline=self.deadline, gated=True, ready=ready)
        if ready is not None:
            self.starter = _Starter(ready, self.sender, self.lease, route.account.pk,
                                    halted=lambda: self.stop is not None)
        self.fed = 0  # messages handed to this sender (compared with its own count of departures)
        self.attempts = self.sender.max_attempts
        # A new provider: no backoff for the previous one's answers (the broadcast's outage, if any,
        # lasts until a provider takes a message: it probes the new one a request at a time).
        self.hold_until, self.backoff = 0.0, 1.0

    def _route_check(self) -> None:
        """Follow the breakers (at most every breaker.CHECK_SECONDS): send through the first route
        whose breaker is closed, or take the single probe of the first one whose cool-down is over;
        when none admits a request, the messages wait (never failed) for the first cool-down to end.
        A switch waits for the requests in flight, and gives the backlog (rendered for the old
        route's request template) back to be claimed again."""
        now = time.monotonic()
        if not self.breaker or self.probe is not None or now < self.next_route_check:
            return
        self.next_route_check = now + breaker.CHECK_SECONDS
        target, action = None, breaker.WAIT
        for route in self.routes:
            action = breaker.route_state(route.account)
            if action != breaker.WAIT:
                target = route
                break
        self.allowed = False
        if target is None:
            self._give_back()
            self._block(now)
            return
        if self.blocked:
            self.blocked = False
            Broadcast.objects.filter(pk=self.broadcast_id, last_error__startswith=BREAKER_NOTE).update(last_error="")
        if target is not self.route:
            self._give_back()
            if self.in_flight:
                return  # the old route's answers first
            logger.info("Broadcast %s: sending through %s instead of %s (circuit breaker)", self.broadcast_id,
                        target, self.route)
            self._use(target)
        if action == breaker.PROBE:
            if self.in_flight:
                return
            self.probe = breaker.probe_take(target.account)
            if self.probe is None:
                return  # someone else probes it, or it closed meanwhile: look again at the next check
            self.sender.max_attempts = 1  # exactly one request decides
        self.allowed = True

    def _give_back(self) -> None:
        self._take_back()
        self._unclaim([pk for key, _, _ in self.backlog for pk in _pks(key)])
        self.backlog.clear()
        self.backlog_messages = 0
        self.claiming = True

    def _block(self, now: float) -> None:
        """No route admits a request: the messages wait for the first cool-down to end (the run ends
        and queues the next one for then, if that is after its deadline). This is an outage like
        any other: after DISPATCH_OUTAGE_SECONDS without a message taken, the broadcast pauses."""
        wait = min(breaker.wait_seconds(route.account) for route in self.routes)
        self.hold_until = max(self.hold_until, now + max(breaker.CHECK_SECONDS, wait))
        if self.outage_since is None:
            self.outage_since, self.outage_reason = now, "the circuit breaker of every route is open"
        if not self.blocked:
            self.blocked = True
            names = ", ".join(str(route) for route in self.routes)
            Broadcast.objects.filter(pk=self.broadcast_id).update(
                last_error=f"{BREAKER_NOTE} ({names}): the messages wait and go when one recovers.")

    def run(self) -> str:
        try:
            while True:
                if self.stop is None and (stop := self._stop_reason()) is not None:
                    self._halt(stop)
                if self.stop is None:
                    self._route_check()
                    self._claim()
                    # Rendering a claim takes a while: admitted requests waiting for their go first.
                    self._take(self.sender.collect(timeout=0))
                    self._feed()
                if not self.in_flight and (self.stop is not None or not (self.backlog or self.claiming)):
                    self._apply_pending()
                    return self.stop or self._held() or "done"
                self._take(self.sender.collect(timeout=self._idle_seconds()))
        finally:
            self._close()

    def _close(self) -> None:
        if self.sender is not None:
            self.sender.close()
        if self.starter is not None:
            self.starter.close()
        self.sender = self.starter = None

    def _held(self) -> str | None:
        """Everything else sent, some messages wait for their recipients' window: the broadcast
        stays sending, and the every-minute sweep (dispatch_stalled_ids) wakes it; the first run
        after the opening claims them. No countdown task: a run of held messages left early would
        only re-queue itself."""
        return HELD if policy.holds_messages(self.broadcast_id) else None

    def _apply_pending(self, *, unless_within: float = 0.0) -> None:
        """A DLR that arrived before we knew the provider's id was kept pending: apply it now (at
        most once a second: each call costs a few queries, and such reports are rare)."""
        now = time.monotonic()
        if self.identified and now - self.applied_at >= unless_within:
            messages_identified_announce(message_ids=self.identified)
            self.identified, self.applied_at = [], now

    def _stop_reason(self) -> str | None:
        now = time.monotonic()
        if now >= self.next_renew:
            self.next_renew = now + lease_seconds() / 4
            if not self.lease.renew():
                logger.warning("Broadcast %s: another worker took the sending lease over; stopping", self.broadcast_id)
                return LOST
        if now >= self.next_check:
            self.next_check = now + STATE_CHECK_SECONDS
            state = Broadcast.objects.filter(pk=self.broadcast_id).values_list("dispatch_state", flat=True).get()
            if state != RUNNING:
                return state
        if self.outage_since is not None and now - self.outage_since >= outage_seconds():
            self._pause_for_outage(now)
            return PAUSED
        if now >= self.deadline:
            return "more"
        if self.hold_until > self.deadline:
            self.countdown = self.hold_until - now
            return "more"
        return None

    def _halt(self, stop: str) -> None:
        """Start nothing more: the backlog goes back unclaimed, retries give their messages back."""
        self.stop = stop
        self.sender.stop_retrying()
        self._take_back()
        self._unclaim([pk for key, _, _ in self.backlog for pk in _pks(key)])
        self.backlog.clear()
        self.backlog_messages = 0

    def _take_back(self) -> None:
        """The jobs the sender has not started go back to the front of the backlog."""
        jobs = self.sender.take_back()
        if jobs:
            count = sum(size for _, _, size in jobs)
            self.backlog.extendleft(reversed(jobs))
            self.backlog_messages += count
            self.fed -= count
            self.in_flight -= count

    def _claim(self) -> None:
        waiting = self.backlog_messages + self.fed - self.sender.departed  # claimed, not started
        if not self.allowed or not self.claiming or waiting > max(self.claim_size // 2, self.ahead) or \
                time.monotonic() < self.hold_until:
            return
        # Pause and cancel stop the next claim at once, not only at the next check.
        if Broadcast.objects.filter(pk=self.broadcast_id).values_list("dispatch_state", flat=True).get() != RUNNING:
            return
        # The first claim of a run is what fills the connections once: sending starts without
        # waiting for a whole claim to be rendered; the next ones are rendered while it goes out.
        size = self.claim_size if self.fed else min(self.claim_size, max(2 * self.start_batch,
                                                                         self.route.config.max_concurrency))
        rows = _claim(self.broadcast_id, size, self.lease)
        if not rows:
            self.claiming = False
            return
        rows = self.gate.admit(rows)
        parts = {} if self.prices is not None else None
        jobs, refused = _jobs(rows, self.template, self.renderer, self.list_ids, self.whatsapp, self.offer_expires,
                              parts=parts)
        if parts:
            for pk, phone, _ in rows:
                if pk in parts:
                    self.priced[pk] = (parts[pk], self.prices.price(phone_country(phone), parts[pk]))
        if refused:
            _record(self.broadcast_id, refused)
        self.backlog.extend(jobs)
        self.backlog_messages += sum(size for _, _, size in jobs)

    def _feed(self) -> None:
        """Once a batch's worth of the sender's queue is free, top it up to two batches, in one
        statement (one request at a time while probing a provider that took nothing)."""
        if not self.allowed or not self.backlog or time.monotonic() < self.hold_until:
            return
        probing = self.outage_since is not None or self.probe is not None
        batch_size = 1 if probing else self.start_batch
        room = (2 if probing else self.ahead) - (self.fed - self.sender.departed)
        if room < batch_size or (probing and self.in_flight):
            return
        batch, count = [], 0
        while self.backlog and count < (1 if probing else room):
            job = self.backlog.popleft()
            batch.append(job)
            count += job[2]
        self.backlog_messages -= count
        self.sender.feed(batch)
        self.fed += count
        self.in_flight += count

    def _take(self, outcomes: list) -> None:
        """Give the admitted requests their go first, then record what came back (batched)."""
        if self.starter is not None:
            self.starter.events_apply(self._on)  # before the WITHDRAWN outcomes that follow them
        ready = [key for key, outcome in outcomes if outcome.kind == READY]
        if ready:
            _give_go(ready, self.sender, self.lease, self.route.account.pk, halted=self.stop is not None,
                     on_event=self._on)
        withdrawn = [key for key, outcome in outcomes if outcome.kind == WITHDRAWN]
        self.in_flight -= sum(len(_pks(key)) for key in withdrawn)
        self.answered += [(key, outcome) for key, outcome in outcomes if outcome.kind not in (READY, WITHDRAWN)]
        now = time.monotonic()
        if self.answered and (now - self.recorded_at >= RECORD_SECONDS or len(self.answered) >= self.in_flight):
            answered, self.answered, self.recorded_at = self.answered, [], now
            self._record(answered)

    def _on(self, event) -> None:
        """What giving requests their go asks of this run (_give_go)."""
        if isinstance(event, BaseException):
            raise event
        if event == LOST:
            self._halt(LOST)  # nothing was marked; the new holder reconciles the claims
        elif event == CLAIM:
            self.claiming = True

    def _unclaim(self, pks: list[int]) -> None:
        _unclaim(pks, self.lease)

    def _idle_seconds(self) -> float:
        """How long to wait for outcomes: a moment while there is work to hand over, else until the
        hold ends or the next check."""
        now = time.monotonic()
        if self.answered:
            return max(0.0, self.recorded_at + RECORD_SECONDS - now)
        if self.stop is None and self.backlog:
            return 0.02 if now >= self.hold_until else min(STATE_CHECK_SECONDS, self.hold_until - now)
        return STATE_CHECK_SECONDS

    def _record(self, outcomes: list) -> None:
        if not outcomes:
            return
        self.in_flight -= sum(len(_pks(key)) for key, _ in outcomes)
        if self.breaker:
            outcomes = self._book(outcomes)
        self.identified += _record(self.broadcast_id, outcomes, account_id=self.route.account.pk if self.breaker
                                   else None)
        if self.priced:
            sent = [pk for key, outcome in outcomes for pk in _pks(key) if outcome.kind == SENT]
            costs.sent_prices_record(broadcast_id=self.broadcast_id, priced=self.priced, pks=sent)
            for key, _ in outcomes:
                for pk in _pks(key):
                    self.priced.pop(pk, None)
        self._apply_pending(unless_within=1.0)
        now = time.monotonic()
        if self.stop is not None or now >= self.deadline:
            return  # what is given back now waits for the next run, not for the provider
        deferred = [outcome for _, outcome in outcomes if outcome.kind == DEFERRED]
        if deferred:
            self._take_back()  # not sent into the outage: they wait for the hold (and a probe) to end
            self.claiming = True  # the given-back messages are claimed again after the hold
            wait = max(self.backoff, *(min(o.retry_after or 0, 3600) for o in deferred))
            self.hold_until = max(self.hold_until, now + wait)
            self.backoff = min(self.backoff * 2, MAX_HOLD_SECONDS)
            if self.outage_since is None and len(deferred) == len(outcomes):
                self.outage_since, self.outage_reason = now, deferred[-1].error[:500]
                Broadcast.objects.filter(pk=self.broadcast_id).update(
                    last_error=f"{OUTAGE_NOTE} ({self.outage_reason}); retrying.")
                self.noted = True
        else:
            if self.noted:  # this run's note, or one a run that handed over during an outage left
                Broadcast.objects.filter(pk=self.broadcast_id, last_error__startswith=OUTAGE_NOTE).update(
                    last_error="")
            self.outage_since, self.backoff, self.noted = None, 1.0, False

    def _book(self, outcomes: list) -> list:
        """Tell the route's breaker what its requests met. When it is (or just went) open, the
        messages its failing answers failed go back to be sent through another route instead."""
        state = breaker.record(self.route.account, [(o.requests, o.errors, o.latency_ms) for _, o in outcomes],
                               probe=self.probe)
        if self.probe is not None:
            self.probe, self.sender.max_attempts, self.next_route_check = None, self.attempts, 0.0
        if state == breaker.CLOSED:
            return outcomes
        self.next_route_check = 0.0
        return [(key, Outcome(DEFERRED, error=o.error) if o.kind == FAILED and o.unhealthy else o)
                for key, o in outcomes]

    def _pause_for_outage(self, now: float) -> None:
        minutes = max(1, round((now - self.outage_since) / 60))
        reason = (f"Paused: the provider has taken no message for {minutes} minute{'s' if minutes > 1 else ''} "
                  f"({self.outage_reason}). None was marked failed: resume when the provider is back.")
        Broadcast.objects.filter(pk=self.broadcast_id, dispatch_state=RUNNING).update(dispatch_state=PAUSED,
                                                                                      last_error=reason)


def _pks(key) -> tuple:
    return key if isinstance(key, tuple) else (key,)


def _unclaim(pks: list[int], lease: _Lease) -> None:
    for chunk in _chunks(pks, 5000):
        Message.objects.filter(pk__in=chunk, status=M.QUEUED).filter(lease.held()).update(submitted_at=None)


def _give_go(keys: list, sender: AsyncSender, lease: _Lease, account_id: int, *, halted: bool, on_event) -> None:
    """Mark the messages of admitted requests SENDING, then let those go out. What the run must
    do about it goes to `on_event` (LOST, CLAIM) before the refused requests come back WITHDRAWN,
    so a run that sees nothing left in flight has heard it already."""
    pks = [pk for key in keys for pk in _pks(key)]
    if halted:  # unclaimed like the backlog
        _unclaim(pks, lease)
        sender.admit(keys, go=False)
        return
    started = _start(pks, lease, account_id)
    if not started and not lease.ours():
        on_event(LOST)
        sender.admit(keys, go=False)
        return
    # A delivery report may have moved a claimed message meanwhile (with a deduplicating
    # provider, the late report of a send that reconciliation queued again): it reached the
    # provider, so it is not sent again, and the rest of its batch request goes back to be
    # claimed without it. A pause or cancel refuses them all: they go back unclaimed.
    go, refused, back = [], [], []
    for key in keys:
        pks = _pks(key)
        if started.issuperset(pks):
            go.append(key)
        else:
            refused.append(key)
            back += pks
    sender.admit(go, go=True)
    if refused:
        Message.objects.filter(pk__in=back, status__in=(M.SENDING, M.QUEUED)).filter(lease.held()).update(
            status=M.QUEUED, submitted_at=None)
        on_event(CLAIM)
        sender.admit(refused, go=False)


class _Starter:
    """PostgreSQL: a thread, with its own database connection, that gives admitted requests their
    go (_give_go) as soon as the sender asks, in one statement for all that asked meanwhile. What
    the run must hear is queued for it (`events_apply`), an error included: the requests it was
    for are withdrawn, and the run raises it."""

    _STOP = object()

    def __init__(self, ready: queue.SimpleQueue, sender: AsyncSender, lease: _Lease, account_id: int, *, halted):
        self.ready, self.sender, self.lease, self.account_id, self.halted = ready, sender, lease, account_id, halted
        self.events: queue.SimpleQueue = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._run, name="dispatch-start", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            stopping = False
            while not stopping:
                keys = []
                item = self.ready.get()
                while True:
                    if item is self._STOP:
                        stopping = True
                    else:
                        keys.append(item[0])
                    try:
                        item = self.ready.get_nowait()
                    except queue.Empty:
                        break
                if keys:
                    try:
                        _give_go(keys, self.sender, self.lease, self.account_id, halted=self.halted(),
                                 on_event=self.events.put)
                    except Exception as exc:
                        self.events.put(exc)
                        with contextlib.suppress(RuntimeError):  # the sender's loop may be closed already
                            self.sender.admit(keys, go=False)
        finally:
            connection.close()  # this thread's own

    def events_apply(self, handle) -> None:
        while True:
            try:
                event = self.events.get_nowait()
            except queue.Empty:
                return
            handle(event)

    def close(self) -> None:
        self.ready.put(self._STOP)
        self.thread.join(timeout=30)


def _claim(broadcast_id: int, size: int, lease: _Lease) -> list[tuple[int, str, str]]:
    """Stamp up to `size` unclaimed QUEUED messages as claimed (only while `lease` is ours);
    returns (pk, phone, client_ref)."""
    table, broadcasts = Message._meta.db_table, Broadcast._meta.db_table
    lock = "FOR UPDATE SKIP LOCKED" if connection.vendor == "postgresql" else ""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET submitted_at = %s WHERE id IN ("  # noqa: S608
            f"SELECT id FROM {table} WHERE broadcast_id = %s AND status = %s AND submitted_at IS NULL "
            "AND (not_before IS NULL OR not_before <= %s) "
            f"AND EXISTS (SELECT 1 FROM {broadcasts} WHERE id = %s AND dispatch_owner = %s) "
            f"ORDER BY phone LIMIT %s {lock}) RETURNING id, phone, client_ref",
            [timezone.now(), broadcast_id, M.QUEUED, policy.now(), broadcast_id, lease.token, size],
        )
        rows = cursor.fetchall()
    rows.sort()
    return [(pk, phone, str(uuid.UUID(str(ref)))) for pk, phone, ref in rows]


def _start(pks: list[int], lease: _Lease, account_id: int) -> set[int]:
    """Mark claimed messages SENDING through `account_id` (the route that carries them; only while
    `lease` is ours and the broadcast runs: a pause or cancel refuses the very next go); returns
    those marked: a delivery report may have moved some of them since they were claimed."""
    table, broadcasts = Message._meta.db_table, Broadcast._meta.db_table
    # PostgreSQL: one array parameter, so the statement text (and its plan) is the same for any
    # batch; this runs for every request's go, while admitted requests wait.
    ids, params = ("= ANY(%s)", [list(pks)]) if connection.vendor == "postgresql" else (
        f"IN ({', '.join(['%s'] * len(pks))})", pks)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET status = %s, account_id = %s WHERE id {ids} AND status = %s "  # noqa: S608
            f"AND EXISTS (SELECT 1 FROM {broadcasts} WHERE id = %s AND dispatch_owner = %s AND dispatch_state = %s) "
            "RETURNING id",
            [M.SENDING, account_id, *params, M.QUEUED, lease.broadcast_id, lease.token, RUNNING],
        )
        return {pk for (pk,) in cursor.fetchall()}


def _jobs(rows, template: RequestTemplate, renderer, list_ids: list[int], whatsapp=None, offer_expires=None, *,
          parts: dict | None = None):
    """The requests for claimed rows, and FAILED outcomes for messages that cannot be sent as they stand;
    `parts`, when given, gets each message's SMS parts (a WhatsApp message is one)."""
    if renderer.static_text is not None:
        text = renderer.static_text
        records = [(pk, Record(phone, text, ref)) for pk, phone, ref in rows]
    else:
        fields = _recipient_fields([phone for _, phone, _ in rows], list_ids)
        records = [(pk, Record(phone, renderer({**(fields.get(phone) or {"phone": phone}), tracking.MESSAGE_KEY: pk}),
                                ref)) for pk, phone, ref in rows]
    if parts is not None:
        if whatsapp is not None:
            parts.update((pk, 1) for pk, _ in records)
        elif renderer.static_text is not None:
            n = sms.count_parts(renderer.static_text)
            parts.update((pk, n) for pk, _ in records)
        else:
            parts.update((pk, sms.count_parts(record.body)) for pk, record in records)
    if whatsapp is not None:
        jobs, refused = [], []
        for pk, record in records:
            try:
                payload = template_object_from_lines(whatsapp, record.body.splitlines(), offer_expires=offer_expires)
            except MissingValue as exc:
                refused.append((pk, Outcome(FAILED, error=f"Not sent: {exc}")))
                continue
            jobs.append((pk, template.single(record, objects={TEMPLATE: payload}), 1))
        return jobs, refused
    if not template.batch:
        return [(pk, template.single(record), 1) for pk, record in records], []
    jobs = []
    for start in range(0, len(records), template.batch_size):
        group = records[start:start + template.batch_size]
        jobs.append((tuple(pk for pk, _ in group), template.batch_request([r for _, r in group]), len(group)))
    return jobs, []


def _recipient_fields(phones: list[str], list_ids: list[int]) -> dict[str, dict]:
    found: dict[str, dict] = {}
    for row in Recipient.objects.filter(recipient_list_id__in=list_ids, phone__in=phones).order_by(
            "recipient_list_id").values(*RECIPIENT_FIELDS):
        found.setdefault(row["phone"], row)
    return found


def _record(broadcast_id: int, outcomes: list, *, account_id: int | None = None) -> list[int]:
    """Write outcomes and move the broadcast's counters (and `account_id`'s count of the messages
    it carried, when given), in one transaction; returns the messages that learned the provider's id.

    Only rows still at rank 0 change: a DLR that beat us to a message already moved it (and
    counted it as sent), and counting it again would break the counters.
    """
    sent, provider_ids, ambiguous, deferred = [], {}, [], []
    failed: dict[str, list[int]] = defaultdict(list)
    for key, outcome in outcomes:
        pks = _pks(key)
        if outcome.kind == SENT:
            sent.extend(pks)
            if outcome.result.provider_message_id and len(pks) == 1:
                provider_ids[pks[0]] = outcome.result.provider_message_id
        elif outcome.kind == FAILED:
            failed[outcome.error[:2000]].extend(pks)
        elif outcome.kind == AMBIGUOUS:
            ambiguous.extend(pks)
        elif outcome.kind == DEFERRED:
            deferred.extend(pks)
    now = timezone.now()
    counts = {"sent": 0, "failed": 0, "unknown": 0}
    with transaction.atomic():
        todo = Message.objects.filter(status_rank=0)
        # PostgreSQL takes them all in one statement of two arrays; SQLite, VALUES of 500 rows.
        for chunk in _chunks(sorted(provider_ids.items()),
                             max(1, len(provider_ids)) if connection.vendor == "postgresql" else 500):
            counts["sent"] += _mark_sent_with_ids(chunk, now)
        plain = [pk for pk in sent if pk not in provider_ids]
        for chunk in _chunks(plain, 5000):
            counts["sent"] += todo.filter(pk__in=chunk).update(
                status=M.SUBMITTED, status_rank=STATUS_RANK[M.SUBMITTED], submitted_at=now)
        for error, pks in failed.items():
            for chunk in _chunks(pks, 5000):
                n = todo.filter(pk__in=chunk).update(status=M.FAILED, status_rank=STATUS_RANK[M.FAILED],
                                                     status_at=now, error=error)
                counts["sent"] += n
                counts["failed"] += n
        for chunk in _chunks(ambiguous, 5000):
            n = todo.filter(pk__in=chunk).update(status=M.UNKNOWN, status_rank=STATUS_RANK[M.UNKNOWN],
                                                 status_at=now, error=AMBIGUOUS_NOTE)
            counts["sent"] += n
            counts["unknown"] += n
        for chunk in _chunks(deferred, 5000):
            # The provider did not take them (or they never left: out of time before their go):
            # back to unclaimed, sent again later.
            todo.filter(pk__in=chunk, status__in=(M.SENDING, M.QUEUED)).update(status=M.QUEUED, submitted_at=None)
        _count(broadcast_id, counts)
        if account_id is not None:
            _route_count(broadcast_id, {account_id: counts["sent"]})
    return list(provider_ids)


def _mark_sent_with_ids(rows: list[tuple[int, str]], now) -> int:
    """SUBMITTED + the provider's id for each row still at rank 0, in one UPDATE … FROM unnest(…)
    (PostgreSQL) or FROM (VALUES …) (SQLite ≥ 3.33): a CASE with a branch per row costs far more
    to build and plan.
    No WITH clause: Python's sqlite3 reports no rowcount for statements that do not start with UPDATE."""
    table = Message._meta.db_table
    if connection.vendor == "postgresql":
        # Two array parameters whatever the batch: no statement text (nor plan) per row count.
        source, row_id, pid = "unnest(%s::bigint[], %s::text[]) AS v (id, pid)", "v.id", "v.pid"
        values = [[pk for pk, _ in rows], [provider_id for _, provider_id in rows]]
    else:
        source = f"(VALUES {', '.join(['(CAST(%s AS BIGINT), %s)'] * len(rows))}) AS v"
        row_id, pid, values = "v.column1", "v.column2", [x for row in rows for x in row]
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET status = %s, status_rank = %s, submitted_at = %s, provider_message_id = {pid} "  # noqa: S608
            f"FROM {source} WHERE {table}.id = {row_id} AND {table}.status_rank = 0",
            [M.SUBMITTED, STATUS_RANK[M.SUBMITTED], now, *values],
        )
        return cursor.rowcount


def _count(broadcast_id: int, counts: dict) -> None:
    changes = {name: F(name) + n for name, n in counts.items() if n}
    if changes:
        Broadcast.objects.filter(pk=broadcast_id).update(**changes)


def _route_count(broadcast_id: int, carried: dict[int, int]) -> None:
    """Add to the messages each route carried (BroadcastRoute, shown on the broadcast page)."""
    for account_id, n in carried.items():
        if n and not BroadcastRoute.objects.filter(broadcast_id=broadcast_id, account_id=account_id).update(
                sent=F("sent") + n):
            BroadcastRoute.objects.create(broadcast_id=broadcast_id, account_id=account_id, sent=n)


def _chunks(items, size: int = 500):
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _reconcile_orphans(broadcast: Broadcast, *, dedupes: bool) -> int:
    """What a worker that died left (we hold the lease, so no live worker owns it): claims it
    never started go back to be sent; messages it started may have reached the provider."""
    messages = Message.objects.filter(broadcast=broadcast)
    messages.filter(status=M.QUEUED, submitted_at__isnull=False).update(submitted_at=None)
    started = messages.filter(status=M.SENDING)
    with transaction.atomic():
        if dedupes:
            return started.update(status=M.QUEUED, submitted_at=None)
        carried = dict(started.order_by().values_list("account_id").annotate(n=Count("pk")))
        n = started.update(status=M.UNKNOWN, status_rank=STATUS_RANK[M.UNKNOWN], status_at=timezone.now(),
                           error=RECONCILE_NOTE)
        _count(broadcast.pk, {"sent": n, "unknown": n})
        if breaker.enabled():
            _route_count(broadcast.pk, carried)
    if n:
        logger.warning("Broadcast %s: %d messages interrupted mid-send marked for reconciliation", broadcast.pk, n)
    return n


def _finish(broadcast: Broadcast, *, cancelled: bool) -> str:
    left = Message.objects.filter(broadcast=broadcast, status=M.QUEUED).count()
    if not cancelled and broadcast.account.generic.has_dlr and _awaiting_reports(broadcast.pk):
        # Sent, not finished: it completes when the last report arrives (dispatch_reports_settle)
        # or when they are overdue (dispatch_reports_overdue).
        Broadcast.objects.filter(pk=broadcast.pk).update(dispatch_state=DONE)
        return "done"
    reason = f"Cancelled; {left} messages not sent" if cancelled else "All messages handed to the provider"
    broadcast_transition(broadcast, S.COMPLETED, reason=reason, dispatch_state=CANCELLED if cancelled else DONE)
    return CANCELLED if cancelled else "done"


def _awaiting_reports(broadcast_id: int) -> int:
    """Messages the provider took whose final report has not come (from the counters: one row)."""
    b = Broadcast.objects.filter(pk=broadcast_id).values("sent", *OUTCOMES).get()
    return max(0, b["sent"] - sum(b[name] for name in OUTCOMES))


def report_wait_seconds() -> float:
    """How long after sending a broadcast waits for its delivery reports before it completes without them."""
    return float(getattr(settings, "DISPATCH_REPORT_WAIT_SECONDS", 48 * 3600))


def dispatch_reports_settle(broadcast_ids) -> None:
    """Complete the sent generic-provider broadcasts among these whose last report has arrived
    (callbacks.services calls it after applying reports, inside its transaction, in id order)."""
    waiting = Broadcast.objects.filter(pk__in=list(broadcast_ids), state=S.SUBMITTED, dispatch_state=DONE)
    for broadcast in waiting.order_by("pk"):
        if not _awaiting_reports(broadcast.pk):
            broadcast_transition(broadcast, S.COMPLETED, reason="All messages sent; every delivery report arrived")


def dispatch_reports_overdue() -> int:
    """Complete the sent broadcasts that waited longer than report_wait_seconds(), saying how
    many reports never came (the overview's "Needs attention" lists them)."""
    since = timezone.now() - timedelta(seconds=report_wait_seconds())
    done = 0
    for broadcast in Broadcast.objects.filter(state=S.SUBMITTED, dispatch_state=DONE, submitted_at__lt=since):
        missing = _awaiting_reports(broadcast.pk)
        note = f"{missing} delivery report{'s' if missing != 1 else ''} never arrived" if missing else ""
        done += broadcast_transition(broadcast, S.COMPLETED, reason=f"All messages sent; {note or 'reports in'}",
                                     **({"last_error": f"Completed without reports: {note}."} if missing else {}))
    return done


def dispatch_stalled_ids() -> list[int]:
    """Broadcasts that should be sending but have no live sender: its worker died (the lease ran
    out) or its task was lost. The sweep re-queues them; the new sender reconciles first."""
    return list(Broadcast.objects.filter(state=S.SUBMITTED, dispatch_state__in=(RUNNING, CANCELLED))
                .filter(Q(dispatch_lease__isnull=True) | Q(dispatch_lease__lt=timezone.now()))
                .values_list("pk", flat=True))


def dispatch_progress(broadcast: Broadcast) -> dict:
    """What the sending page shows (from the pre-aggregated counters)."""
    b = Broadcast.objects.filter(pk=broadcast.pk).values(
        "recipients_count", "sent", "unknown", "delivered", "dispatch_state", "last_error", "held", "capped",
        "opted_out", *FAILED_COUNTERS).get()
    b["failed"] = failed_total(b)
    b["queued"] = max(0, b["recipients_count"] - b["sent"] - b["capped"] - b["opted_out"])
    config = getattr(broadcast.account, "generic", None)
    b["delivery_reports"] = config is None or config.has_dlr
    return b
