"""Before anything is sent: token checks, our own pre-estimate, and MessageWhiz's estimate.

The pre-estimate counts SMS parts for every recipient the broadcast would reach (after
de-duplication across lists and unsubscribe exclusion), worst case for word spinners. Recipients
whose texts must cost the same are grouped in the database and rendered once per group
(`recipient_groups`); a body without personal tokens is counted once.
"""

import dataclasses
from collections import Counter
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.conf import settings
from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import Exists, OuterRef
from django.utils import timezone

from messaging.messagewhiz.client import MessageWhizClient
from messaging.messagewhiz.errors import MessageWhizError
from recipients.models import Recipient, UnsubscribeNumber
from recipients.phones import phone_country
from recipients.selectors import recipients_for_send

from . import rendering, sms, tracking
from .costs import CountryMap, estimate_rows
from .models import Broadcast, Link, LinkList, WordSpinner
from .states import broadcast_transition

RECIPIENT_FIELDS = ("phone", "first_name", "last_name", "email", "url", "custom", "custom1", "custom2", "custom3",
                    "custom4")
# Who the live counter (and the estimate's encoding sample) writes for: a recipient with typical
# field lengths. Only lengths and characters matter; the review page counts real recipients.
TYPICAL_RECIPIENT = {"phone": "", "first_name": "Alexandra", "last_name": "Smith", "url": "https://example.com/offer",
                     "custom": "Custom 1", "custom1": "Custom 1", "custom2": "Custom 2", "custom3": "Custom 3",
                     "custom4": "Custom 4", "gender": "female"}


class EstimateProblem(Exception):
    pass


def broadcast_body(broadcast: Broadcast) -> str:
    return broadcast.template.body if broadcast.template_id else broadcast.body


def token_objects(account) -> dict:
    """The account's links, link lists and spinners by MessageWhiz id, as token checks need them."""
    def by_remote_id(model):
        return {obj.remote_id: obj for obj in model.objects.filter(account=account, remote_id__isnull=False)}

    return {"links": by_remote_id(Link), "link_lists": by_remote_id(LinkList), "spinners": by_remote_id(WordSpinner)}


def body_problems(body: str, *, account, otp: bool = False, provider_renders: bool = False
                  ) -> list[rendering.Problem]:
    return _checked(body, account, token_objects(account), otp=otp, provider_renders=provider_renders)


def _checked(body: str, account, objects: dict, *, otp: bool = False, provider_renders: bool = False
             ) -> list[rendering.Problem]:
    problems = rendering.check(body, otp=otp, provider_renders=provider_renders, **objects)
    if tracking.uses_own_links(account):
        problems = sorted(problems + tracking.unsupplied_problems(body), key=lambda p: (p.start, p.end))
    return problems


def render_context(account, *, spinners, worst_case: bool = False) -> rendering.RenderContext:
    """How the account's recipients' texts are rendered: with MessageWhiz's short links counted by
    a placeholder of their length, or with the Textcast links we send ourselves."""
    if tracking.uses_own_links(account):
        return tracking.render_context(spinners=spinners, worst_case=worst_case)
    return rendering.RenderContext(spinners=spinners, worst_case=worst_case)


def provider_renders(broadcast: Broadcast) -> bool:
    """Whether the provider fills in the broadcast's tokens (MessageWhiz does, except in a single
    message's own body, which is filled in here for its one recipient: campaigns.sending)."""
    if broadcast.account.kind != broadcast.account.Kind.MESSAGEWHIZ:
        return False
    return not (broadcast.type == Broadcast.Type.SINGLE and not broadcast.template_id)


def broadcast_problems(broadcast: Broadcast, *, objects: dict | None = None) -> list[rendering.Problem]:
    """Token problems of everything the broadcast may send: its body or template, and each of a
    manual smart broadcast's templates (named in the message, since their spans are not the body's)."""
    objects = objects or token_objects(broadcast.account)
    renders = provider_renders(broadcast)
    problems = _checked(broadcast_body(broadcast), broadcast.account, objects, provider_renders=renders)
    for template in broadcast.templates.all():
        problems += [dataclasses.replace(p, message=f"in template “{template}”: {p.message}")
                     for p in _checked(template.body, broadcast.account, objects, provider_renders=renders)]
    return problems


