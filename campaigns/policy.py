"""The one sending-policy check: opt-out, quiet hours in the recipient's local time, frequency caps.

Every send path asks this module before a message leaves:

- generic-provider broadcasts (campaigns.dispatch): `Gate.admit` runs on each claimed chunk, in
  the claiming worker. Opted-out numbers become OPTED_OUT, numbers over the cap CAPPED, and
  numbers whose window is closed go back unclaimed with `not_before` = when their window opens:
  the claim skips them until then, and the broadcast stays "sending" (the every-minute dispatch
  sweep, or the countdown the sender re-queues itself with, wakes it at the opening);
- MessageWhiz broadcasts (campaigns.sending, campaigns.parts): MessageWhiz sends a broadcast to
  its lists at one time, so `broadcast_plan` sorts the recipients before it is submitted: those
  who may get it at the send time, those whose window is closed then (grouped by the instant it
  next opens: each group becomes a scheduled part of its own), the opted-out and those over the
  cap (left out, counted). A smart broadcast is not split (`smart_refusal`); the account's opt-out
  list is added to every broadcast's unsubscribe lists as well;
- single messages and pasted numbers (campaigns.singles): `single_refusal`, `pasted_split`.
  One-time passwords are exempt from quiet hours and caps (the recipient asked for the code a
  moment ago) but not from an opt-out.

Zones. A number's zones come from libphonenumber's prefix table (what
`phonenumbers.timezone.time_zones_for_number` reads; the number type check it adds first is left
out: it costs far more than the lookup and only widens a few mobile ranges to their whole
country). A recipient's `timezone` column, imported with the list, overrides it. When a prefix
spans several zones the window must be open in all of them — the most restrictive reading.
Lookups are cached by prefix and each rule's open/closed answer by the instant it next changes,
so a million numbers take well under two seconds (bench/compliance.py).

`clock` is the time the policy reads; tests set it to a fake clock.
"""

import functools
from array import array
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from itertools import islice
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db.models import Count, F
from django.utils import timezone
from phonenumbers.phonenumberutil import COUNTRY_CODE_TO_REGION_CODE
from phonenumbers.tzdata import TIMEZONE_DATA, TIMEZONE_LONGEST_PREFIX

from recipients.consent import sending_policy_for, suppressed_among, suppressed_phones
from recipients.models import Recipient
from recipients.selectors import phones_for_send, recipients_for_send

from .models import Broadcast, Message, SendRecord
from .models.broadcasts import STATUS_RANK

clock = timezone.now
M = Message.Status
UNKNOWN_ZONE = "Etc/Unknown"
_HEAD = 6  # digits a number's first cache key holds
_HEADS_WITH_LONGER = frozenset(key[:_HEAD] for key in TIMEZONE_DATA if len(key) > _HEAD)
_head_cache: dict[str, str] = {}
_HEAD_CACHE_MAX = 500_000


def now() -> datetime:
    return clock()


# --- zones -------------------------------------------------------------------------------------------
def zone_prefix(digits: str) -> str:
    """The longest prefix of the number in libphonenumber's zone table ("" if none)."""
    head = digits[:_HEAD]
    hit = _head_cache.get(head)
    if hit is not None:
        return hit
    found = ""
    for length in range(min(len(digits), TIMEZONE_LONGEST_PREFIX), 0, -1):
        if digits[:length] in TIMEZONE_DATA:
            found = digits[:length]
            break
    # Only a head no longer table prefix starts with answers for every number that starts with it.
    if head not in _HEADS_WITH_LONGER and len(digits) >= _HEAD and len(found) <= _HEAD:
        if len(_head_cache) >= _HEAD_CACHE_MAX:
            _head_cache.clear()
        _head_cache[head] = found
    return found


def zone_names(digits: str) -> tuple[str, ...]:
    return TIMEZONE_DATA.get(zone_prefix(digits), (UNKNOWN_ZONE,))


@functools.lru_cache(maxsize=4096)
def _zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


@functools.lru_cache(maxsize=4096)
def country_of(prefix: str) -> str:
    """ISO code of the number's country (the calling code's main region), "" if unknown."""
    for length in (1, 2, 3):
        regions = COUNTRY_CODE_TO_REGION_CODE.get(int(prefix[:length])) if prefix[:length].isdigit() else None
        if regions:
            return regions[0]
    return ""


