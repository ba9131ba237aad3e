"""Phones: every way people write one becomes E.164 where it comes in, impossible ones
are refused with a code, and migration 0013 puts the phones stored before in that form."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from domain.errors import InvalidInput
from domain.members.profile import parse_phone, phone_region, shown_phone
from domain.storage import schema


def refusal(typed: str, country_code: int = 86) -> str:
    with pytest.raises(InvalidInput) as refused:
        parse_phone(typed, country_code)
    return refused.value.code


@pytest.mark.parametrize("typed", [
    "13800138000", "138 0013 8000", "138-0013-8000", "138–0013–8000", "(138) 0013.8000",
    "013800138000",  # with the trunk prefix
    "+8613800138000", "+86 138 0013 8000", "008613800138000", "(0086) 138 0013 8000",
    "(+86) 138 0013 8000",
    "8613800138000",  # the country code without its plus
    # full-width, as Chinese keyboards type
    "１３８００１３８０００", "＋８６ １３８ ００１３ ８０００",
    "  13800138000\u3000",
])
def test_every_spelling_of_a_number_becomes_one_e164_form(typed):
    assert parse_phone(typed, 86) == "+8613800138000"


@pytest.mark.parametrize(("typed", "country_code", "stored"), [
    ("07700 900123", 44, "+447700900123"),  # local in the programme's country
    ("+86 138 0013 8000", 44, "+8613800138000"),  # another country's, with its code
    ("(415) 555-0100", 1, "+14155550100"),
    ("+1 415 555 0100", 86, "+14155550100"),
    ("020 1234 5678", 86, "+862012345678"),  # a landline with its area code
])
def test_local_numbers_are_in_the_programmes_country(typed, country_code, stored):
    assert parse_phone(typed, country_code) == stored


def test_a_shared_contact_carries_its_country_code_even_without_the_plus():
    # Telegram gives the sender's own number without the plus; it is never local.
    assert parse_phone("447700900123", 86, international=True) == "+447700900123"
    assert parse_phone("+8613800138000", 44, international=True) == "+8613800138000"
    assert parse_phone("447700900123", 44) == "+447700900123"  # typed, read the same way


@pytest.mark.parametrize("typed", [
    "138abcd5678", "call me", "13812345678x", "1-800-FLOWERS", "13800138000 ext 5",
    "+86+13812345678", "١٣٨١٢٣٤٥٦٧٨", "", "   ", "+", "()",
])
def test_letters_and_stray_signs_are_refused_as_not_digits(typed):
    assert refusal(typed) == "phone_not_digits"


@pytest.mark.parametrize("typed", [
    "12", "123",  # too short anywhere
    "+86 138 0013 8000 9999",  # too long for China
    "+999 123 456",  # no country has +999
    "123456",  # only diallable inside an area: no area code, so no E.164 form
    "+0086",
])
def test_numbers_that_cannot_be_a_phone_are_refused_as_impossible(typed):
    assert refusal(typed) == "phone_impossible"


@pytest.mark.parametrize(("typed", "country_code"), [
    ("12345678901", 86),  # eleven digits, but no Chinese number starts with 12
    ("+86 100 0000 0000", 86),
    ("07700 900123", 44),  # Ofcom's range for drama: never a real line
])
def test_a_typed_number_no_line_can_have_is_refused_when_it_must_exist(typed, country_code):
    parse_phone(typed, country_code)  # possible: a member stored so is still found by it
    with pytest.raises(InvalidInput) as refused:
        parse_phone(typed, country_code, must_exist=True)
    assert refused.value.code == "phone_no_such_number"


@pytest.mark.parametrize(("typed", "stored"), [
    ("010-6552-9988", "+861065529988"),  # a Beijing landline
    ("138 0013 8000", "+8613800138000"),
    ("+44 7911 123456", "+447911123456"),
])
def test_real_mobiles_and_landlines_pass_when_they_must_exist(typed, stored):
    assert parse_phone(typed, 86, must_exist=True) == stored


def test_a_programme_country_code_no_country_has_still_reads_international_numbers():
    assert phone_region(86) == "CN" and phone_region(44) == "GB" and phone_region(999) is None
    assert parse_phone("+86 138 0013 8000", 999) == "+8613800138000"
    assert refusal("13800138000", 999) == "phone_impossible"


def test_stored_phones_are_shown_grouped_and_old_unreadable_ones_as_they_are():
    assert shown_phone("+8613800138000") == "+86 138 0013 8000"
    assert shown_phone("+442079460958") == "+44 20 7946 0958"
    assert shown_phone("0013") == "0013"


# --- migration 0013 ---------------------------------------------------------------------

_ROW = ("INSERT INTO members (id, phone, phone_verified, locale, marketing_consent, status, "
        "joined_at, last_active_at, referral_code, points_balance, purchase_count) VALUES "
        "(:id, :phone, :verified, 'en', false, 'active', '2026-01-01', '2026-01-01', :code, 0, 0)")

BEFORE = {  # member id -> (phone as stored before, verified)
    1: ("13800138000", False),  # typed locally in /profile
    2: ("+86 138-0013-8001", False),  # typed internationally, spaced
    3: ("008613800138002", False),
    4: ("447700900123", True),  # a shared contact, without its plus
    5: ("+8613800138003", False),  # already E.164
    6: ("ring me", False),  # unreadable: left as it was
    7: ("123", False),  # impossible: left as it was
    8: (None, False),
}


async def _members_before_0013(db, extra: int = 0) -> None:
    await schema.upgrade(db.engine, "0012")
    rows = [{"id": i, "phone": phone, "verified": verified, "code": f"R{i}"}
            for i, (phone, verified) in BEFORE.items()]
    rows += [{"id": 100 + i, "phone": f"139{i:08d}", "verified": False, "code": f"X{i}"}
             for i in range(extra)]
    async with db.engine.begin() as conn:
        await conn.execute(text(_ROW), rows)


async def _phones(db) -> dict[int, str | None]:
    async with db.engine.connect() as conn:
        return dict((await conn.execute(text("SELECT id, phone FROM members"))).all())


async def test_0013_normalises_stored_phones_in_batches_and_down_is_a_no_op(backend):
    db = await backend.empty()
    try:
        await _members_before_0013(db, extra=2_100)  # more than two batches of 1,000
        await schema.upgrade(db.engine, "0013", phone_country_code=86)
        phones = await _phones(db)
        assert {i: phones[i] for i in BEFORE} == {
            1: "+8613800138000", 2: "+8613800138001", 3: "+8613800138002",
            4: "+447700900123", 5: "+8613800138003", 6: "ring me", 7: "123", 8: None}
        assert all(phones[100 + i] == f"+86139{i:08d}" for i in range(2_100))
        await schema.downgrade(db.engine, "0012")
        assert await _phones(db) == phones  # the typed spellings are not kept to restore
        await schema.upgrade(db.engine)
        assert await schema.current(db.engine) == schema.head()
    finally:
        await db.dispose()


async def test_0013_without_the_programmes_country_leaves_local_numbers_alone(backend):
    db = await backend.empty()
    try:
        await _members_before_0013(db)
        await schema.upgrade(db.engine, "0013")
        phones = await _phones(db)
        assert {i: phones[i] for i in BEFORE} == {
            1: "13800138000", 2: "+8613800138001", 3: "008613800138002",
            4: "+447700900123", 5: "+8613800138003", 6: "ring me", 7: "123", 8: None}
    finally:
        await db.dispose()


async def test_0013_reads_local_numbers_in_the_country_it_is_given(backend):
    db = await backend.empty()
    try:
        await _members_before_0013(db)
        async with db.engine.begin() as conn:
            await conn.execute(text(_ROW), {"id": 9, "phone": "07700 900124", "verified": False,
                                            "code": "R9"})
        await schema.upgrade(db.engine, "0013", phone_country_code=44)
        phones = await _phones(db)
        assert phones[9] == "+447700900124" and phones[3] == "+8613800138002"
        assert phones[1] == "13800138000"  # too long for a UK number: left as it was
    finally:
        await db.dispose()