def problems_summary(problems: list[rendering.Problem]) -> str:
    """The errors among `problems` (what stops a send) in one line; "" when there are none."""
    return "; ".join(f"{p.text or 'message'}: {p.message}" for p in problems if p.severity == rendering.ERROR)


def parts_problem(parts: int) -> str:
    """Why a message of `parts` SMS parts is refused (over MAX_MESSAGE_PARTS), or ""."""
    limit = settings.MAX_MESSAGE_PARTS
    if parts <= limit:
        return ""
    return (f"The message needs {parts} SMS parts, and at most {limit} are allowed (each part is billed as one "
            f"SMS): shorten it.")


def text_parts_problem(body: str, *, account=None) -> str:
    """parts_problem for `body` as written for a recipient with typical field lengths (the live
    counter's reading; the estimate then checks every real recipient)."""
    spinners = token_objects(account)["spinners"] if account is not None else {}
    text = rendering.render(body, TYPICAL_RECIPIENT, context=rendering.RenderContext(spinners=spinners,
                                                                                    worst_case=True))
    return parts_problem(sms.count_parts(text))


def typical_token_values(spinners, *, own_links: bool = False) -> dict[str, str]:
    """What the live counter puts in place of each token: the text the estimate renders for
    TYPICAL_RECIPIENT (longest word for spinners), with links as MessageWhiz's short links or, with
    `own_links`, as the Textcast links we send through HTTP providers ourselves. Keys are token
    names, `name:*` for any id (links), and `word_spinner:ID` for each of `spinners` (remote id → spinner)."""
    context = (tracking.render_context(spinners=spinners, worst_case=True) if own_links
               else rendering.RenderContext(spinners=spinners, worst_case=True))

    def text(token: str) -> str:
        return rendering.render("{{" + token + "}}", TYPICAL_RECIPIENT, context=context)

    values = {name: text(name) for name in sorted(rendering.TOKEN_NAMES - rendering.ID_TOKENS.keys())}
    values.update({f"{name}:*": text(f"{name}:0") for name in ("link", "link_list")})
    values.update({f"word_spinner:{remote_id}": text(f"word_spinner:{remote_id}") for remote_id in spinners})
    return values


def local_estimate(broadcast: Broadcast) -> dict:
    body = broadcast_body(broadcast)
    objects = token_objects(broadcast.account)
    problems = broadcast_problems(broadcast, objects=objects)
    countries: dict[str, dict] = {}
    distribution, renderer = parts_distribution(broadcast, body, spinners=objects["spinners"], countries=countries)
    count = sum(distribution.values())
    sample = sms.count(renderer(TYPICAL_RECIPIENT))
    return {
        "recipients": count,
        "parts": {str(parts): n for parts, n in sorted(distribution.items())},
        "total_parts": sum(parts * n for parts, n in distribution.items()),
        "countries": countries,
        "encoding": sample.encoding,
        "ucs2_chars": [c.char for c in sample.ucs2_chars],
        "problems": [{"start": p.start, "end": p.end, "text": p.text, "message": p.message, "severity": p.severity}
                     for p in problems],
    }