# --- windows -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Window:
    start: time
    end: time
    days: frozenset[int]

    def label(self) -> str:
        return f"{self.start:%H:%M}–{self.end:%H:%M}"  # noqa: RUF001 — an en dash in a time range

    def contains(self, local: datetime) -> bool:
        return local.weekday() in self.days and self.start <= local.time().replace(tzinfo=None) < self.end

    def tightened(self, start: time | None, end: time | None) -> "Window":
        return Window(max(self.start, start) if start else self.start, min(self.end, end) if end else self.end,
                      self.days)


def _time(value) -> time:
    return value if isinstance(value, time) else time.fromisoformat(str(value))


def _days(value: str) -> frozenset[int]:
    return frozenset(int(c) for c in str(value) if c.isdigit() and int(c) < 7)


@dataclass
class Rule:
    """One set of zones under one window: what every number with the same prefix (or override) shares."""

    zones: tuple[ZoneInfo, ...]
    names: tuple[str, ...]
    window: Window
    open_until: datetime | None = None  # the cached answer holds until this instant
    is_open: bool = False

    def state(self, at: datetime) -> tuple[bool, datetime]:
        """Open now?, and until when that answer holds (the next closing or opening)."""
        if self.open_until is None or at >= self.open_until or at < self._asked:
            self.is_open = self._open(at)
            self.open_until = self._next_change(at)
            self._asked = at
        return self.is_open, self.open_until

    _asked: datetime = field(default=datetime.min.replace(tzinfo=UTC))

    def _open(self, at: datetime) -> bool:
        return all(self.window.contains(at.astimezone(z)) for z in self.zones)

    def next_open(self, at: datetime) -> datetime | None:
        """The first instant from `at` at which the window is open in every zone (None within 8 days)."""
        candidate = at
        for _ in range(64):
            if self._open(candidate):
                return candidate
            candidate = max(self._opening(candidate, z) for z in self.zones if not self.window.contains(
                candidate.astimezone(z)))
            if candidate - at > timedelta(days=8):
                return None
        return None

    def _opening(self, at: datetime, zone: ZoneInfo) -> datetime:
        local = at.astimezone(zone)
        day = local.date()
        for offset in range(8):
            date = day + timedelta(days=offset)
            opening = datetime.combine(date, self.window.start, tzinfo=zone).astimezone(UTC)
            if date.weekday() in self.window.days and opening > at:
                return opening
            closing = datetime.combine(date, self.window.end, tzinfo=zone).astimezone(UTC)
            if date.weekday() in self.window.days and opening <= at < closing:
                return at
        return at + timedelta(days=8)

    def _next_change(self, at: datetime) -> datetime:
        """A safe bound: the next local start or end of the window in any zone (DST moves them)."""
        bounds = []
        for zone in self.zones:
            local = at.astimezone(zone)
            for offset in (0, 1):
                date = local.date() + timedelta(days=offset)
                for moment in (self.window.start, self.window.end):
                    instant = datetime.combine(date, moment, tzinfo=zone).astimezone(UTC)
                    if instant > at:
                        bounds.append(instant)
        return min(bounds) if bounds else at + timedelta(minutes=1)


