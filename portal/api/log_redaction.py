"""A logging filter that masks API keys passed in URLs (seed 004 §2.2 ``?access_token=``, §6 check 3).

Loaded by ``LOGGING`` before the apps are ready, so it imports nothing from Django.
"""

from __future__ import annotations

import logging
import re

_QUERY_KEY = re.compile(r"(?i)([?&](?:access_token|api_key)=)[^&\s\"']+")
MASK = "********"


def redact(text: str) -> str:
    return _QUERY_KEY.sub(rf"\g<1>{MASK}", text)


class RedactApiKeysFilter(logging.Filter):
    """Rewrite a record whose message carries a key in a query string; the record is always kept."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a malformed record is not this filter's business
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg = cleaned
            record.args = None
        return True
