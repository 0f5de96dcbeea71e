"""How the HTTP-provider form is laid out: its fields in groups, and when each applies.

Only presentation: static/js/field-rules.js hides a field whose condition does not hold (every
field shows without JavaScript), and GenericProviderForm validates the same either way.

A condition is alternatives separated by "|", each a list of tests joined by "&": `name=a,b` holds
when the field `name` has one of the values, a bare `name` when that checkbox is ticked.
"""

GROUPS = [
    ("Connection", [("name", ""), ("is_active", ""), ("channel", ""), ("method", ""), ("endpoint", ""),
                    ("timeout", ""), ("is_default", ""), ("whatsapp_number", "channel=whatsapp")]),
    ("Authentication", [("auth", ""), ("username", "auth=basic"), ("password", "auth=basic"),
                        ("headers_text", "")]),
    ("Body", [("body_format", "method=POST"), ("body_template", "method=POST&body_format=json,raw"),
              ("params_text", "method=GET|body_format=form"), ("response_id_field", ""),
              ("dedupes_message_id", ""), ("batch_enabled", "method=POST"),
              ("batch_size", "method=POST&batch_enabled"), ("batch_record_template", "method=POST&batch_enabled"),
              ("batch_envelope", "method=POST&batch_enabled")]),
    ("Limits", [("max_concurrency", ""), ("rate_limit", "")]),
    ("Delivery reports", [("dlr_enabled", ""), ("dlr_ref_field", "dlr_enabled"), ("dlr_id_field", "dlr_enabled"),
                          ("dlr_status_field", "dlr_enabled"), ("dlr_error_field", "dlr_enabled"),
                          ("status_map_text", "dlr_enabled")]),
    ("Replies and opt-outs", [("stop_keywords", ""), ("optout_list", ""), ("auto_reply", ""),
                              ("auto_reply_text", "auto_reply"),
                              ("auto_reply_template", "auto_reply&channel=whatsapp")]),
]


def form_groups(form) -> list[tuple[str, list[tuple]]]:
    """[(title, [(bound field, condition), …]), …] for the form's fields; any field no group names
    comes last under "Other", so a field added to the form is never lost from the page."""
    placed = set()
    groups = []
    for title, fields in GROUPS:
        present = [(form[name], condition) for name, condition in fields if name in form.fields]
        placed.update(name for name, _ in fields)
        if present:
            groups.append((title, present))
    rest = [(form[name], "") for name in form.fields if name not in placed]
    if rest:
        groups.append(("Other", rest))
    return groups