class Windows:
    """An account's (and a broadcast's) window per number: `state(phone, at, override)`."""

    def __init__(self, account, *, broadcast: Broadcast | None = None):
        policy = sending_policy_for(account)
        self.base = Window(_time(policy.window_start), _time(policy.window_end), _days(policy.days))
        self.countries = {
            code.upper(): Window(_time(w.get("start", policy.window_start)), _time(w.get("end", policy.window_end)),
                                 _days(w.get("days", policy.days)))
            for code, w in (policy.country_windows or {}).items() if isinstance(w, dict)}
        self.tighten = (broadcast.window_start, broadcast.window_end) if broadcast is not None else (None, None)
        # A broadcast's own window only narrows the account's, unless its author may widen it.
        self.widen = bool(broadcast is not None and any(self.tighten) and broadcast.created_by_id
                          and broadcast.created_by.has_perm("campaigns.widen_sending_window"))
        self.rules: dict[tuple[str, str], Rule] = {}
        self.heads: dict[str, Rule] = {}  # a number's first digits → its rule, where they decide it

    def rule(self, phone: str, override: str = "") -> Rule:
        if not override and (rule := self.heads.get(phone[:_HEAD])) is not None:
            return rule
        prefix = zone_prefix(phone)
        key = (prefix, override)
        rule = self.rules.get(key)
        if rule is None:
            names = (override,) if override and _zone(override) else TIMEZONE_DATA.get(prefix, (UNKNOWN_ZONE,))
            zones = tuple(z for z in (_zone(n) for n in names) if z is not None) or (ZoneInfo("UTC"),)
            window = self.countries.get(country_of(prefix or phone), self.base)
            if self.widen:
                window = Window(self.tighten[0] or window.start, self.tighten[1] or window.end, window.days)
            else:
                window = window.tightened(*self.tighten)
            rule = self.rules[key] = Rule(zones, names, window)
        if not override and prefix and _head_cache.get(phone[:_HEAD]) == prefix and len(self.heads) < _HEAD_CACHE_MAX:
            self.heads[phone[:_HEAD]] = rule
        return rule

    def state(self, phone: str, at: datetime, override: str = "") -> tuple[bool, datetime]:
        return self.rule(phone, override).state(at)

    def checker(self, at: datetime):
        """`is_open(phone, override="")` at one instant: each rule is asked once, each number costs
        a slice and two dictionary lookups (what dispatch runs on every claimed chunk)."""
        answers: dict[int, bool] = {}
        heads, rule_for = self.heads, self.rule

        def is_open(phone: str, override: str = "") -> bool:
            rule = None if override else heads.get(phone[:_HEAD])
            if rule is None:
                rule = rule_for(phone, override)
            answer = answers.get(id(rule))
            if answer is None:
                answer = answers[id(rule)] = rule.state(at)[0]
            return answer

        return is_open


def window_widened(account, *, start: time | None, end: time | None) -> bool:
    """Whether a broadcast's window reaches outside the account's (that needs a permission)."""
    policy = sending_policy_for(account)
    return bool((start and start < _time(policy.window_start)) or (end and end > _time(policy.window_end)))


