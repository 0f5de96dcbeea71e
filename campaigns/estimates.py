"""Before anything is sent: token checks, our own pre-estimate, and MessageWhiz's estimate.

The pre-estimate renders the message for every recipient the broadcast would reach (after
de-duplication across lists and unsubscribe exclusion), worst case for word spinners, and counts
SMS parts per recipient. A body without personal tokens is counted once.
"""

import dataclasses
from collections import Counter

from django.utils import timezone

from messaging.messagewhiz.client import MessageWhizClient
from messaging.messagewhiz.errors import MessageWhizError
from recipients.selectors import recipients_for_send

from . import rendering, sms, tracking
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


def body_problems(body: str, *, account, otp: bool = False) -> list[rendering.Problem]:
    return _checked(body, account, token_objects(account), otp=otp)


def _checked(body: str, account, objects: dict, *, otp: bool = False) -> list[rendering.Problem]:
    problems = rendering.check(body, otp=otp, **objects)
    if tracking.uses_own_links(account):
        problems = sorted(problems + tracking.unsupplied_problems(body), key=lambda p: (p.start, p.end))
    return problems


def render_context(account, *, spinners, worst_case: bool = False) -> rendering.RenderContext:
    """How the account's recipients' texts are rendered: with MessageWhiz's short links counted by
    a placeholder of their length, or with the Textcast links we send ourselves."""
    if tracking.uses_own_links(account):
        return tracking.render_context(spinners=spinners, worst_case=worst_case)
    return rendering.RenderContext(spinners=spinners, worst_case=worst_case)


def broadcast_problems(broadcast: Broadcast, *, objects: dict | None = None) -> list[rendering.Problem]:
    """Token problems of everything the broadcast may send: its body or template, and each of a
    manual smart broadcast's templates (named in the message, since their spans are not the body's)."""
    objects = objects or token_objects(broadcast.account)
    problems = _checked(broadcast_body(broadcast), broadcast.account, objects)
    for template in broadcast.templates.all():
        problems += [dataclasses.replace(p, message=f"in template “{template}”: {p.message}")
                     for p in _checked(template.body, broadcast.account, objects)]
    return problems


def problems_summary(problems: list[rendering.Problem]) -> str:
    """The errors among `problems` (what stops a send) in one line; "" when there are none."""
    return "; ".join(f"{p.text or 'message'}: {p.message}" for p in problems if p.severity == rendering.ERROR)


def typical_token_values(spinners) -> dict[str, str]:
    """What the live counter puts in place of each token: the text the estimate renders for
    TYPICAL_RECIPIENT (longest word for spinners). Keys are token names, `name:*` for any id
    (links), and `word_spinner:ID` for each of `spinners` (remote id → spinner)."""
    context = rendering.RenderContext(spinners=spinners, worst_case=True)

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
    renderer = rendering.compile(body, context=render_context(broadcast.account, spinners=objects["spinners"],
                                                              worst_case=True))
    if broadcast.type == Broadcast.Type.SINGLE:
        recipients = [{"phone": broadcast.recipient}]
        count = 1
    else:
        selected = recipients_for_send(
            recipient_list_ids=list(broadcast.recipient_lists.values_list("pk", flat=True)),
            unsubscribe_list_ids=list(broadcast.unsubscribe_lists.values_list("pk", flat=True)),
        )
        count = None  # counted while rendering, rather than by a second pass over the lists
        recipients = selected.values(*RECIPIENT_FIELDS).iterator(chunk_size=10_000)
    if renderer.static_text is not None:
        count = selected.count() if count is None else count
        distribution = Counter({sms.count_parts(renderer.static_text): count}) if count else Counter()
    else:
        distribution = sms.parts_distribution(renderer(recipient) for recipient in recipients)
        count = sum(distribution.values())
    sample = sms.count(renderer(TYPICAL_RECIPIENT))
    return {
        "recipients": count,
        "parts": {str(parts): n for parts, n in sorted(distribution.items())},
        "total_parts": sum(parts * n for parts, n in distribution.items()),
        "encoding": sample.encoding,
        "ucs2_chars": [c.char for c in sample.ucs2_chars],
        "problems": [{"start": p.start, "end": p.end, "text": p.text, "message": p.message, "severity": p.severity}
                     for p in problems],
    }


def remote_estimate(broadcast: Broadcast) -> dict:
    """MessageWhiz's own estimate (messages, parts, sum, rates, warnings, estimateHash)."""
    from .sending import remote_ids

    b = broadcast
    smart = b.type == Broadcast.Type.SMART
    request = {
        "broadcast_type": b.type,
        "message_body": b.body or None,
        "template_id": remote_ids([b.template], "Template")[0] if b.template else None,
        "unsubscriber_list_ids": remote_ids(b.unsubscribe_lists.all(), "Unsubscribe list") or None,
        "eb_type": b.eb_type or None if smart else None,
        "first_segment_size": b.first_segment_size if smart else None,
        "next_segment_size": b.next_segment_size if smart and b.eb_type == "CTR" else None,
        "recipient_cap": b.recipient_cap if smart and b.eb_type == "CTR" else None,
        "template_ids": (remote_ids(b.templates.all(), "Template") or None) if smart else None,
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
    via_messagewhiz = broadcast.account.kind == broadcast.account.Kind.MESSAGEWHIZ
    if broadcast.state != Broadcast.State.ESTIMATED or (via_messagewhiz and not broadcast.estimate):
        return broadcast.last_error or "Estimate the broadcast again before sending it."
    return ""
