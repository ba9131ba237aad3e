"""`memberbot member`: an operator's look at one member, and the tier floor."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime, tzinfo

from bot.app import App, lifespan
from bot.settings import Settings
from domain.config import Tiers
from domain.errors import UnknownMember, UnknownTier
from domain.members import members
from domain.members.profile import shown_phone
from domain.members.tables import Member
from domain.points import ledger
from domain.storage import schema
from domain.tiers import tiers


async def run(args: argparse.Namespace, settings: Settings) -> int:
    if not args.number.isascii() or not args.number.isdigit():
        print(f"not a member number: {args.number!r}", file=sys.stderr)
        return 2
    async with lifespan(settings, migrate=False) as app:
        if await schema.current(app.db.engine) != schema.head():
            print("the database schema is not current: run `memberbot db upgrade` first",
                  file=sys.stderr)
            return 1
        return await _act(args, app)


async def _act(args: argparse.Namespace, app: App) -> int:
    async with app.db.uow() as uow:
        now = datetime.now(UTC)
        try:
            member = await members.get(uow, int(args.number))
            if args.member_command == "floor":
                code = None if args.tier == "none" else args.tier
                decision = await tiers.set_floor(uow, app.programme.tiers, member.id, code, now)
                await uow.commit()
                ladder = app.programme.tiers
                floor = tier_text(ladder, code) if code else "none"
                print(f"{members.member_number(member.id)}: floor {floor}, "
                      f"tier {tier_text(ladder, decision.code)} ({decision.reason})")
                return 0
            await _show(uow, member, now, app.programme.tiers, app.programme.zone)
        except UnknownMember:
            print(f"no member {members.member_number(int(args.number))}", file=sys.stderr)
            return 1
        except UnknownTier:
            codes = ", ".join(t.code for t in app.programme.tiers.levels)
            print(f"unknown tier {args.tier!r}; the programme has: {codes}", file=sys.stderr)
            return 2
    return 0


async def _show(uow, member: Member, now: datetime, ladder: Tiers, zone: tzinfo) -> None:
    """Days in the programme's zone (`zone`), as the chat and /audit show them: a
    moment stored in UTC late in the evening is the next day in Shanghai."""
    def day(moment: datetime) -> str:
        return f"{moment.astimezone(zone):%Y-%m-%d}"

    accounts = ", ".join(f"{i.platform}:{i.external_id}"
                         for i in await members.identities(uow, member.id))
    birthday = birthday_text(member)
    phone = shown_phone(member.phone) if member.phone else "-"
    floor = tier_text(ladder, member.tier_floor) if member.tier_floor else "none"
    print(f"member {members.member_number(member.id)} ({member.status})")
    print(f"  name: {member.display_name or '-'}  phone: {phone}  "
          f"birthday: {birthday}  marketing consent: {consent_text(member)}")
    until = day(member.tier_valid_until) if member.tier_valid_until else "-"
    print(f"  points: {await ledger.balance_of(uow, member.id):,}  "
          f"tier: {tier_text(ladder, member.tier)} (floor: {floor}, valid until: {until})")
    print(f"  accounts: {accounts}  joined: {day(member.joined_at)}")
    for change in await tiers.history(uow, member.id, limit=5):
        print(f"  tier {tier_text(ladder, change.from_tier)} -> "
              f"{tier_text(ladder, change.to_tier)} ({change.reason}) "
              f"on {day(change.created_at)}")


def tier_text(ladder: Tiers, code: str | None) -> str:
    """A tier by its English name, as the rest of the CLI speaks; a code the programme
    no longer has (or none, before any tier) as it was recorded."""
    tier = ladder.by_code(code) if code else None
    return tier.name.en if tier is not None else (code or "-")


def consent_text(member: Member) -> str:
    """As /profile shows it: "not set" until the member has answered."""
    if member.consent_at is None:
        return "not set"
    return "yes" if member.marketing_consent else "no"


def birthday_text(member: Member) -> str:
    """As /profile shows it: 1990-05-17, or 05-17 when the member gave no year."""
    if not member.birth_month or not member.birth_day:
        return "-"
    day = f"{member.birth_month:02d}-{member.birth_day:02d}"
    return f"{member.birth_year:04d}-{day}" if member.birth_year else day
