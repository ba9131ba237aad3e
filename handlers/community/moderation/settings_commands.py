"""A group's settings from the group itself: the warn limit and mode, the log chat,
the admin list, the group's language, command cleanup, and the rules.

The log chat must be one whoever sets it administers too (or their own private chat
with the bot): anyone else's chat would receive this group's log, and the words its
admin chose to put in it.

Every change is audited by domain/community/group_settings.py and told to the log
chat; the dispatcher takes the changed settings at once (`ctx.changed_rules`), so a
new language already answers the command that set it.
"""

from __future__ import annotations

import re
from typing import Any

from domain.community import group_settings
from domain.community.group_settings import MODES, WARN_LIMITS, Rules
from handlers.community.moderation.commands_targets import cleaned, log, shown
from handlers.community.moderation.dispatch import GroupCtx, GroupRouter
from handlers.community.moderation.events import SETTINGS, ChatActionError, GroupOutcome
from handlers.engine.types import Reply, Text, reply

router = GroupRouter()
SWITCH = {"on": True, "off": False}
# A chat as the platform numbers it: groups and channels are negative.
CHAT_ID = re.compile(r"-?[1-9][0-9]{0,19}")
# UTF-16 units of rules that still fit one message under their heading (a group title
# of up to 128 characters), within the column's 4,096: longer ones are refused, not cut
# without a word.
RULES_FIT = 3900
LANGUAGES = {"en": "en", "english": "en", "英文": "en", "英语": "en",
             "zh": "zh_Hans", "zh_hans": "zh_Hans", "zh-hans": "zh_Hans", "cn": "zh_Hans",
             "zh-cn": "zh_Hans", "zh_cn": "zh_Hans", "chinese": "zh_Hans", "中文": "zh_Hans"}


async def _change(ctx: GroupCtx, **changes: Any) -> Rules:
    after = await group_settings.change(ctx.work(), ctx.event.platform, ctx.event.chat_id,
                                        ctx.actor, ctx.now, **changes)
    ctx.changed_rules = after
    return after


def _logged(ctx: GroupCtx, outcome: GroupOutcome, setting: str, value: Any) -> GroupOutcome:
    named = Text(f"moderation.setting.{setting}")
    log(ctx, outcome, "settings", None,
        Text("moderation.log_setting", {"setting": named, "value": value}))
    return outcome


@router.command("setwarnlimit")
async def setwarnlimit(ctx: GroupCtx) -> GroupOutcome:
    typed = ctx.arg.strip()
    if not typed.isascii() or not typed.isdigit() or int(typed) not in WARN_LIMITS:
        return GroupOutcome([reply("moderation.warnlimit_usage",
                                   limit=ctx.rules.warn_limit)])
    rules = await _change(ctx, warn_limit=int(typed))
    return _logged(ctx, GroupOutcome([reply("moderation.warnlimit_set",
                                            limit=rules.warn_limit)]),
                   "warn_limit", rules.warn_limit)


TIMED = {"tmute": "mute", "tban": "ban"}  # Rose's words for a mute or ban with a length


@router.command("setwarnmode")
async def setwarnmode(ctx: GroupCtx) -> GroupOutcome:
    words = ctx.arg.lower().split()
    mode = TIMED.get(words[0], words[0]) if words else ""
    if mode in MODES and (len(words) > 1 or words[0] in TIMED):
        # A length (`ban 1d`, `tban 1d`) is not kept for the warn limit: say so.
        return GroupOutcome([reply("moderation.warnmode_no_length",
                                   typed=shown(ctx.arg.strip(), 32), mode=mode)])
    if len(words) != 1 or mode not in MODES:
        return GroupOutcome([reply("moderation.warnmode_usage",
                                   mode=Text(f"moderation.mode.{ctx.rules.warn_mode}"))])
    rules = await _change(ctx, warn_mode=mode)
    return _logged(ctx, GroupOutcome([reply("moderation.warnmode_set",
                                            mode=Text(f"moderation.mode.{rules.warn_mode}"),
                                            limit=rules.warn_limit)]),
                   "warn_mode", mode)


