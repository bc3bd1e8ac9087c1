"""One JSON object per log line (``LOG_FORMAT=json``), for log shippers.

Fields: ``time`` (UTC, ISO 8601), ``level``, ``logger``, ``message``, ``exc`` (the
traceback, when there is one) and every ``extra=`` key the call passed, so a delivery
line carries ``message_id``, ``rule_id``, ``campaign_id`` as fields to filter on.
"""

import json
import logging
from datetime import UTC, datetime

# Attributes every LogRecord has; anything else on a record came from ``extra=``.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exc"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        # default=str: an extra that is a datetime or a Decimal must not lose the line.
        return json.dumps(entry, default=str, ensure_ascii=False)