def parts_distribution(broadcast: Broadcast, body: str, *, spinners, countries: dict | None = None
                       ) -> tuple[Counter, rendering.Renderer]:
    """How many of the broadcast's recipients get `body` in how many SMS parts (worst case for
    spinners), and the compiled renderer. `countries`, when given, gets the recipients and parts
    per country ({"GB": {"recipients": 2, "parts": 3}}; "" for numbers of no country)."""
    renderer = rendering.compile(body, context=render_context(broadcast.account, spinners=spinners,
                                                              worst_case=True))
    if broadcast.type == Broadcast.Type.SINGLE:
        groups = [(phone_country(broadcast.recipient), {"phone": broadcast.recipient}, 1)]
    else:
        groups = recipient_groups(
            recipient_list_ids=list(broadcast.recipient_lists.values_list("pk", flat=True)),
            unsubscribe_list_ids=list(broadcast.unsubscribe_lists.values_list("pk", flat=True)),
            fields=() if renderer.static_text is not None else fields_read(body), by_country=countries is not None)
    distribution = Counter()
    for country, recipient, n in groups:
        parts = sms.count_parts(renderer(recipient))
        distribution[parts] += n
        if countries is not None:
            figures = countries.setdefault(country, {"recipients": 0, "parts": 0})
            figures["recipients"] += n
            figures["parts"] += n * parts
    return distribution, renderer


def fields_read(body: str) -> tuple[str, ...]:
    """The recipient fields an estimate's rendering of `body` reads (worst case: spinners and
    random symbols read nothing, links are placeholders, {{shorten_url}} only asks whether there is a url)."""
    names = {"url" if token.name == "shorten_url" else token.name for token in rendering.parse(body)}
    return tuple(sorted(names & set(RECIPIENT_FIELDS) - {"phone"}))


# A value of only these characters counts as many septets (or UCS-2 units) as it has characters, and
# never decides the encoding or where a part ends: any such value of the same length gives the same
# parts, so recipients are grouped by its length alone (PostgreSQL; other values by themselves).
_BASIC_VALUE = "^[" + sms.GSM_BASIC.replace("-", "") + "-]*$"
_BASIC_STANDIN = "x"


def recipient_groups(*, recipient_list_ids: list[int], unsubscribe_list_ids: list[int], fields: tuple[str, ...],
                     by_country: bool) -> list[tuple[str, dict, int]]:
    """(country, fields, how many) per group of the recipients a broadcast reaches (as
    recipients.selectors.recipients_for_send picks them) whose texts cost the same parts: the
    same country (with `by_country`, else "") and, per field, the same value or, for values
    of plain GSM characters, the same length (the group's fields then hold a stand-in of that
    length). One GROUP BY in the database: a million recipients sharing a few thousand
    first names and value lengths are rendered a few thousand times, and never leave it."""
    members = Recipient.objects.filter(recipient_list_id__in=recipient_list_ids)
    if len(recipient_list_ids) == 1:
        # A list holds each phone once (its unique constraint): nothing to de-duplicate.
        selected = members
        if unsubscribe_list_ids:
            selected = members.filter(~Exists(UnsubscribeNumber.objects.filter(
                unsubscribe_list_id__in=unsubscribe_list_ids, phone=OuterRef("phone"))))
    else:
        selected = recipients_for_send(recipient_list_ids=recipient_list_ids,
                                       unsubscribe_list_ids=unsubscribe_list_ids).order_by()
    try:
        select_sql, select_params = selected.values("phone", *fields).query.sql_with_params()
    except EmptyResultSet:  # no list chosen: nobody to count
        return []
    columns, params, joins = [], [], ""
    if by_country:
        # Decided per group of first digits over the lists' rows as they are (cheaper to group).
        country, joins = CountryMap(*members.order_by().values("phone").query.sql_with_params()).sql("r")
        columns.append(country)
    postgres = connection.vendor == "postgresql"
    for name in fields:
        if postgres:
            columns += [f"CASE WHEN r.{name} ~ %s THEN NULL ELSE r.{name} END", f"length(r.{name})"]
            params.append(_BASIC_VALUE)
        else:
            columns += [f"r.{name}", f"length(r.{name})"]
    keys = ", ".join(str(n) for n in range(1, len(columns) + 1))
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join([*columns, 'count(*)'])} FROM ({select_sql}) AS r {joins} "  # noqa: S608
                       f"{'GROUP BY ' + keys if keys else ''}", [*params, *select_params])
        rows = cursor.fetchall()
    groups = []
    for row in rows:
        values = row[1:] if by_country else row
        recipient = {name: _BASIC_STANDIN * length if value is None else value
                     for name, value, length in zip(fields, values[0:-1:2], values[1:-1:2], strict=True)}
        if row[-1]:
            groups.append((row[0] if by_country else "", recipient, row[-1]))
    return groups


