"""The Contacts subscriber of the inbound dispatch point (channels_out.inbound): opt-out words, guide §8.3."""

from __future__ import annotations

from channels_out.inbound import InboundNotice


def optout_inbound_subscriber(notice: InboundNotice) -> None:
    """Opt the sender out, or back in, as ``contacts.services.optout_inbound_apply`` decides."""
    from contacts.services import optout_inbound_apply

    optout_inbound_apply(
        company_id=notice.company_id,
        channel=notice.channel,
        sender_id=notice.sender_id,
        from_address=notice.from_address,
        text=notice.text,
        received_at=notice.received_at,
        message_id=notice.message_id,
    )
