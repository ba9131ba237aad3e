"""/profile: complete or edit name, phone, birthday and marketing consent (recorded by
domain/privacy/consents.py; a member who agreed can withdraw in one tap here).

Every step can be skipped, by its Skip button or by typing "skip" or "跳过" (on Telegram
the phone step's keyboard is the "share my number" one, which hides the Skip button),
bad values are explained and asked again, and finishing the profile for the first time
earns the programme's completion points. The flow is drawn in profile.mmd beside this
file.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Awaitable, Callable

from domain.errors import InvalidInput
from domain.members import members
from domain.members.profile import parse_birthday, parse_name, parse_phone, shown_phone
from domain.privacy import consents
from handlers.engine import answers
from handlers.engine.engine import CONTACT_SHARED
from handlers.engine.routing import Ctx, Flow, Outcome, Router
from handlers.engine.types import Button, Reply, Text, button, reply
from handlers.engine.words import yes_no
from handlers.privacy.privacy import STOP_MARKETING

FIELDS = ("name", "phone", "birthday", "consent")
ASKING = {field: f"profile.{field}" for field in FIELDS}  # the state asking each field
# A birthday typed without separators: MMDD ("0314") or YYYYMMDD ("19900314").
COMPACT_BIRTHDAY = re.compile(r"(?P<y>(?:19|20)\d\d)?(?P<m>0[1-9]|1[0-2])(?P<d>\d\d)")
FLOW = Flow.beside(__file__, "profile.mmd", *ASKING.values())
router = Router(flows=[FLOW])


@router.command("profile")
async def profile(ctx: Ctx) -> Outcome:
    return Outcome([_summary(ctx)])


@router.action("profile:walk")
async def walk(ctx: Ctx) -> Outcome:
    """Ask for what is missing, in order; if nothing is, go through everything."""
    todo = [f for f in FIELDS if not _filled(ctx, f)] or list(FIELDS)
    return _ask(ctx, todo[0], {"todo": todo[1:]})


@router.action("profile:edit")
async def edit(ctx: Ctx) -> Outcome:
    field = (ctx.action or "").rsplit(":", 1)[-1]
    if field not in FIELDS:
        return Outcome([reply("error.button_expired")])
    return _ask(ctx, field, {"todo": []})


@router.action("profile:done")
async def done(ctx: Ctx) -> Outcome:
    return Outcome([reply("profile.closed")])


@router.action(CONTACT_SHARED)
async def contact(ctx: Ctx) -> Outcome:
    """A contact the platform vouches for: the phone is saved as verified, mid-walk or not.
    It carries its country code (Telegram leaves out the plus). It is a real line, so
    it is not held to phonenumbers' ranges, which lag behind newly issued numbers."""
    try:
        ctx.member.phone = parse_phone(ctx.inbound.phone or "", ctx.programme.phone_country_code,
                                       international=True)
    except InvalidInput as bad:
        return Outcome([reply(f"profile.invalid.{bad.code}", **bad.params)])
    ctx.member.phone_verified = True
    said = [reply("profile.saved_phone_verified")]
    if ctx.state == ASKING["phone"]:
        return await _next(ctx, said)
    return Outcome([*said, _summary(ctx)])


def _ask(ctx: Ctx, field: str, data: dict) -> Outcome:
    rows: list[tuple[Button, ...]] = [(button("profile.skip", "profile:skip"),)]
    key = f"profile.ask_{field}"
    if field == "phone" and ctx.inbound.shares_contact:
        # The share keyboard hides the Skip button: the question says how to skip.
        rows = [(button("profile.share_phone", "contact:request"),), *rows]
        key = "profile.ask_phone_share"
    if field == "consent":
        rows = [(button("word.yes", "profile:consent:yes"),
                 button("word.no", "profile:consent:no")),
                (button("profile.skip", "profile:skip"),)]
    return Outcome([reply(key, *rows)], state=ASKING[field], data=data)