# --- the gate dispatch calls -------------------------------------------------------------------------
class Gate:
    """The policy for one broadcast's sender: `admit(rows)` keeps the rows that may leave now."""

    def __init__(self, broadcast: Broadcast, list_ids: list[int]):
        self.broadcast_id = broadcast.pk
        self.account = broadcast.account
        self.account_id = broadcast.account_id
        self.list_ids = list_ids
        self.windows = Windows(broadcast.account, broadcast=broadcast)
        policy = sending_policy_for(broadcast.account)
        self.cap = policy.cap_messages
        self.cap_window = timedelta(hours=policy.cap_hours or 24)
        # Only lists whose recipients carry a zone of their own pay for reading them.
        self.overrides_used = Recipient.objects.filter(recipient_list_id__in=list_ids).exclude(timezone="").exists()
        self.held_before = broadcast.held > 0

    def admit(self, rows: list[tuple[int, str, str]]) -> list[tuple[int, str, str]]:
        """Claimed (pk, phone, client_ref) rows that pass; the rest are marked and counted here."""
        if not rows:
            return rows
        at = now()
        suppressed = suppressed_phones(account_id=self.account_id, phones=[phone for _, phone, _ in rows])
        overrides = self._overrides([phone for _, phone, _ in rows]) if self.overrides_used else {}
        passed, opted_out, held = [], [], {}
        is_open = self.windows.checker(at)
        for row in rows:
            phone = row[1]
            if phone in suppressed:
                opted_out.append(row[0])
            elif is_open(phone, overrides.get(phone, "")):
                passed.append(row)
            else:
                rule = self.windows.rule(phone, overrides.get(phone, ""))
                opening = rule.next_open(at) or rule.state(at)[1]
                held.setdefault(opening, []).append(row[0])
        capped = []
        if self.cap is not None and passed:
            passed, capped = self._capped(passed, at)
        self._mark(opted_out, M.OPTED_OUT, "opted_out", at)
        self._mark(capped, M.CAPPED, "capped", at)
        self._hold(held)
        if self.held_before and passed:
            released = Message.objects.filter(pk__in=[pk for pk, _, _ in passed], not_before__isnull=False).update(
                not_before=None)
            if released:
                Broadcast.objects.filter(pk=self.broadcast_id).update(held=F("held") - released)
        return passed

    def _overrides(self, phones: list[str]) -> dict[str, str]:
        return dict(Recipient.objects.filter(recipient_list_id__in=self.list_ids, phone__in=phones)
                    .exclude(timezone="").values_list("phone", "timezone"))

    def _capped(self, rows, at):
        pks = [pk for pk, _, _ in rows]
        counts = dict(SendRecord.objects.filter(account_id=self.account_id, phone__in=[p for _, p, _ in rows],
                                                sent_at__gt=at - self.cap_window).exclude(message_id__in=pks)
                      .values_list("phone").annotate(n=Count("pk")).values_list("phone", "n"))
        passed, capped = [], []
        for row in rows:
            if counts.get(row[1], 0) >= self.cap:
                capped.append(row[0])
            else:
                counts[row[1]] = counts.get(row[1], 0) + 1
                passed.append(row)
        SendRecord.objects.bulk_create([SendRecord(account_id=self.account_id, phone=phone, message_id=pk,
                                                   sent_at=at) for pk, phone, _ in passed], ignore_conflicts=True)
        return passed, capped

    def _mark(self, pks: list[int], status: str, counter: str, at) -> None:
        if not pks:
            return
        n = Message.objects.filter(pk__in=pks, status=M.QUEUED).update(
            status=status, status_rank=STATUS_RANK[status], status_at=at, submitted_at=None,
            error=Message.Status(status).label)
        Broadcast.objects.filter(pk=self.broadcast_id).update(**{counter: F(counter) + n})

    def _hold(self, held: dict[datetime, list[int]]) -> None:
        newly = 0
        for opening, pks in held.items():
            newly += Message.objects.filter(pk__in=pks, not_before__isnull=True).update(not_before=opening)
            Message.objects.filter(pk__in=pks).update(submitted_at=None, not_before=opening)
        if newly:
            self.held_before = True
            Broadcast.objects.filter(pk=self.broadcast_id).update(held=F("held") + newly)


def holds_messages(broadcast_id: int) -> bool:
    """Whether messages of the broadcast wait for their recipients' window."""
    return Message.objects.filter(broadcast_id=broadcast_id, status=M.QUEUED, not_before__isnull=False).exists()


# --- single sends and MessageWhiz broadcasts --------------------------------------------------------
def single_refusal(*, account, phone: str, quiet_hours: bool = True, caps: bool = True) -> str | None:
    """Why this one message may not go out now (None: it may)."""
    if suppressed_phones(account_id=account.pk, phones=[phone]):
        return "This number has opted out of messages from this account."
    if quiet_hours:
        rule = Windows(account).rule(phone)
        at = now()
        is_open, _ = rule.state(at)
        if not is_open:
            return f"It is outside the recipient's sending hours ({_opening_text(rule, at)})."
    if caps:
        policy = sending_policy_for(account)
        if policy.cap_messages is not None and SendRecord.objects.filter(
                account=account, phone=phone, sent_at__gt=now() - timedelta(hours=policy.cap_hours or 24)
        ).count() >= policy.cap_messages:
            return (f"This number has had {policy.cap_messages} messages in the last {policy.cap_hours} hours, "
                    "the account's cap.")
    return None


def sent_record(*, account, phones: list[str], messages: list[Message] | None = None) -> None:
    """What a frequency cap counts, for sends that did not pass through a Gate (singles, pasted)."""
    if sending_policy_for(account).cap_messages is None:
        return
    at = now()
    by_phone = {m.phone: m.pk for m in messages or []}
    SendRecord.objects.bulk_create([SendRecord(account=account, phone=p, message_id=by_phone.get(p), sent_at=at)
                                    for p in phones], ignore_conflicts=True)


