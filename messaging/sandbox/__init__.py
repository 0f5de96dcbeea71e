"""MessageWhiz sandbox: a standalone simulator of the MessageWhiz API v3 (no Django).

Run `python -m messaging.sandbox --host 127.0.0.1 --port 8025 --api-key KEY`. It keeps its own
in-memory state and answers every endpoint of the reference (/work/shared/specs/003_*.txt) with the
documented envelopes, shapes, validation messages and status codes; it sends DLR, click and
"DLR to webhook" callbacks from a background thread.

It is as strict as the reference (there is no lenient mode): paths only in the spellings the
reference shows for each endpoint, `api_key` in the body for /sms and the `apikey` header
elsewhere, JSON bodies for JSON endpoints, the documented field types and required fields,
10-15 digit numbers, no invented errors. Where the reference is silent it takes the least
convenient plausible reading; messaging/messagewhiz/ASSUMPTIONS.md lists each choice.

Modules: `__main__` (CLI), `app` (WSGI app: routing, API key, envelope, faults, request log),
`web` (routes, request body, call context), `errors` (v3 envelope vs NestJS error bodies),
`state` (store, ids, list helpers), `validation`, `ids`, `files` (csv/xlsx/xls import & preview),
`messages` (tokens, parts, simulated messages), `callbacks` (background delivery), `faults`,
`control` (/_sandbox/), `resources/` (the API, one module per area: `crud` is the table of plain
CRUD resources, `sending` turns broadcasts into segments and messages, `reports` reads them back).

Control endpoint (no API key, JSON):
  GET  /_sandbox/health                  {"ok": true}
  POST /_sandbox/reset                   empty state, request log, callback settings/log, faults
  GET|POST /_sandbox/faults              latency_ms, error_rate, error_status, error_apply,
                                         rate_limit_rate, retry_after, timeout_rate, hang_seconds,
                                         timeout_apply, path, fail_next, seed (see faults.py)
  GET|DELETE /_sandbox/requests          ?path=regex&method=POST
  GET  /_sandbox/state[/<collection>]
  POST /_sandbox/seed/<collection>       {"items": [{...}]} → the created objects
  GET|POST /_sandbox/callbacks           delay_ms, statuses, enroute, duplicate_rate, out_of_order,
                                         jitter_ms, click_rate, click_before_dlr, callback_url,
                                         click_url, dlr_webhook_url, batch_size, webhook_flush_ms,
                                         timeout_s, seed (see callbacks.py)
  GET  /_sandbox/callbacks/log           ?kind=dlr|click|dlr_webhook
  POST /_sandbox/callbacks/drain         run every pending delivery event now
  POST /_sandbox/messages/<message_id>/click    {"link_index": 0}
  POST /_sandbox/triggers/<id>/fire      start broadcasts waiting for the trigger

Collections (state and seed): campaigns, recipient_lists, recipients (flattened, each with its
recipient_list_id), senders, sender_lists (sender_ids), unsubscribe_lists (numbers), broadcasts,
segments, messages (keyed by message_id; `planned` holds the drawn fate), links, link_lists
(link_ids), word_spinners, templates, triggers, otps, clicks.
"""
