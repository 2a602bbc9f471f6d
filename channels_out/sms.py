"""SMS encoding and segment counting (seed 004 §3.1, GSM 03.38).

A text that fits the GSM 7-bit alphabet is sent as GSM-7: 160 septets in one part, 153 per part when
concatenated (the UDH takes the rest of the 140-byte PDU). Any other character switches the whole text to UCS-2:
70 characters in one part, 67 per part. Seed 004 §3.1 [GAP/INFER]: the extension-table characters
``^ { } \\ [ ] ~ | €`` take two septets (an escape plus the character), so they count 2. A two-septet
character is never split across parts, as handsets cannot join an escape from one part with the next.
Characters outside the Basic Multilingual Plane (most emoji) take two UCS-2 code units.
"""

from __future__ import annotations

from dataclasses import dataclass

GSM7 = "gsm7"
UCS2 = "ucs2"

# GSM 03.38 basic character set (the 128 positions, including the Greek capitals the seed lost as "?").
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# GSM 03.38 extension table: each takes the escape septet plus itself.
GSM7_EXTENSION = frozenset("^{}\\[]~|€\f")

SINGLE = {GSM7: 160, UCS2: 70}
MULTI = {GSM7: 153, UCS2: 67}


@dataclass(frozen=True)
class SmsInfo:
    encoding: str  # GSM7 or UCS2
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    segments: int
    per_segment: int  # the limit of one part for this text (160/153 or 70/67)


def encoding_of(text: str) -> str:
    """Return GSM7 when every character is in the GSM 03.38 tables, otherwise UCS2."""
    if all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text):
        return GSM7
    return UCS2


def _unit_sizes(text: str, encoding: str) -> list[int]:
    if encoding == GSM7:
        return [2 if ch in GSM7_EXTENSION else 1 for ch in text]
    return [2 if ord(ch) > 0xFFFF else 1 for ch in text]


def sms_info(text: str) -> SmsInfo:
    """Count the encoding, units and parts of ``text`` as an SMSC would (seed 004 §3.1 table)."""
    encoding = encoding_of(text)
    sizes = _unit_sizes(text, encoding)
    units = sum(sizes)
    if units <= SINGLE[encoding]:
        return SmsInfo(encoding, units, 1 if units else 0, SINGLE[encoding])
    limit = MULTI[encoding]
    segments, used = 1, 0
    for size in sizes:
        # A two-unit character (GSM escape pair, UTF-16 surrogate pair) never straddles two parts.
        if used + size > limit:
            segments += 1
            used = 0
        used += size
    return SmsInfo(encoding, units, segments, limit)
