"""/mydata: everything the programme holds about the member (domain/privacy/export.py)
as a JSON document, and their points statement as a CSV, in their language where
there is text. Once a day. The owner can have a member's sent to them on the member's
request (handlers/privacy/member_data.py).

Where the platform sends documents (Telegram; the console saves them) the two files
are sent. Elsewhere (WeChat) they wait, zipped, for one download through a link that
works once within 24 hours and needs nothing but its secret (domain/privacy/
downloads.py, served by the web app at /mydata/SECRET, bot/privacy_web.py).
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import date, datetime
from types import SimpleNamespace
from typing import Any

from domain.members.tables import Member
from domain.privacy import downloads, export
from handlers.engine import i18n
from handlers.engine.routing import Ctx, Outcome, Router
from handlers.engine.types import Money, Reply, Text, reply
from handlers.engine.words import clock, local, number, tier_called
from handlers.points.points import reason

DOWNLOAD_PATH = "/mydata/"  # the web app's route, followed by the secret
router = Router()


@router.command("mydata")
async def mydata(ctx: Ctx) -> Outcome:
    last = await export.last_asked(ctx.uow, ctx.member.id)
    if last is not None and export.next_allowed(last) > ctx.now:
        return Outcome([reply("mydata.too_soon", asked=clock(last, ctx.zone),
                              again=clock(export.next_allowed(last), ctx.zone))])
    if not ctx.inbound.documents and not ctx.public_url:
        return Outcome([reply("mydata.no_link")])
    await export.record(ctx.uow, ctx.member.id, ctx.inbound.platform, ctx.now)
    return Outcome(await delivered(ctx, ctx.member, "mydata"))


async def delivered(ctx: Ctx, whose: Member, words: str) -> list[Reply]:
    """`whose` data to the asker: two documents, or a link where documents cannot go,
    said with `words`' keys (mydata: to the member; member_data: to staff about them)."""
    held, statement = await files(ctx, whose)
    stem = f"memberbot-{number(whose.id)}"
    named = {"number": number(whose.id)}
    if ctx.inbound.documents:
        return [Reply(f"{words}.sent", named, file=(f"{stem}.json", held)),
                Reply(f"{words}.statement", named, file=(f"{stem}-points.csv", statement))]
    packed = io.BytesIO()
    with zipfile.ZipFile(packed, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"{stem}.json", held)
        archive.writestr(f"{stem}-points.csv", statement)
    token, until = await downloads.offer(ctx.uow, ctx.member.id, f"{stem}.zip",
                                         packed.getvalue(), ctx.now)
    url = f"{(ctx.public_url or '').rstrip('/')}{DOWNLOAD_PATH}{token}"
    return [reply(f"{words}.link", url=url, until=clock(until, ctx.zone), **named)]


async def files(ctx: Ctx, whose: Member) -> tuple[bytes, bytes]:
    """(the JSON document, the statement CSV) of `whose`, in the asker's language."""
    held = await export.gather(ctx.uow, whose)
    say = _sayer(ctx)
    for entry in held["points"]:
        entry["reason_text"] = say(reason(ctx, SimpleNamespace(**entry)))
    for row in (*held["coupons"], *held["redemptions"]):
        item = ctx.programme.reward(row["reward"])
        row["reward_title"] = say(local(item.title)) if item is not None else row["reward"]
    for change in held["tier_history"]:
        for side in ("from_tier", "to_tier"):
            code = change[side]
            change[f"{side}_name"] = say(tier_called(ctx.programme.tiers, code)) if code else None
    for row in held["purchases"]:
        row["amount_display"] = say(Money(row["amount"], row["currency"]))
    held["profile"]["member_number"] = number(whose.id)
    document = {"programme": say(local(ctx.programme.name)), "member_number": number(
        whose.id), "exported_at": ctx.now, "language": ctx.locale, **held}
    text = json.dumps(document, ensure_ascii=False, indent=2, default=_plain)
    return text.encode(), _statement(ctx, held["points"], say)


def _statement(ctx: Ctx, entries: list[dict[str, Any]], say: Any) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([say(Text(f"mydata.column.{c}")) for c in
                     ("date", "points", "balance", "reason", "expires")])
    balance = 0
    for entry in entries:
        balance += entry["delta"]
        expires = entry["expires_at"]
        writer.writerow([ctx.local(entry["created_at"]).date().isoformat(), entry["delta"],
                         balance, entry["reason_text"],
                         ctx.local(expires).date().isoformat() if expires else ""])
    return ("\ufeff" + out.getvalue()).encode()  # so spreadsheets read it as UTF-8


def _sayer(ctx: Ctx) -> Any:
    def say(words: Any) -> str:
        return i18n.translate(words if isinstance(words, Text) else Text("mydata.value",
                                                                         {"value": words}),
                              ctx.locale)
    return say


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    raise TypeError(f"not JSON: {type(value).__name__}")
