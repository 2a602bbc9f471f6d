"""SMS encoding and segment counting at the seed 004 §3.1 boundaries."""

from __future__ import annotations

import pytest

from channels_out.sms import GSM7, UCS2, encoding_of, sms_info


@pytest.mark.parametrize(
    ("text", "encoding", "segments"),
    [
        ("", GSM7, 0),
        ("a" * 160, GSM7, 1),
        ("a" * 161, GSM7, 2),
        ("a" * 306, GSM7, 2),
        ("a" * 307, GSM7, 3),
        ("a" * 459, GSM7, 3),
        ("a" * 460, GSM7, 4),
        ("я" * 70, UCS2, 1),
        ("я" * 71, UCS2, 2),
        ("я" * 134, UCS2, 2),
        ("я" * 135, UCS2, 3),
        ("я" * 201, UCS2, 3),
        ("я" * 202, UCS2, 4),
    ],
)
def test_seed_004_table_boundaries(text: str, encoding: str, segments: int) -> None:
    info = sms_info(text)
    assert (info.encoding, info.segments) == (encoding, segments)


def test_extension_characters_count_two_septets() -> None:
    """€ and [ ] { } ~ ^ | \\ take an escape septet each, so 80 of them fill a 160-septet part."""
    assert sms_info("€" * 80).units == 160
    assert sms_info("€" * 80).segments == 1
    assert sms_info("€" * 80 + "a").segments == 2
    assert sms_info("a" * 159 + "{").segments == 2


def test_escape_pair_never_straddles_two_parts() -> None:
    """152 plain septets then '[': the pair does not fit in part 1 (153) so it moves whole to part 2."""
    text = "a" * 152 + "[" + "a" * 152
    info = sms_info(text)
    assert info.units == 306
    assert info.segments == 3  # 152 | 2+151 | 1: without splitting the pair, 306 septets need three parts


def test_one_non_gsm_character_switches_the_whole_text_to_ucs2() -> None:
    assert encoding_of("Hola señor") == GSM7  # ñ is in the GSM table
    assert encoding_of("Olá") == UCS2  # á is not
    assert sms_info("a" * 69 + "ś").segments == 1
    assert sms_info("a" * 70 + "ś").segments == 2


def test_emoji_outside_the_bmp_take_two_ucs2_units() -> None:
    info = sms_info("😀" * 35)
    assert (info.encoding, info.units, info.segments) == (UCS2, 70, 1)
    assert sms_info("😀" * 36).segments == 2
