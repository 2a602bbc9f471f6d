"""The delivery error catalogue: a vendor code becomes a stored code and a readable text.

Sources: guide Appendix 1 "Delivery error troubleshooting" (inventory C, RCS vendor errors 400/401/404 and the
"NA" pipeline errors) and the DLR status/error codes of seed 004 §4.6 (SMS and the other MNO-routed channels).
A code that is in neither list is kept as it came, with a generic text, so that nothing is dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

from channels_out.kinds import ChannelKind


@dataclass(frozen=True)
class ErrorInfo:
    code: str
    status: str  # the vendor's status word (seed 004 §4.6 "Status" column) or a short name
    text: str
    permanent: bool = True


def _dlr(codes: str, status: str, text: str, *, permanent: bool = True) -> dict[str, ErrorInfo]:
    return {c: ErrorInfo(c, status, text, permanent) for c in codes.split()}


# Seed 004 §4.6: DLR code → status.
DLR_ERRORS: dict[str, ErrorInfo] = {
    **_dlr("001 002 015", "INVALID-SUB", "Unknown or illegal subscriber."),
    **_dlr("003 010", "ABSENT-SUB", "Subscriber absent or unidentified.", permanent=False),
    **_dlr("004 006 007", "HANDSET-ERR", "Handset error: illegal equipment or no SMS support."),
    **_dlr("005 020", "BARRED", "SMS prohibited for this subscriber."),
    **_dlr("008 012 017 019", "NET-ERR", "Network error.", permanent=False),
    **_dlr("009", "MEMEXEC", "Handset memory full.", permanent=False),
    **_dlr("011 014 045 462", "FAILED", "SMSC failure or roaming limitation.", permanent=False),
    **_dlr("013", "MOB-OFF", "Handset switched off.", permanent=False),
    **_dlr("016", "HANDSET-BUSY", "Subscriber busy.", permanent=False),
    **_dlr("018", "SERIES-BLK", "Number series blocked."),
    **_dlr("021", "EXPIRED", "Message validity expired before delivery."),
    **_dlr("034 099 461", "UNDELIV", "Undelivered, reason unknown."),
    **_dlr("400", "SERIES-BLOCK", "Number series blocked temporarily or permanently."),
    **_dlr("401", "NO-CREDITS", "Credit exhausted."),
    **_dlr("402", "NO-ACCOUNT", "Invalid account."),
    **_dlr("403 405 406 430 431 432 433", "SERVER-ERR", "Vendor server error.", permanent=False),
    **_dlr("404", "INV-NUMBER", "Invalid destination number."),
    **_dlr("407", "SPAM", "Content refused as illegal."),
    **_dlr("408", "DNDNUMB", "Number is on the do-not-disturb register."),
    **_dlr("450", "BLACKLST", "Number is blocklisted."),
    **_dlr("451", "SNDR-BLOCK", "Sender ID blocked."),
    **_dlr("452", "TEMPLATE-NOT-FOUND", "No matching template."),
    **_dlr("453", "INV-TEMPLATE", "Template not allotted to the account."),
    **_dlr("454", "INV-SENDER", "Sender not allotted to the account."),
    **_dlr("455", "NOT-OPTIN", "Number is not in the opt-in list."),
    **_dlr("456", "OPTOUT-REJ", "Number opted out."),
    **_dlr("457", "PROMO-TMOUT", "Promotional time window exceeded."),
    **_dlr("458", "REJECTED", "Rejected by the vendor."),
    **_dlr("459", "NOTALLOWED", "Country not allowed."),
    **_dlr("460", "DUPLICATE", "Same content already sent."),
    **_dlr("463", "THROTTLED", "Maximum sent limit reached.", permanent=False),
    **_dlr("777", "DLT-REJECTED", "Invalid sender or template (DLT)."),
    **_dlr("778", "REJ-MULTIPART", "Not all parts were delivered."),
}

# Guide Appendix 1: RCS vendor errors as the guide shows them, with the cause the user can act on.
RCS_ERRORS: dict[str, ErrorInfo] = {
    "401": ErrorInfo(
        "401",
        "AUTH",
        "Error sending RCS: the vendor refused the access token (401). The vendor URL or credentials of the "
        "connection are wrong; contact support.",
    ),
    "404": ErrorInfo(
        "404",
        "NOT_FOUND",
        "Error sending RCS: requested entity was not found (404). The recipient has not activated RCS "
        "(chat features).",
    ),
    "400": ErrorInfo(
        "400",
        "INVALID_ARGUMENT",
        "Error sending RCS: user phone number is not of a valid format (400). Check the recipient number's "
        "country and network.",
    ),
}

# Appendix 1 "NA" rows and the portal's own failures (no vendor code).
PORTAL_ERRORS: dict[str, ErrorInfo] = {
    "NO-SENDER-INFO": ErrorInfo(
        "NO-SENDER-INFO", "NA", "Traffic error: sender info not found for this connection; contact support."
    ),
    "NO-CONNECTION": ErrorInfo(
        "NO-CONNECTION",
        "NA",
        "No connection could take the message: every connection of this channel failed or is paused.",
        permanent=False,
    ),
    "WA-NOT-VERIFIED": ErrorInfo(
        "WA-NOT-VERIFIED",
        "NOT_VERIFIED",
        "Only a company verified by WhatsApp may open a conversation with a free message (guide §13.1).",
    ),
    "TIMEOUT": ErrorInfo("TIMEOUT", "TIMEOUT", "The vendor did not answer in time.", permanent=False),
    # Session rules (channels_out.sessions; guide §12.2, §13.1): refused by the portal, never sent.
    "WA-WINDOW-CLOSED": ErrorInfo(
        "WA-WINDOW-CLOSED",
        "WINDOW_CLOSED",
        "The customer has not written within the last 24 hours: only a WhatsApp template can be sent.",
    ),
    "VIBER-NO-SESSION": ErrorInfo(
        "VIBER-NO-SESSION",
        "NO_SESSION",
        "No Viber session: the customer has not written within the last 24 hours.",
    ),
    "VIBER-SESSION-ENDED": ErrorInfo(
        "VIBER-SESSION-ENDED",
        "SESSION_ENDED",
        "The Viber session ended after 60 messages; a new one starts when the customer writes again.",
    ),
    "VIBER-TOO-MANY": ErrorInfo(
        "VIBER-TOO-MANY",
        "SESSION_LIMIT",
        "10 Viber messages were sent in a row without a customer reply; wait for the customer to answer.",
    ),
    # Issue 8: refused by the adapter before any vendor call (the format's checks, or what this vendor lacks).
    "INVALID-CONTENT": ErrorInfo("INVALID-CONTENT", "NA", "The message content is not valid for its format."),
    "FORMAT-UNSUPPORTED": ErrorInfo(
        "FORMAT-UNSUPPORTED", "NA", "The connection's vendor cannot send this message format or file type."
    ),
    "EXPIRED": ErrorInfo("EXPIRED", "EXPIRED", "No final report arrived within the message validity."),
}


def error_describe(channel: str, code: str | None, fallback_text: str = "") -> ErrorInfo:
    """Map a vendor ``code`` of ``channel`` to the catalogue; unknown codes keep the vendor's own text."""
    code = (code or "").strip()
    if not code:
        return ErrorInfo("", "", fallback_text or "Unknown error.")
    if channel == ChannelKind.RCS and code in RCS_ERRORS:
        return RCS_ERRORS[code]
    if code in PORTAL_ERRORS:
        return PORTAL_ERRORS[code]
    if code in DLR_ERRORS:
        return DLR_ERRORS[code]
    return ErrorInfo(code, "", fallback_text or f"Vendor error {code}.")
