"""/report: anyone points the admins to a message by replying to it with /report,
optionally saying why (`/report this is spam`).

The admins are told in the log chat when the group has one (the group then only hears
that they were told), else in the group, where its admins are mentioned so that
somebody is notified. Buttons delete the message, warn, mute or ban its author, or
close the report; admins may take several (delete, then ban) until it is resolved,
each once. Only the group's admins (and memberbot's staff) may press them; anyone
else, or a press that changes nothing, is answered privately (a toast), so the group
hears nothing of it. Everything about a report is in the group's language, in the log
chat too: a channel cannot choose one.
"""

from __future__ import annotations

from domain.community import group_settings, people
from domain.community import reports as book
from domain.community.group_settings import Rules
from domain.community.restrictions import BAN, MUTE
from domain.community.tables import GroupReport
from handlers.community.moderation.commands import restrict
from handlers.community.moderation.commands_targets import (
    because,
    cleaned,
    edited,
    is_me,
    log,
    more,
    name_of,
    shown,
    untouchable,
)
from handlers.community.moderation.dispatch import GroupCtx, GroupRouter, toast
from handlers.community.moderation.events import (
    DELETE,
    RESTRICT,
    ChatActionError,
    GroupChat,
    GroupOutcome,
    Person,
)
from handlers.community.moderation.warns import give
from handlers.engine import i18n
from handlers.engine.types import Button, Reply, Text, button, mentioned, reply

router = GroupRouter()
REPORT = "report"
MENTIONED = 20  # admins mentioned under a report in the group: one short message


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
    told = book.Filed(cleaned(ctx.arg), name_of(event.person),
                      shown(event.chat_title or event.chat_id, 64))
    filed, new = await book.file(ctx.work(), event.platform, event.chat_id,
                                 event.person.user_id, target.user_id,
                                 event.reply_to_message_id, ctx.now, told.reason,
                                 told.reporter, told.title)
    if not new:
        return GroupOutcome([reply("moderation.report_again")])
    log_chat = ctx.rules.log_chat
    if log_chat and log_chat != event.chat_id:
        return GroupOutcome([reply("moderation.reported")],
                            [(log_chat, _notice(filed, told, target), ctx.locale)])
    return GroupOutcome([_notice(filed, told, target, await _mentions(ctx))])


async def _mentions(ctx: GroupCtx) -> str:
    """The group's admins, named so they are notified: an @username, else a mention
    by user id (a link on Telegram). A chat that can name its admins says who they are
    (GroupChat.admin_people, where the platform has it), else those seen in a group."""
    named = getattr(ctx.chat, "admin_people", None)
    found: list[Person] = []
    try:
        if named is not None:
            found = list(await named())
        else:
            for user_id in sorted(await ctx.chat.admins()):
                seen = await people.by_id(ctx.work(), ctx.event.platform, user_id)
                if seen is not None:
                    found.append(Person(user_id, seen.name, seen.username))
    except ChatActionError:  # the report still goes out, naming nobody
        return ""
    handles = [f"@{p.username}" if p.username else mentioned(p.user_id, p.name)
               for p in found
               if not p.is_bot and p.user_id != ctx.event.chat_id
               and (p.username or "").lower() != ctx.me and (p.username or p.name)]
    return " ".join(dict.fromkeys(handles[:MENTIONED]))


def _notice(filed: GroupReport, told: book.Filed, target: Person, mentions: str = "",
            done: tuple[book.Done, ...] = ()) -> Reply:
    """The report as admins see it until it is closed: the reason, what was done so
    far, and a button for each action still to take."""
    def act(key: str, outcome: str) -> Button | None:
        if book.settled(done, outcome) or (outcome == "delete" and filed.message_id is None):
            return None
        return button(key, f"{REPORT}:{filed.id}:{outcome}")
    rows = [[act("moderation.report_delete", "delete"), act("moderation.report_warn", "warn")],
            [act("moderation.report_mute", "mute"), act("moderation.report_ban", "ban")],
            [act("moderation.report_resolved", book.RESOLVED)]]
    kept = [[b for b in row if b is not None] for row in rows]
    return reply("moderation.report", *(row for row in kept if row),
                 reporter=told.reporter or filed.reporter_id,
                 name=name_of(target), chat=told.title or filed.chat_id,
                 more=more(because(told.reason), *_lines(done)),
                 admins=Text("moderation.report_admins", {"mentions": mentions})
                 if mentions else "")


