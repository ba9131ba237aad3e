"""Members' phones are stored in one form, E.164

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-09

/profile kept a phone as it was typed ("13800138000", "+86 138-0013-8000") and a
shared contact as the platform gave it ("8613800138000"), so the import looked a
phone up in several spellings and the purchases API missed the others. Phones are
now normalised where they come in (domain.members.profile.parse_phone), and found by
an exact match on ix_members_phone; this puts the phones already stored in that form.

A number without its country code is read in the programme's `phone_country_code`,
which the runner hands in (domain.storage.schema.upgrade; `alembic -x
phone_country_code=86 upgrade head` from a checkout). Without it such a number is
left as it was, as is any number phonenumbers cannot read as a possible one: a
wrong guess would file the member under someone else's number. A verified phone came
from a platform's shared contact, which always carries its country code.

The rows are read and rewritten a batch at a time, in id order, so memory and each
statement stay small; the runner (domain.storage.schema) applies every migration in
one transaction before the process serves, so the batches share it.
"""

import re
import unicodedata
from collections.abc import Sequence

import phonenumbers
import sqlalchemy as sa
from alembic import context, op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 1000
_MEMBERS = sa.table("members", sa.column("id", sa.BigInteger), sa.column("phone", sa.String),
                    sa.column("phone_verified", sa.Boolean))
_TYPED = re.compile(r"[\s(]*\+?[\s().\-\u2010-\u2015]*[0-9][0-9\s().\-\u2010-\u2015]*")


def _country_code() -> int | None:
    given = (context.config.attributes.get("phone_country_code")
             or context.get_x_argument(as_dictionary=True).get("phone_country_code"))
    return int(given) if given else None


def _e164(phone: str, verified: bool, region: str | None) -> str | None:
    """The phone in E.164, or None to leave it as it is."""
    typed = unicodedata.normalize("NFKC", phone).strip()
    if not _TYPED.fullmatch(typed):
        return None
    if verified and "+" not in typed:
        typed = "+" + typed
    if region is None and "+" not in typed:
        return None  # a local number, and no country to read it in
    try:
        number = phonenumbers.parse(typed, region)
    except phonenumbers.NumberParseException:
        return None
    if (phonenumbers.is_possible_number_with_reason(number)
            != phonenumbers.ValidationResult.IS_POSSIBLE):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def upgrade() -> None:
    conn = op.get_bind()
    code = _country_code()
    region = phonenumbers.region_code_for_country_code(code) if code else None
    region = None if region == phonenumbers.UNKNOWN_REGION else region
    last = 0
    while rows := conn.execute(
            sa.select(_MEMBERS.c.id, _MEMBERS.c.phone, _MEMBERS.c.phone_verified)
            .where(_MEMBERS.c.phone.is_not(None), _MEMBERS.c.id > last)
            .order_by(_MEMBERS.c.id).limit(BATCH)).all():
        last = rows[-1].id
        changed = [{"member_id": row.id, "new_phone": new} for row in rows
                   if (new := _e164(row.phone, bool(row.phone_verified), region))
                   not in (None, row.phone)]
        if changed:
            conn.execute(_MEMBERS.update().where(_MEMBERS.c.id == sa.bindparam("member_id"))
                         .values(phone=sa.bindparam("new_phone")), changed)


def downgrade() -> None:
    """Nothing to undo: the spellings typed before are not kept, and the revisions
    before this one read an E.164 phone like any other (the "+" form /profile took)."""
