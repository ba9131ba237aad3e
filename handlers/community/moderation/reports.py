"""/report: anyone points the admins to a message by replying to it with /report.

The admins are told in the log chat when the group has one (the group then only hears
that they were told), else in the group, with buttons to delete the message, warn,
mute or ban its author, or close the report. Only the group's admins (and memberbot's
staff) may press them; the first press settles the report.
"""

from __future__ import annotations

from domain.community import group_settings, people
from domain.community import reports as book
from domain.community.restrictions import BAN, MUTE
from domain.community.tables import GroupReport
from handlers.community.moderation.commands import restrict
from handlers.community.moderation.commands_targets import (
    edited,
    is_me,
    log,
    may_act,
    name_of,
    shown,
    untouchable,
)
from handlers.community.moderation.dispatch import GroupCtx, GroupRouter
from handlers.community.moderation.events import DELETE, RESTRICT, GroupOutcome, Person
from handlers.community.moderation.warns import give
from handlers.engine.types import Button, Reply, Text, button, reply

router = GroupRouter()
REPORT = "report"


@router.command("report", moderators=False)
async def report(ctx: GroupCtx) -> GroupOutcome:
    event = ctx.event
    target = event.reply_to
    if target is None:
        return GroupOutcome([reply("moderation.report_usage")])
    if target.user_id == event.person.user_id:
        return GroupOutcome([reply("moderation.report_yourself")])
    if is_me(ctx, target) or await ctx.may_moderate(target):
        return GroupOutcome([reply("moderation.report_admin")])
    filed, new = await book.file(ctx.work(), event.platform, event.chat_id,
                                 event.person.user_id, target.user_id,
                                 event.reply_to_message_id, ctx.now)
    if not new:
        return GroupOutcome([reply("moderation.report_again")])
    notice = _notice(ctx, filed, event.person, target)
    log_chat = ctx.rules.log_chat
    if log_chat and log_chat != event.chat_id:
        return GroupOutcome([reply("moderation.reported")],
                            [(log_chat, notice, ctx.locale)])
    return GroupOutcome([notice])


def _notice(ctx: GroupCtx, filed: GroupReport, reporter: Person, target: Person) -> Reply:
    def act(key: str, outcome: str) -> Button:
        return button(key, f"{REPORT}:{filed.id}:{outcome}")
    return reply("moderation.report",
                 [act("moderation.report_delete", "delete"),
                  act("moderation.report_warn", "warn")],
                 [act("moderation.report_mute", "mute"), act("moderation.report_ban", "ban")],
                 [act("moderation.report_resolved", "resolved")],
                 reporter=name_of(reporter), name=name_of(target),
                 chat=shown(ctx.event.chat_title or ctx.event.chat_id, 64))


@router.button(REPORT)
async def settle(ctx: GroupCtx) -> GroupOutcome:
    """`report:<id>:<what>`, pressed in the group or in its log chat."""
    _, ref, what = ((ctx.event.action or "").split(":") + ["", ""])[:3]
    if not ref.isdigit() or len(ref) > 18 or what not in book.OUTCOMES:
        return GroupOutcome()  # forged or mangled data
    uow, event = ctx.work(), ctx.event
    filed = await book.find(uow, event.platform, int(ref))
    if filed is None:
        return GroupOutcome()
    here = filed.chat_id == event.chat_id
    rules = ctx.rules if here else await group_settings.read(uow, event.platform,
                                                             filed.chat_id)
    if not here and rules.log_chat != event.chat_id:
        return GroupOutcome()  # neither the group nor its log chat
    chat = ctx.chat_of(filed.chat_id)
    if chat is None:
        return GroupOutcome([reply("moderation.report_in_group")])
    right = None if what == "resolved" else DELETE if what == "delete" else RESTRICT
    if not await may_act(ctx, chat, event.person, right):
        return GroupOutcome([reply("moderation.admins_only_button")])
    if filed.status != book.OPEN:
        return GroupOutcome([edited(reply("moderation.report_closed"))])
    seen = await people.by_id(uow, event.platform, filed.target_id)
    target = Person(filed.target_id, seen.name if seen else filed.target_id,
                    seen.username if seen else None)
    title = None if here else filed.chat_id
    outcome = GroupOutcome()
    if what in ("warn", MUTE, BAN):
        refusal = await untouchable(ctx, target, chat)
        if refusal is not None:
            return GroupOutcome([refusal])
    if not await book.settle(uow, filed, what, ctx.actor, ctx.now):
        return GroupOutcome([edited(reply("moderation.report_closed"))])
    done: Reply | None = None
    if what == "delete" and filed.message_id is not None:
        await chat.delete(filed.message_id)
        log(ctx, outcome, "delete", target, rules=rules, chat_title=title)
    elif what == "warn":
        done = await give(ctx, chat, rules, target, "/report", outcome, title)
    elif what in (MUTE, BAN):
        done = await restrict(ctx, chat, target, what, None, "/report", outcome, title)
    outcome.replies.insert(0, edited(reply(
        "moderation.report_settled", name=name_of(target), admin=name_of(event.person),
        what=Text(f"moderation.report_outcome.{what}"))))
    if done is not None and not here:
        # Pressed in the log chat: the group hears what was done to whom.
        outcome.elsewhere.append((filed.chat_id, done, rules.language or
                                  ctx.programme.default_locale))
    elif done is not None:
        outcome.replies.append(done)
    return outcome