async def _next(ctx: Ctx, said: list[Reply]) -> Outcome:
    bonus = await members.award_profile_completion(ctx.uow, ctx.programme, ctx.member, ctx.now)
    if bonus:
        said.append(reply("profile.completed_bonus", points=bonus))
    todo = list(ctx.data.get("todo", []))
    if todo:
        asked = _ask(ctx, todo[0], {"todo": todo[1:]})
        return Outcome(said + asked.replies, asked.state, asked.data)
    return Outcome([*said, _summary(ctx)])


def _step(field: str, apply: Callable[[Ctx], Awaitable[None]]) -> None:
    @router.state(ASKING[field])
    async def step(ctx: Ctx) -> Outcome:
        if ctx.action == "profile:skip" or (ctx.action is None and answers.skipping(ctx.text)):
            return await _next(ctx, [])
        try:
            await apply(ctx)
        except InvalidInput as bad:
            again = _ask(ctx, field, ctx.data)
            return Outcome([reply(f"profile.invalid.{bad.code}", **bad.params),
                            *again.replies], again.state, again.data)
        return await _next(ctx, [reply(f"profile.saved_{field}")])


async def _set_name(ctx: Ctx) -> None:
    _need_text(ctx)
    ctx.member.display_name = parse_name(ctx.text)


async def _set_phone(ctx: Ctx) -> None:
    _need_text(ctx)
    ctx.member.phone = parse_phone(ctx.text, ctx.programme.phone_country_code,
                                   must_exist=True)
    ctx.member.phone_verified = False


async def _set_birthday(ctx: Ctx) -> None:
    _need_text(ctx)
    members.set_birthday(ctx.member, parse_birthday(separated(ctx.text),
                                                    ctx.local(ctx.now).date()))


def separated(text: str) -> str:
    """"0314" -> "03-14", "19900314" -> "1990-03-14": digits alone read as MM-DD, as the
    question asks, when the first two can be a month; anything else as typed. A year
    alone ("1990") is left for the parser to refuse."""
    typed = unicodedata.normalize("NFKC", text).strip()
    found = COMPACT_BIRTHDAY.fullmatch(typed)
    if found is None:
        return text
    day = f"{found['m']}-{found['d']}"
    return f"{found['y']}-{day}" if found["y"] else day


async def _set_consent(ctx: Ctx) -> None:
    answer = {"profile:consent:yes": True, "profile:consent:no": False}.get(ctx.action or "")
    if answer is None:
        raise InvalidInput("consent_use_buttons")
    await consents.choose(ctx.uow, ctx.programme, ctx.member, "marketing", answer,
                          ctx.inbound.platform, ctx.now)


def _need_text(ctx: Ctx) -> None:
    if ctx.action is not None or not ctx.text:
        raise InvalidInput("text_expected")


_step("name", _set_name)
_step("phone", _set_phone)
_step("birthday", _set_birthday)
_step("consent", _set_consent)


def _filled(ctx: Ctx, field: str) -> bool:
    m = ctx.member
    return {"name": bool(m.display_name), "phone": bool(m.phone),
            "birthday": m.birth_month is not None, "consent": m.consent_at is not None}[field]


def _summary(ctx: Ctx) -> Reply:
    m = ctx.member
    unset = Text("profile.unset")
    birthday: Text | str = unset
    if m.birth_month:
        birthday = (f"{m.birth_year:04d}-{m.birth_month:02d}-{m.birth_day:02d}" if m.birth_year
                    else f"{m.birth_month:02d}-{m.birth_day:02d}")
    rows: list[tuple[Button, ...]] = [
        (button("profile.field_name", "profile:edit:name"),
         button("profile.field_phone", "profile:edit:phone")),
        (button("profile.field_birthday", "profile:edit:birthday"),
         button("profile.field_consent", "profile:edit:consent")),
    ]
    if m.marketing_consent:  # withdrawn in one tap, as from any offer
        rows.append((button("privacy.stop_marketing", STOP_MARKETING),))
    if not members.profile_complete(m):
        rows.append((button("profile.fill_missing", "profile:walk"),
                     button("profile.done", "profile:done")))
    else:
        rows.append((button("profile.done", "profile:done"),))
    return reply("profile.summary", *rows, name=m.display_name or unset,
                 phone=shown_phone(m.phone) if m.phone else unset, birthday=birthday,
                 consent=yes_no(m.marketing_consent) if m.consent_at else unset)
