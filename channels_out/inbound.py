"""The one inbound dispatch point: every message a contact sends (P2A) reaches its subscribers from here.

Subscribers are other sections (opt-out words, conversations, chatbots). Each registers a callable under a key
at start-up (in its ``AppConfig.ready``); the channel layer calls :func:`inbound_dispatch` once per stored inbound
message, in a worker, after the message row is committed. A subscriber must be idempotent (it may see the same
message again after a worker crash) and must not raise for a message it does not care about.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable
from dataclasses import dataclass

from portal.core.registry import Registry

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class InboundNotice:
    company_id: int
    message_id: int  # the stored inbound message row
    channel: str  # a channels_out.kinds.ChannelKind value
    sender_id: str  # our sender ID / number the contact wrote to
    from_address: str  # the contact's address (E.164 number, e-mail, app id)
    text: str
    received_at: datetime.datetime
    # RCS suggestion replies (a tapped reply or action chip): the chip's postback data and the business message
    # it answers (a Message id, see services._suggestion_replies_link); empty for typed messages.
    postback_data: str = ""
    in_reply_to_id: int | None = None


InboundSubscriber = Callable[[InboundNotice], None]

# Ordered by registration; opt-out words register first so a "STOP" is honoured before a chatbot answers.
inbound_subscribers: Registry[InboundSubscriber] = Registry()


def inbound_dispatch(notice: InboundNotice) -> list[str]:
    """Hand ``notice`` to every subscriber; one failing subscriber does not stop the others.

    Returns the keys of the subscribers that failed (logged with the traceback) so the caller can retry them.
    """
    failed = []
    for key in list(inbound_subscribers):
        try:
            inbound_subscribers.get(key)(notice)
        except Exception:
            logger.exception("inbound subscriber %s failed for message %s", key, notice.message_id)
            failed.append(key)
    return failed
