"""The import's phone check (contacts.services.imports_pipeline.is_valid_national) answers as phonenumbers does.

``is_valid_national`` re-implements ``phonenumbers.is_valid_number`` on precompiled patterns, so it is compared with
the library on every country code: every region's example number of every type, many mutations of them (each digit
changed, a digit added or removed, truncated), random numbers drawn from every pattern of every region (they reach
the number types and leading digits the examples miss) and a seeded random sample of national numbers of 4-14
digits. Then
``phone_normalize``, which uses it, against ``contacts.values.normalize_phone`` for regions that share a country code.
Pure Python: no database.
"""

from __future__ import annotations

import importlib
import random
from collections.abc import Iterator
from typing import Any

import phonenumbers
import pytest
from django.core.exceptions import ValidationError
from phonenumbers import COUNTRY_CODE_TO_REGION_CODE, PhoneMetadata, PhoneNumber, PhoneNumberType

from contacts.services.imports_pipeline import is_valid_national, phone_normalize
from contacts.values import normalize_phone

# The regular expression parser, to draw numbers from the metadata's patterns (no public API; typeshed has no stubs).
_parser: Any = importlib.import_module("re._parser")
_constants: Any = importlib.import_module("re._constants")
DIGITS = "0123456789"
TYPES = [value for name, value in vars(PhoneNumberType).items() if name.isupper() and isinstance(value, int)]
DESCS = ["general_desc", "fixed_line", "mobile", "toll_free", "premium_rate", "shared_cost", "personal_number",
         "voip", "pager", "uan", "voicemail"]  # fmt: skip


def _examples(country_code: int) -> set[str]:
    """National significant numbers of the example numbers of every type of every region of the country code."""
    numbers = []
    for region in COUNTRY_CODE_TO_REGION_CODE[country_code]:
        if region == phonenumbers.REGION_CODE_FOR_NON_GEO_ENTITY:
            numbers.append(phonenumbers.example_number_for_non_geo_entity(country_code))
            # That is one number; the other types' examples straight from the metadata.
            metadata = PhoneMetadata.metadata_for_nongeo_region(country_code)
            for name in DESCS:
                desc = getattr(metadata, name)
                if desc is not None and desc.example_number:
                    numbers.append(phonenumbers.parse(f"+{country_code}{desc.example_number}"))
        else:
            numbers.extend(phonenumbers.example_number_for_type(region, kind) for kind in TYPES)
    return {phonenumbers.national_significant_number(number) for number in numbers if number is not None}


def _sample(pattern: str, rng: random.Random) -> str:
    """A random string matching ``pattern`` (written with the few constructs the metadata uses)."""

    def chars(items: Any) -> list[str]:
        found = []
        for op, value in items:
            if op is _constants.LITERAL:
                found.append(chr(value))
            elif op is _constants.RANGE:
                found.extend(chr(code) for code in range(value[0], value[1] + 1))
            else:
                assert (op, value) == (_constants.CATEGORY, _constants.CATEGORY_DIGIT), pattern
                found.extend(DIGITS)
        return found

    def walk(items: Any) -> str:
        text = ""
        for op, value in items:
            if op is _constants.LITERAL:
                text += chr(value)
            elif op is _constants.IN:
                text += rng.choice(chars(value))
            elif op is _constants.MAX_REPEAT:
                least, most, repeated = value
                text += "".join(walk(repeated) for _time in range(rng.randint(least, min(most, least + 3))))
            else:
                assert op is _constants.BRANCH, pattern
                text += walk(rng.choice(value[1]))
        return text

    return walk(_parser.parse(pattern))


def _pattern_samples(country_code: int, rng: random.Random) -> set[str]:
    numbers: set[str] = set()
    for region in COUNTRY_CODE_TO_REGION_CODE[country_code]:
        metadata = PhoneMetadata.metadata_for_region_or_calling_code(country_code, region)
        for name in DESCS:
            desc = getattr(metadata, name)
            if desc is not None and desc.national_number_pattern:
                numbers.update(_sample(desc.national_number_pattern, rng) for _sample_no in range(12))
    return numbers


