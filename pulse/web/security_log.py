"""The security log: one JSON object per line on the `pulse.security` logger, for whoever watches
sign-ins and refusals (a SIEM, `journalctl | jq`, a person).

What is logged: sign-in successes and failures, throttled attempts and lockouts, sign-in link
use and refusal, sign-outs, password changes, CSRF refusals, Slack signature refusals, every
state-changing request of a signed-in person (approvals, rejections, edits) with its outcome,
and every verified Slack click with the Slack user and the person it is mapped to. Never a password, a token, a session id, a cookie or a URL that carries one: callers
pass named fields, and only those in `FIELDS` are written, each bounded (an email is whatever a
visitor typed). JSON escapes every control character, so nothing in a line can forge another
line or reach a terminal as an escape sequence.

`pulse serve` writes these lines to stderr (`install_handler`); in tests, `caplog` sees each
event's dict as the record's `security_event`.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

LOGGER_NAME = "pulse.security"
log = logging.getLogger(LOGGER_NAME)

FIELDS = ("email", "address", "method", "reason", "held_by", "wait_seconds", "endpoint", "post_id", "status",
          "sessions_ended", "user_agent", "slack_user")
_MAX_CHARS = 256


def event(name: str, **fields) -> dict:
    """Log one security event; returns what was written."""
    unknown = set(fields) - set(FIELDS)
    if unknown:  # a programming error: a new field must be reviewed here (no secrets) first
        raise ValueError(f"security_log: fields not allowed: {sorted(unknown)}")
    record = {"ts": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z", "event": name}
    for key in FIELDS:
        value = fields.get(key)
        if value is None:
            continue
        if isinstance(value, float):
            value = round(value, 1)
        elif not isinstance(value, (int, bool)):
            value = str(value)[:_MAX_CHARS]
        record[key] = value
    log.info(json.dumps(record, ensure_ascii=True), extra={"security_event": record})
    return record


class _Line(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return record.getMessage()


def install_handler(stream=None) -> logging.Handler:
    """Write the security log to `stream` (stderr) as JSON lines, once per process."""
    for handler in log.handlers:
        if getattr(handler, "pulse_security", False):
            return handler
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(_Line())
    handler.pulse_security = True
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    return handler