def _opening_text(rule: Rule, at: datetime) -> str:
    zone = rule.zones[0]
    opening = rule.next_open(at)
    when = f"opens {opening.astimezone(zone):%a %H:%M}" if opening else "no common opening this week"
    return f"{rule.window.label()} in {', '.join(rule.names[:3])}{'…' if len(rule.names) > 3 else ''}; {when}"


@dataclass
class ZoneForecast:
    zone: str
    now: int = 0
    later: int = 0
    opens: str = ""  # e.g. "tomorrow at 08:00 their time"


def forecast(*, account, phones, broadcast: Broadcast | None = None, at: datetime | None = None,
             overrides: dict[str, str] | None = None) -> list[ZoneForecast]:
    """Per zone, how many recipients receive it at `at` and how many wait for their window, and when."""
    at = at or now()
    windows = Windows(account, broadcast=broadcast)
    overrides = overrides or {}
    rows: dict[tuple[str, ...], ZoneForecast] = {}
    for phone in phones:
        rule = windows.rule(phone, overrides.get(phone, ""))
        row = rows.get(rule.names)
        if row is None:
            row = rows[rule.names] = ZoneForecast(", ".join(rule.names[:3]) + ("…" if len(rule.names) > 3 else ""))
        is_open, _ = rule.state(at)
        if is_open:
            row.now += 1
        else:
            row.later += 1
            if not row.opens:
                row.opens = _when(rule, at)
    return sorted(rows.values(), key=lambda r: (-r.now - r.later, r.zone))


def _when(rule: Rule, at: datetime) -> str:
    opening = rule.next_open(at)
    if opening is None:
        return "not this week"
    zone = rule.zones[0]
    local, today = opening.astimezone(zone), at.astimezone(zone).date()
    day = "today" if local.date() == today else "tomorrow" if local.date() == today + timedelta(days=1) else \
        f"{local:%A}"
    return f"{day} at {local:%H:%M} their time"


def broadcast_refusal(broadcast: Broadcast, phones, at: datetime | None = None) -> str | None:
    """MessageWhiz sends a broadcast at one time: refuse it while any recipient's window is closed then."""
    waiting = [row for row in forecast(account=broadcast.account, phones=phones, broadcast=broadcast, at=at)
               if row.later]
    if not waiting:
        return None
    parts = "; ".join(f"{row.later} in {row.zone} ({row.opens})" for row in waiting[:5])
    total = sum(row.later for row in waiting)
    return (f"{total} recipients are outside their sending hours at the send time: {parts}. MessageWhiz sends a "
            "broadcast at one time, so send each zone's recipients as their own broadcast at their opening.")


# --- MessageWhiz broadcasts: who goes now, who in a later part, who not at all ---------------------
PLAN_CHUNK = 5000


@dataclass
class Part:
    """Recipients whose window is closed at the send time and opens at `opens` (a scheduled part)."""

    opens: datetime
    label: str  # "on Sun 8 Mar at 08:00 their time"
    ids: array = field(default_factory=lambda: array("q"))  # Recipient ids (the row whose fields they get)

    @property
    def count(self) -> int:
        return len(self.ids)


@dataclass
class Plan:
    at: datetime
    now_ids: array = field(default_factory=lambda: array("q"))
    parts: dict[datetime, Part] = field(default_factory=dict)
    opted_out: int = 0
    capped: int = 0
    never: int = 0  # no common opening of their window within a week
    never_zones: set[str] = field(default_factory=set)
    total: int = 0

    @property
    def now(self) -> int:
        return len(self.now_ids)

    @property
    def later(self) -> int:
        return sum(part.count for part in self.parts.values())

    @property
    def whole(self) -> bool:
        """Everyone may get it at the send time: the broadcast goes as it is."""
        return self.now == self.total

    def ordered_parts(self) -> list[Part]:
        return [self.parts[opens] for opens in sorted(self.parts)]


