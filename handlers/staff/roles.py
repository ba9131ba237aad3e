"""Operator roles in chat: /grant, /revoke and the audit log (/audit).

Every staff step starts with `denied(ctx, permission)`: roles are read from the
database on every command and every button, because a button's data comes from the
client and a role may have been revoked since it was shown.
"""

from __future__ import annotations

import unicodedata

from domain.errors import UnknownMember
from domain.staff import audit, roles
from domain.staff.roles import RoleRefused
from handlers.engine.i18n import LOCALES, translate
from handlers.engine.routing import Ctx, Outcome, Router
from handlers.engine.types import Reply, Text, button, reply
from handlers.staff import audit as audit_words

router = Router()
PAGE = 10
# The command a refusal names when the step was a button or a typed answer.
COMMAND = {"grant": "/grant", "audit": "/audit", "purchase": "/purchase", "award": "/award",
           "stock": "/stock",
           "rewards": "/reward", "jobs": "/jobs", "campaign": "/campaign",
           "verify": "/verify", "gates": "/gate", "insight": "/stats"}


async def denied(ctx: Ctx, permission: str, command: str | None = None) -> Outcome | None:
    """None when the member may; else a refusal naming the command (`command`, such as
    "/survey results", where the command alone is also a member's) and who may use it
    ("/audit is for the owner and admins"), so nobody is told a role they hold is
    not enough without being told which one is."""
    if await roles.can(ctx.uow, ctx.member.id, permission):
        return None
    return Outcome([reply("staff.denied", command=command or _command(ctx, permission),
                          roles=Text(f"staff.needs.{roles.least(permission)}"))])


def _command(ctx: Ctx, permission: str) -> str:
    words = ctx.inbound.text.split(maxsplit=1) if ctx.action is None else []
    typed = words[0].split("@")[0].lower() if words else ""
    if typed.startswith("/") and typed[1:].isascii() and typed[1:].isalnum() \
            and len(typed) <= 33:
        return typed
    return COMMAND.get(permission, f"/{permission}")


def member_arg(raw: str) -> int | None:
    """A number typed as an argument (a member's, a ticket's), whole: full-width digits
    from a Chinese keyboard count as digits, and a leading "#" is allowed."""
    raw = unicodedata.normalize("NFKC", raw).strip().lstrip("#")
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 12 else None


@router.command("grant", role="admin")
async def grant(ctx: Ctx) -> Outcome:
    return await _change(ctx, roles.grant, "roles.granted", "roles.already")


@router.command("revoke", role="admin")
async def revoke(ctx: Ctx) -> Outcome:
    return await _change(ctx, roles.revoke, "roles.revoked", "roles.not_held")


async def _change(ctx: Ctx, change, done: str, unchanged: str) -> Outcome:
    refusal = await denied(ctx, "grant")
    if refusal is not None:
        return refusal
    parts = ctx.arg.split()
    target = member_arg(parts[1]) if len(parts) == 2 else None
    if target is None:
        return Outcome([reply("roles.usage")])
    role, number = role_code(parts[0]), str(target).zfill(8)
    try:
        changed = await change(ctx.uow, ctx.member.id, role, target, ctx.now)
    except RoleRefused as refused:
        return Outcome([reply(f"roles.{refused.code}", role=role_name(role))])
    except UnknownMember:
        return Outcome([reply("roles.unknown_member", number=number)])
    return Outcome([reply(done if changed else unchanged, role=role_name(role),
                          number=number)])


def role_code(typed: str) -> str:
    """The role a /grant names, by its code ("staff") or by its name in either
    language ("店员"), so the help's role headings are what may be typed."""
    word = typed.strip().lower()
    for role in roles.ROLES:
        if word == role or any(word == translate(Text(f"role.name.{role}"), locale).lower()
                               for locale in LOCALES):
            return role
    return word


def role_name(role: str) -> Text | str:
    """A role in the reader's language; a word that is no role, as typed (shortened)."""
    return Text(f"role.name.{role}") if role in roles.ROLES else role[:16]


@router.command("audit", role="admin")
async def audit_log(ctx: Ctx) -> Outcome:
    return await _page(ctx, 1, edit=False)


@router.action("audit:page")
async def audit_page(ctx: Ctx) -> Outcome:
    raw = (ctx.action or "").rsplit(":", 1)[-1]
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= 100_000:
        return Outcome([reply("error.button_expired")])
    return await _page(ctx, int(raw), edit=True)


async def _page(ctx: Ctx, page: int, edit: bool) -> Outcome:
    refusal = await denied(ctx, "audit")
    if refusal is not None:
        return refusal
    total = await audit.count(ctx.uow)
    if not total:
        return Outcome([reply("audit.empty")])
    pages = -(-total // PAGE)
    page = min(page, pages)
    entries = await audit.recent(ctx.uow, PAGE, offset=(page - 1) * PAGE)
    nav = []
    if page > 1:
        nav.append(button("points.newer", f"audit:page:{page - 1}"))
    if page < pages:
        nav.append(button("points.older", f"audit:page:{page + 1}"))
    return Outcome([Reply("audit.list", {
        "page": page, "pages": pages, "zone": audit_words.zone(ctx),
        "lines": [audit_words.line(ctx, e) for e in entries]},
        (tuple(nav),) if nav else (), edit=edit)])