def remote_estimate(broadcast: Broadcast) -> dict:
    """MessageWhiz's own estimate (messages, parts, sum, rates, warnings, estimateHash)."""
    from .sending import message_body_for, remote_ids

    b = broadcast
    smart = b.type == Broadcast.Type.SMART
    manual = smart and b.eb_type == Broadcast.SmartType.MANUAL
    templates = [b.template] if b.template else list(b.templates.all()) if manual else []
    request = {
        "broadcast_type": b.type,
        "message_body": message_body_for(b.body, templates) or None,
        "template_id": remote_ids([b.template], "Template")[0] if b.template else None,
        "unsubscriber_list_ids": remote_ids(b.unsubscribe_lists.all(), "Unsubscribe list") or None,
        "eb_type": b.eb_type or None if smart else None,
        "first_segment_size": b.first_segment_size if smart else None,
        "next_segment_size": b.next_segment_size if smart and b.eb_type == "CTR" else None,
        "recipient_cap": b.recipient_cap if smart and b.eb_type == "CTR" else None,
        # "available only if eb_type is set to manual"
        "template_ids": (remote_ids(b.templates.all(), "Template") or None) if manual else None,
    }
    if b.type == Broadcast.Type.SINGLE:
        request["recipient"] = b.recipient
    else:
        request["recipient_list_ids"] = remote_ids(b.recipient_lists.all(), "Recipient list")
    with MessageWhizClient.from_account(b.account) as client:
        return client.broadcast_estimate(**request)


def broadcast_estimate(broadcast: Broadcast, *, actor=None) -> Broadcast:
    """Both estimates, stored on the broadcast; a draft becomes `estimated`."""
    from .sending import SubmissionProblem

    local = local_estimate(broadcast)
    errors = [p for p in local["problems"] if p["severity"] == rendering.ERROR]
    remote, error = {}, ""
    via_messagewhiz = broadcast.account.kind == broadcast.account.Kind.MESSAGEWHIZ
    if not errors and via_messagewhiz:
        try:
            remote = remote_estimate(broadcast)
        except (MessageWhizError, SubmissionProblem) as exc:
            error = f"MessageWhiz could not estimate: {exc}"
    fields = {"local_estimate": local, "estimate": remote, "estimated_at": timezone.now(), "last_error": error}
    Broadcast.objects.filter(pk=broadcast.pk).update(**fields)
    for name, value in fields.items():
        setattr(broadcast, name, value)
    if not errors and (remote or not via_messagewhiz):
        broadcast_transition(broadcast, Broadcast.State.ESTIMATED, actor=actor, reason="Estimated")
    return broadcast


def confirm_problem(broadcast: Broadcast) -> str:
    """Why the broadcast can't be confirmed (sent, scheduled or started) as it stands; "" if it can.

    Only an estimate that finished without errors can be confirmed: the review page hides the
    button otherwise, and this keeps a stale page or a hand-made POST from getting past it.
    """
    if broadcast.state not in (Broadcast.State.DRAFT, Broadcast.State.ESTIMATED):
        return f"“{broadcast}” is already {broadcast.get_state_display().lower()}; it can't be confirmed again."
    if broadcast.estimated_at is None:
        return "The estimate is still running; confirm once it is shown."
    if errors := problems_summary([rendering.Problem(**p) for p in broadcast.local_estimate.get("problems", [])]):
        return f"Fix the problems in the message and estimate again: {errors}"
    if too_long := parts_problem(max(map(int, broadcast.local_estimate.get("parts") or {"0": 0}))):
        return f"For the longest recipient's text: {too_long[0].lower()}{too_long[1:]}"
    via_messagewhiz = broadcast.account.kind == broadcast.account.Kind.MESSAGEWHIZ
    if broadcast.state != Broadcast.State.ESTIMATED or (via_messagewhiz and not broadcast.estimate):
        return broadcast.last_error or "Estimate the broadcast again before sending it."
    return ""