def broadcast_plan(broadcast: Broadcast, *, at: datetime | None = None) -> Plan:
    """The sending policy for a MessageWhiz broadcast, applied to each recipient of its lists (less
    its unsubscribe lists) at the send time `at`: opted out, outside the window (which part, by
    when it opens), over the frequency cap, or going now. Caps are counted for those going now;
    a later part's are counted when it is submitted (its own plan), as its opt-outs are again."""
    at = at or max(broadcast.send_at or now(), now())
    plan = Plan(at)
    list_ids = list(broadcast.recipient_lists.values_list("pk", flat=True))
    rows = recipients_for_send(recipient_list_ids=list_ids, unsubscribe_list_ids=list(
        broadcast.unsubscribe_lists.values_list("pk", flat=True))).values_list("pk", "phone", "timezone")
    windows = Windows(broadcast.account, broadcast=broadcast)
    is_open = windows.checker(at)
    policy = sending_policy_for(broadcast.account)
    suppressed_of = suppressed_among(account_id=broadcast.account_id)
    sent_counts = _cap_counts(broadcast.account_id, policy, at)
    openings: dict[int, Part | None] = {}  # per rule: the part its closed numbers join (one next_open each)
    rows = rows.iterator(chunk_size=PLAN_CHUNK)
    while chunk := list(islice(rows, PLAN_CHUNK)):
        plan.total += len(chunk)
        suppressed = suppressed_of([phone for _, phone, _ in chunk])
        going = []
        for pk, phone, zone in chunk:
            if phone in suppressed:
                plan.opted_out += 1
            elif is_open(phone, zone):
                going.append((pk, phone))
            else:
                rule = windows.rule(phone, zone)
                if id(rule) not in openings:
                    opens = rule.next_open(at)
                    openings[id(rule)] = None if opens is None else plan.parts.setdefault(
                        opens, Part(opens, _on_date(rule, opens)))
                part = openings[id(rule)]
                if part is None:
                    plan.never += 1
                    plan.never_zones.add(", ".join(rule.names[:3]))
                else:
                    part.ids.append(pk)
        if sent_counts is not None and going:
            counts = sent_counts([phone for _, phone in going])
            kept = [(pk, phone) for pk, phone in going if counts.get(phone, 0) < policy.cap_messages]
            plan.capped += len(going) - len(kept)
            going = kept
        plan.now_ids.extend(pk for pk, _ in going)
    return plan


def _cap_counts(account_id: int, policy, at: datetime, limit: int = 200_000):
    """`counts(phones) -> {phone: messages in the cap's window up to at}` (None: no cap). The
    window's records are read once when there are at most `limit` of them, else per chunk."""
    if policy.cap_messages is None:
        return None
    records = SendRecord.objects.filter(account_id=account_id, sent_at__lte=at,
                                        sent_at__gt=at - timedelta(hours=policy.cap_hours or 24))

    def counted(query) -> dict[str, int]:
        return dict(query.values_list("phone").annotate(n=Count("pk")).values_list("phone", "n"))

    if records[:limit + 1].count() > limit:
        return lambda phones: counted(records.filter(phone__in=phones))
    known = counted(records)
    return lambda phones: {phone: known[phone] for phone in phones if phone in known}


def _on_date(rule: Rule, opens: datetime) -> str:
    local = opens.astimezone(rule.zones[0])
    return f"on {local:%a} {local.day} {local:%b} at {local:%H:%M} their time"


def smart_refusal(plan: Plan) -> str | None:
    """Smart broadcasts are not split into parts: MessageWhiz sends their later segments itself
    (at a CTR threshold, or when continued), at times Textcast does not choose, and a part of its
    own would be a separate test with its own segments and threshold."""
    if not plan.parts:
        return None
    parts = "; ".join(f"{part.count} {part.label}" for part in plan.ordered_parts()[:5])
    return (f"{plan.later} recipients are outside their sending hours at the send time ({parts}). A smart "
            "broadcast is not split into scheduled parts, because MessageWhiz sends its later segments itself, "
            "at times Textcast does not choose: send it when every recipient's window is open, or make it a "
            "base broadcast, which goes out in parts automatically.")