def _lines(done: tuple[book.Done, ...]) -> list[Text]:
    return [Text("moderation.report_done_line", {
        "what": Text(f"moderation.report_outcome.{d.what}"), "admin": d.admin})
        for d in done if d.what != book.RESOLVED]


@router.button(REPORT)
async def settle(ctx: GroupCtx) -> GroupOutcome:
    """`report:<id>:<what>`, pressed in the group or in its log chat: answered in the
    group's language wherever it was pressed."""
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
    outcome = await _act(ctx, filed, what, rules, here)
    outcome.locale = rules.language or ctx.programme.default_locale
    return outcome


async def _act(ctx: GroupCtx, filed: GroupReport, what: str, rules: Rules,
               here: bool) -> GroupOutcome:
    uow, event = ctx.work(), ctx.event
    chat = ctx.chat_of(filed.chat_id)
    if chat is None:
        return toast("moderation.report_in_group")
    right = None if what == book.RESOLVED else DELETE if what == "delete" else RESTRICT
    refused = await ctx.button_refusal(right, event.person, chat)
    if refused is not None:
        return refused
    if filed.status != book.OPEN:
        return toast("moderation.report_closed")  # no edit: it already says so
    seen = await people.by_id(uow, event.platform, filed.target_id)
    target = Person(filed.target_id, seen.name if seen else filed.target_id,
                    seen.username if seen else None)
    if what in ("warn", MUTE, BAN):
        refusal = await untouchable(ctx, target, chat)
        if refusal is not None:
            return GroupOutcome(toast=refusal)
    acted = await book.act(uow, filed, what, ctx.actor, name_of(event.person), ctx.now)
    if acted is None:
        return toast("moderation.report_closed")
    if not acted.new:
        return toast("moderation.report_done_already")
    told = await book.details(uow, filed)
    outcome = GroupOutcome()
    done = await _carry_out(ctx, chat, filed, what, rules, here, told, target, outcome)
    if acted.closed:
        notice = reply("moderation.report_settled", name=name_of(target),
                       admin=name_of(event.person),
                       what=_lines(acted.done) or [Text("moderation.report_outcome.resolved")])
    else:
        notice = _notice(filed, told, target, done=acted.done)
    outcome.replies.insert(0, edited(notice))
    if done is not None and not here:
        # Pressed in the log chat: the group hears what was done to whom.
        outcome.elsewhere.append((filed.chat_id, done, rules.language or
                                  ctx.programme.default_locale))
    elif done is not None:
        outcome.replies.append(done)
    return outcome


async def _carry_out(ctx: GroupCtx, chat: GroupChat, filed: GroupReport, what: str,
                     rules: Rules, here: bool, told: book.Filed, target: Person,
                     outcome: GroupOutcome) -> Reply | None:
    """Do `what` to the group; what the group hears of it, if anything. A warn, mute or
    ban gives the reporter's reason, or says it came from a report."""
    title = None if here else (told.title or filed.chat_id)
    locale = rules.language or ctx.programme.default_locale
    reason = told.reason or i18n.translate(Text("moderation.report_default_reason"), locale)
    if what == "delete" and filed.message_id is not None:
        await chat.delete(filed.message_id)
        log(ctx, outcome, "delete", target, rules=rules, chat_title=title)
    elif what == "warn":
        return await give(ctx, chat, rules, target, reason, outcome, title)
    elif what in (MUTE, BAN):
        return await restrict(ctx, chat, target, what, None, reason, outcome, title)
    return None
