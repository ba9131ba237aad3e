"""`memberbot member`: an operator's look at one member, and the tier floor."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime

from bot.app import App, lifespan
from bot.settings import Settings
from domain.errors import UnknownMember, UnknownTier
from domain.members import members
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
                print(f"{members.member_number(member.id)}: floor {code or 'none'}, "
                      f"tier {decision.code} ({decision.reason})")
                return 0
            await _show(uow, member, now)
        except UnknownMember:
            print(f"no member {members.member_number(int(args.number))}", file=sys.stderr)
            return 1
        except UnknownTier:
            codes = ", ".join(t.code for t in app.programme.tiers.levels)
            print(f"unknown tier {args.tier!r}; the programme has: {codes}", file=sys.stderr)
            return 2
    return 0


async def _show(uow, member: Member, now: datetime) -> None:
    accounts = ", ".join(f"{i.platform}:{i.external_id}"
                         for i in await members.identities(uow, member.id))
    birthday = birthday_text(member)
    print(f"member {members.member_number(member.id)} ({member.status})")
    print(f"  name: {member.display_name or '-'}  phone: {member.phone or '-'}  "
          f"birthday: {birthday}  marketing consent: {'yes' if member.marketing_consent else 'no'}")
    until = f"{member.tier_valid_until:%Y-%m-%d}" if member.tier_valid_until else "-"
    print(f"  points: {await ledger.balance_of(uow, member.id)}  tier: {member.tier} "
          f"(floor: {member.tier_floor or 'none'}, valid until: {until})")
    print(f"  accounts: {accounts}  joined: {member.joined_at:%Y-%m-%d}")
    for change in await tiers.history(uow, member.id, limit=5):
        print(f"  tier {change.from_tier} -> {change.to_tier} ({change.reason}) "
              f"on {change.created_at:%Y-%m-%d}")


def birthday_text(member: Member) -> str:
    """As /profile shows it: 1990-05-17, or 05-17 when the member gave no year."""
    if not member.birth_month or not member.birth_day:
        return "-"
    day = f"{member.birth_month:02d}-{member.birth_day:02d}"
    return f"{member.birth_year:04d}-{day}" if member.birth_year else day