def pasted_split(*, account, phones: list[str]) -> tuple[list[str], dict[str, int]]:
    """Pasted numbers less the opted-out and the over-cap ones, and how many of each were left out."""
    suppressed = suppressed_phones(account_id=account.pk, phones=phones)
    kept = [p for p in phones if p not in suppressed]
    policy = sending_policy_for(account)
    capped = set()
    if policy.cap_messages is not None and kept:
        counts = dict(SendRecord.objects.filter(account=account, phone__in=kept,
                                                sent_at__gt=now() - timedelta(hours=policy.cap_hours or 24))
                      .values_list("phone").annotate(n=Count("pk")).values_list("phone", "n"))
        capped = {p for p in kept if counts.get(p, 0) >= policy.cap_messages}
    return [p for p in kept if p not in capped], {"opted_out": len(suppressed), "capped": len(capped)}


# --- review and India DLT ---------------------------------------------------------------------------
def dlt_values(broadcast: Broadcast) -> dict[str, str]:
    """The broadcast's DLT registration: its template's ids, else its first sender's."""
    sources = [broadcast.template] if broadcast.template_id else []
    sources += list(broadcast.senders.all()[:1]) if broadcast.pk else []
    template_id = next((s.dlt_template_id for s in sources if s.dlt_template_id), "")
    entity_id = next((s.dlt_entity_id for s in sources if s.dlt_entity_id), "")
    return {"DltTemplateId": template_id, "DltEntityId": entity_id}


@dataclass
class Outlook:
    zones: list[ZoneForecast]
    india: int  # recipients with a +91 number
    dlt_missing: list[str]  # the DLT ids a +91 message lacks
    plan: Plan | None = None  # MessageWhiz broadcasts: who goes now, in which scheduled part, or not at all
    refusal: str | None = None  # why it can't go as planned (a smart broadcast is not split)

    @property
    def later(self) -> int:
        return sum(z.later for z in self.zones)


def broadcast_outlook(broadcast: Broadcast) -> Outlook | None:
    """What review shows: per zone who receives it at the send time and who waits (None for a
    trigger: its time is not known), and the DLT ids +91 recipients need."""
    if broadcast.trigger_id:
        return None
    list_ids = list(broadcast.recipient_lists.values_list("pk", flat=True))
    if broadcast.type == Broadcast.Type.SINGLE:
        phones = [broadcast.recipient] if broadcast.recipient else []
    else:
        phones = phones_for_send(recipient_list_ids=list_ids, unsubscribe_list_ids=list(
            broadcast.unsubscribe_lists.values_list("pk", flat=True))).iterator(chunk_size=5000)
    overrides = dict(Recipient.objects.filter(recipient_list_id__in=list_ids).exclude(timezone="")
                     .values_list("phone", "timezone")) if list_ids else {}
    india = [0]

    def counted(numbers):
        for phone in numbers:
            if phone.startswith("91"):
                india[0] += 1
            yield phone

    at = max(broadcast.send_at or now(), now())
    zones = forecast(account=broadcast.account, phones=counted(phones), broadcast=broadcast, at=at,
                     overrides=overrides)
    dlt = dlt_values(broadcast)
    missing = [name for name, key in (("DLT template id", "DltTemplateId"), ("DLT entity id", "DltEntityId"))
               if not dlt[key]] if india[0] else []
    plan = refusal = None
    if broadcast.account.kind == broadcast.account.Kind.MESSAGEWHIZ and broadcast.type != Broadcast.Type.SINGLE:
        plan = broadcast_plan(broadcast, at=at)
        refusal = smart_refusal(plan) if broadcast.type == Broadcast.Type.SMART else None
    return Outlook(zones, india[0], missing, plan, refusal)


def broadcast_sent_record(broadcast: Broadcast, *, at: datetime) -> None:
    """What a frequency cap counts for a MessageWhiz broadcast sent to all of its recipients at `at`
    (its Message rows; a retried submission records none twice)."""
    if sending_policy_for(broadcast.account).cap_messages is None:
        return
    rows = Message.objects.filter(broadcast=broadcast).values_list("pk", "phone").iterator(chunk_size=PLAN_CHUNK)
    while chunk := list(islice(rows, PLAN_CHUNK)):
        SendRecord.objects.bulk_create([SendRecord(account_id=broadcast.account_id, phone=phone, message_id=pk,
                                                   sent_at=at) for pk, phone in chunk], ignore_conflicts=True)
