"""Delivery reports from generic providers: the account's field mapping → our canonical statuses.

A report may arrive as a JSON object, a JSON array of objects, a form body or a GET query. Each
record names a message by our $$MessageID (`dlr_ref_field`) and/or the provider's id
(`dlr_id_field`), and a status whose value the account's table maps to one of ours. Matching of
values is case-insensitive; dotted field names reach into nested objects (`data.status`).

Applying goes through callbacks.services, the one place that moves statuses forward and keeps
broadcast counters exact: each mapped record is handed over in the shape of a MessageWhiz DLR
(which that service already reads), with the provider's original record kept beside it for the
raw event log.
"""

from dataclasses import dataclass
from urllib.parse import parse_qsl

from ... import safejson
from ..inbound import strip_nul
from .request import json_path

# campaigns.Message.Status values a report may map to (messaging sits below campaigns and does not
# import it; tests/providers/test_dlr.py checks the two agree).
CANONICAL_STATUSES = ("submitted", "enroute", "accepted", "unknown", "delivered", "undelivered", "expired",
                      "rejected", "failed", "deleted")
# Our status → the MessageWhiz status word callbacks.parsing reads.
STATUS_WORDS = {
    "submitted": "QUEUED", "enroute": "ENROUTE", "accepted": "ACCEPTD", "unknown": "UNKNOWN",
    "delivered": "DELIVRD", "undelivered": "UNDELIV", "expired": "EXPIRED", "rejected": "REJECTD",
    "failed": "FAILED", "deleted": "DELETED",
}
MAX_RECORDS = 1000
MAX_FIELD = 160


class Malformed(ValueError):
    """A body the provider has to fix; str() is the reason given in the 400 answer."""


@dataclass(frozen=True, slots=True)
class MappedReport:
    client_ref: str
    message_id: str
    status: str  # one of CANONICAL_STATUSES
    error: str
    record: dict


def records_from_request(*, method: str, content_type: str, body: bytes, query: dict) -> list[dict]:
    if method == "GET":
        if not query:
            raise Malformed("no report fields in the query")
        return [query]
    text = body.decode("utf-8", "strict") if body else ""
    if "json" in content_type or text.lstrip()[:1] in ("{", "["):
        try:
            value = safejson.loads(text)
        except safejson.JSONError as exc:
            raise Malformed(f"body is {exc}") from None
        records = value if isinstance(value, list) else [value]
        if not records or not all(isinstance(r, dict) for r in records):
            raise Malformed("expected a JSON object or an array of objects")
        if len(records) > MAX_RECORDS:
            raise Malformed(f"at most {MAX_RECORDS} reports per request")
        return records
    pairs = dict(parse_qsl(text, keep_blank_values=True))
    if not pairs:
        raise Malformed("empty body")
    return [pairs]


def map_records(config, records: list[dict]) -> tuple[list[MappedReport], int]:
    """The records this account's mapping understands, and how many it skipped (unknown status value)."""
    table = {str(k).strip().casefold(): v for k, v in (config.dlr_status_map or {}).items()}
    mapped, skipped = [], 0
    for record in records:
        ref = _field(record, config.dlr_ref_field)
        provider_id = _field(record, config.dlr_id_field)
        if not (ref or provider_id):
            raise Malformed("a report names no message")
        raw_status = _field(record, config.dlr_status_field)
        if not raw_status:
            raise Malformed(f"{config.dlr_status_field or 'status'} is required")
        status = table.get(raw_status.casefold())
        if status not in STATUS_WORDS:
            skipped += 1  # a value nobody mapped: our configuration, not the sender's mistake
            continue
        mapped.append(MappedReport(client_ref=ref, message_id=provider_id[:64], status=status,
                                   error=strip_nul(_field(record, config.dlr_error_field, 1000)), record=record))
    return mapped, skipped


def _field(record: dict, path: str, limit: int = MAX_FIELD) -> str:
    if not path:
        return ""
    # A flat form or query may carry the dotted name itself.
    value = record[path] if path in record else json_path(record, path)
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return ""
    return str(value).strip()[:limit]


def messagewhiz_shape(report: MappedReport) -> dict:
    """The report as a MessageWhiz single-message DLR, for callbacks.services."""
    shaped = {"status": STATUS_WORDS[report.status], "generic_report": report.record}
    if report.client_ref:
        shaped["client_ref"] = report.client_ref
    if report.message_id:
        shaped["message_id"] = report.message_id
    return shaped