@router.command("setlog", right=SETTINGS)
async def setlog(ctx: GroupCtx) -> GroupOutcome:
    typed = ctx.arg.strip()
    if typed.lower() == "off":
        before = ctx.rules.log_chat
        await _change(ctx, log_chat=None)
        outcome = GroupOutcome([reply("moderation.log_off")])
        if before:  # the old log chat hears it stopped
            outcome.elsewhere.append((before, reply(
                "moderation.log_stopped", chat=shown(ctx.event.chat_title, 64)), ctx.locale))
        return outcome
    if not CHAT_ID.fullmatch(typed):
        return GroupOutcome([reply("moderation.log_usage")])
    if typed == ctx.event.chat_id:
        return GroupOutcome([reply("moderation.log_same_chat")])
    refused = await _not_theirs(ctx, typed)
    if refused is not None:
        return GroupOutcome([refused])
    hello = reply("moderation.log_hello", chat=shown(ctx.event.chat_title, 64))
    outcome = GroupOutcome([reply("moderation.log_set", chat=typed)])
    there = ctx.chat_of(typed)
    if there is None:
        outcome.elsewhere.append((typed, hello, ctx.locale))
    else:  # say hello now: a chat the bot cannot write in is refused before it is kept
        try:
            await there.post(hello, ctx.locale)
        except ChatActionError:
            return GroupOutcome([reply("moderation.log_unreachable", chat=typed)])
    await _change(ctx, log_chat=typed)
    return outcome


async def _not_theirs(ctx: GroupCtx, chat_id: str) -> Reply | None:
    """None when whoever typed /setlog administers `chat_id` as well (asked of the
    platform, as for this group), or it is their own private chat with the bot; else
    why it is refused. Being this group's admin, or memberbot's staff, is not enough:
    the log would go to a chat they have no say in."""
    who = ctx.event.person
    if who.user_id == ctx.event.chat_id:  # an anonymous admin: nobody to ask about
        return reply("moderation.log_anonymous")
    if chat_id == who.user_id:
        return None
    there = ctx.chat_of(chat_id)
    if there is None:
        return reply("moderation.log_unchecked", chat=chat_id)
    try:
        if who.user_id in await there.admins():
            return None
    except ChatActionError:  # not a chat the bot can see: a private chat, or none
        pass
    return reply("moderation.log_not_admin_there", chat=chat_id)


@router.command("admincache", right=None)
async def admincache(ctx: GroupCtx) -> GroupOutcome:
    admins = await ctx.chat.refresh_admins()
    return GroupOutcome([reply("moderation.admins_refreshed", count=len(admins))])


@router.command("grouplang", right=SETTINGS)
async def grouplang(ctx: GroupCtx) -> GroupOutcome:
    locale = LANGUAGES.get(ctx.arg.strip().lower())
    if locale is None:
        return GroupOutcome([reply("moderation.grouplang_usage",
                                   language=Text(f"moderation.language.{ctx.locale}"))])
    await _change(ctx, language=locale)
    return _logged(ctx, GroupOutcome([reply("moderation.grouplang_set",
                                            language=Text(f"moderation.language.{locale}"))],
                                     locale=locale), "language", locale)


@router.command("cleancommands", right=SETTINGS)
async def cleancommands(ctx: GroupCtx) -> GroupOutcome:
    switch = SWITCH.get(ctx.arg.strip().lower())
    if switch is None:
        state = "on" if ctx.rules.clean_commands else "off"
        return GroupOutcome([reply("moderation.clean_usage",
                                   state=Text(f"moderation.switch.{state}"))])
    await _change(ctx, clean_commands=switch)
    return _logged(ctx, GroupOutcome([reply("moderation.clean_on" if switch
                                            else "moderation.clean_off")]),
                   "clean_commands", "on" if switch else "off")


@router.command("setrules", right=SETTINGS)
async def setrules(ctx: GroupCtx) -> GroupOutcome:
    text = cleaned(ctx.arg, len(ctx.arg) + 1, lines=True)  # measured whole, then judged
    if not text:
        return GroupOutcome([reply("moderation.setrules_usage")])
    size = len(text.encode("utf-16-le")) // 2
    if size > RULES_FIT:
        return GroupOutcome([reply("moderation.rules_too_long", most=RULES_FIT, got=size)])
    await _change(ctx, rules_text=text)
    return _logged(ctx, GroupOutcome([reply("moderation.rules_set")]), "rules", "…")


@router.command("resetrules", right=SETTINGS)
async def resetrules(ctx: GroupCtx) -> GroupOutcome:
    if ctx.rules.rules_text is None:
        return GroupOutcome([reply("moderation.rules_none")])
    await _change(ctx, rules_text=None)
    return _logged(ctx, GroupOutcome([reply("moderation.rules_reset")]), "rules", "—")


@router.command("rules", moderators=False)
async def rules(ctx: GroupCtx) -> GroupOutcome:
    if not ctx.rules.rules_text:
        return GroupOutcome([reply("moderation.rules_none")])
    return GroupOutcome([reply("moderation.rules", chat=shown(ctx.event.chat_title, 64),
                               rules=ctx.rules.rules_text)])