def _mutations(national: str) -> Iterator[str]:
    for i in range(len(national)):
        for digit in DIGITS:
            yield national[:i] + digit + national[i + 1 :]  # a digit changed
        yield national[:i] + national[i + 1 :]  # a digit removed
        yield national[:i]  # truncated
    for i in range(len(national) + 1):
        for digit in DIGITS:
            yield national[:i] + digit + national[i:]  # a digit added


def _nationals(country_code: int, rng: random.Random) -> set[str]:
    numbers = set()
    for example in _examples(country_code):
        numbers.add(example)
        numbers.update(_mutations(example))
    numbers.update(_pattern_samples(country_code, rng))
    for length in range(4, 15):
        for _sample in range(15):
            numbers.add(str(rng.randrange(10 ** (length - 1), 10**length)))
    # is_valid_national is only given national significant numbers without a leading zero (see _e164_fast).
    return {number for number in numbers if number and number[0] != "0"}


def test_every_region_belongs_to_its_country_code() -> None:
    # is_valid_national leaves out is_valid_number_for_region's check that the region's country code is the
    # number's: this is why.
    for country_code, regions in COUNTRY_CODE_TO_REGION_CODE.items():
        for region in regions:
            if region != phonenumbers.REGION_CODE_FOR_NON_GEO_ENTITY:
                assert phonenumbers.country_code_for_region(region) == country_code, region


def test_is_valid_national_answers_as_is_valid_number() -> None:
    rng = random.Random(20261123)
    disagreements = []
    checked = valid = 0
    for country_code in sorted(COUNTRY_CODE_TO_REGION_CODE):
        for national in sorted(_nationals(country_code, rng)):
            expected = phonenumbers.is_valid_number(
                PhoneNumber(country_code=country_code, national_number=int(national))
            )
            if is_valid_national(country_code, national) != expected:
                disagreements.append(f"+{country_code} {national}: library says {expected}")
            checked += 1
            valid += expected
    assert disagreements == []
    # Both answers well represented.
    assert checked > 200_000
    assert valid > 50_000


def _outcome(raw: str, country: str, function: Any) -> tuple[str, str]:
    try:
        return "ok", function(raw, country=country)
    except ValidationError as exc:
        return exc.code or "", " ".join(exc.messages)


# NANP regions (US, Canada, the Caribbean) and the other country codes shared by several regions.
SHARED = ["US", "CA", "JM", "BS", "DO", "PR", "TT", "AG", "BB", "KY", "VG", "SX", "RU", "KZ", "GB", "GG", "IM", "JE",
          "NO", "SJ", "AU", "CC", "CX", "RE", "YT", "GP", "BL", "MF", "CW", "BQ"]  # fmt: skip


def _raw_numbers() -> list[str]:
    rng = random.Random(7)
    numbers = []
    for region in SHARED:
        country_code = phonenumbers.country_code_for_region(region)
        for kind in TYPES:
            example = phonenumbers.example_number_for_type(region, kind)
            if example is None:
                continue
            national = phonenumbers.national_significant_number(example)
            numbers.append(f"+{country_code}{national}")
            numbers.extend(
                f"+{country_code}{mutation}" for mutation in rng.sample(list(_mutations(national)), 12)
            )
        numbers.extend(f"+{country_code}{rng.randrange(10**6, 10**11)}" for _sample_no in range(30))
    # Other spellings the fast path also takes or must leave to normalize_phone.
    extra = [f"00{number[1:]}" for number in numbers[::7]] + [f"{number[1:]}.0" for number in numbers[3::7]]
    return numbers + extra + [" +12015550101 ", "+1 201 555 0101", "+1", "+12", "", "+447911123456x1"]


@pytest.mark.parametrize("country", ["US", "GB", ""])
def test_phone_normalize_gives_what_normalize_phone_gives(country: str) -> None:
    for raw in _raw_numbers():
        assert _outcome(raw, country, phone_normalize) == _outcome(raw, country, normalize_phone), raw