def money(amount, currency: str = "") -> str:
    """An amount as pages show it: grouped, two decimals, with its currency ("8,715.84 EUR"); "—" for none."""
    if amount is None or amount == "":
        return "—"
    try:
        value = Decimal(str(amount)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    except InvalidOperation:
        return "—"
    return f"{value:,.2f} {currency}".strip()


def part_rate(remote: dict) -> Decimal | None:
    """MessageWhiz's price of one SMS part, from its estimate: its sum over its messages times parts."""
    batch = remote.get("batchEstimation") or {}
    try:
        messages, parts, total = int(batch["messages"]), int(batch["parts"]), Decimal(str(batch["sum"]))
    except (KeyError, TypeError, ValueError, InvalidOperation):
        return None
    return total / (messages * parts) if messages and parts else None


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def reconciled_estimate(broadcast: Broadcast) -> dict:
    """The one estimate the marketer confirms: messages sent now (a smart broadcast's first segment,
    not its whole audience), SMS parts as we count them with each recipient's tokens filled in, and
    their cost at MessageWhiz's price per part, in the account's currency.

    MessageWhiz's own estimate counts one body with its tokens left empty, so a message that grows
    with names and links costs more than it says; `explanation` says so in a sentence, with its
    figures. Keys: messages, recipients, parts, cost (Decimal or None), currency, explanation.
    """
    local, remote = broadcast.local_estimate or {}, broadcast.estimate or {}
    recipients = int(local.get("recipients") or 0)
    parts = int(local.get("total_parts") or 0)
    messages = recipients
    if broadcast.type == Broadcast.Type.SMART and broadcast.first_segment_size:
        messages = min(broadcast.first_segment_size, recipients)
        # Which recipients MessageWhiz puts in the segment is its choice: their parts pro rata.
        parts = -(-parts * messages // recipients) if recipients else 0
    rate = part_rate(remote)
    cost = (rate * parts).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP) if rate is not None else None
    currency = broadcast.account.currency
    by_country = estimate_rows(countries=local.get("countries") or {}, account=broadcast.account, part_rate=rate)
    priced = [row["cost"] for row in by_country if row["cost"] is not None]
    if rate is None and priced and messages == recipients:  # a generic account's price table
        cost = sum(priced, Decimal(0))
    explanation = ""
    batch = remote.get("batchEstimation") or {}
    if rate is not None:
        theirs = int(batch["messages"]) * int(batch["parts"])
        if theirs != parts:
            explanation = (
                f"MessageWhiz estimated {money(batch['sum'], currency)} for "
                f"{_plural(int(batch['messages']), 'message')} "
                f"of {_plural(int(batch['parts']), 'part')} each, counting the text with names, links and other "
                f"tokens left empty. Filled in for each recipient, the messages come to "
                f"{_plural(parts, 'part')}, so expect about {money(cost, currency)}: you are charged per part.")
    elif broadcast.account.kind != broadcast.account.Kind.MESSAGEWHIZ:
        unpriced = sum(row["recipients"] for row in by_country if row["cost"] is None)
        if not priced:
            explanation = ("This provider gives no prices before sending and its account has no price table: the "
                           "cost shows as its reports arrive.")
        elif unpriced:
            explanation = (f"The account's price table has no price for {_plural(unpriced, 'recipient')} (and no "
                           "default): the estimate leaves them out.")
    return {"messages": messages, "recipients": recipients, "parts": parts, "cost": cost, "currency": currency,
            "explanation": explanation, "by_country": by_country}
