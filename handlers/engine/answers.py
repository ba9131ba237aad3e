"""What a member types instead of pressing a button: a number, yes or no, skip, a
greeting, a word that leaves a flow, or a word that names a command.

Platforms without buttons (WeChat, the console) show them as numbered lines, and
people answer "2", "yes", "是的", "跳过" or "hi" there and on Telegram alike (where a
reply keyboard, the one that shares a phone number, hides the message's own buttons).
These are words read, not words shown, so they live here and not in the catalogs; both
languages are understood whatever the member's language is.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence

from handlers.engine.types import NO, VALUE, YES, Button, Reply, Text, reply

FULLWIDTH_DIGITS = str.maketrans("０１２３４５６７８９", "0123456789")  # a Chinese keyboard's
WORDS: Mapping[str, frozenset[str]] = {
    YES: frozenset({
        "yes", "y", "yeah", "yep", "yup", "sure", "ok", "okay", "confirm", "confirmed",
        "是", "是的", "好", "好的", "确认", "确定", "对", "对的", "可以", "行", "嗯", "要",
    }),
    NO: frozenset({
        "no", "n", "nope", "nah", "cancel", "not now",
        "不", "否", "不是", "不要", "不用", "不用了", "取消", "算了", "不行",
    }),
}
SKIP = "skip"  # a kind of its own: the Skip button of an optional question
SKIPS = frozenset({
    "skip", "skip it", "skip this", "next", "pass", "later", "none",
    "跳过", "跳過", "略过", "先跳过", "跳过吧", "下一步", "下一个", "以后再说", "不填", "不填了",
    "暂不填写", "没有", "无",
})
# Words that leave whatever flow is waiting, at any step, as /cancel does. At a
# confirmation "cancel" and "取消" are its No first (they are NO words too).
CANCELS = frozenset({
    "cancel", "cancel it", "cancel that", "never mind", "nevermind", "forget it", "quit",
    "exit", "stop", "abort",
    "取消", "算了", "算了吧", "退出", "不要了", "不弄了", "停止", "放弃", "取消吧",
})
# Words that name a command, typed without its slash while no flow waits. "menu" is
# the home card (handlers.members.home), which is the member card.
KEYWORDS: Mapping[str, str] = {
    **dict.fromkeys(("check in", "checkin", "sign in", "签到", "打卡", "每日签到"), "checkin"),
    **dict.fromkeys(("points", "my points", "balance", "积分", "我的积分", "积分余额", "查积分"),
                    "points"),
    **dict.fromkeys(("help", "帮助", "帮忙", "怎么用", "使用帮助"), "help"),
    **dict.fromkeys(("card", "my card", "member card", "membership card", "会员卡",
                     "我的会员卡", "会员"), "menu"),
    **dict.fromkeys(("tier", "my tier", "level", "等级", "我的等级", "会员等级"), "tier"),
    **dict.fromkeys(("rewards", "reward", "redeem", "gifts", "兑换", "礼品", "积分兑换",
                     "兑换礼品", "礼物"), "rewards"),
    **dict.fromkeys(("invite", "invite friends", "referral", "邀请", "邀请好友", "推荐好友"),
                    "invite"),
    **dict.fromkeys(("coupons", "coupon", "my coupons", "优惠券", "我的优惠券", "券"),
                    "coupons"),
    **dict.fromkeys(("profile", "my profile", "资料", "个人资料", "我的资料", "完善资料"),
                    "profile"),
    **dict.fromkeys(("language", "语言", "切换语言", "语言设置"), "language"),
    **dict.fromkeys(("rules", "规则", "会员规则"), "rules"),
    # Under every offer: "Reply TD to stop offers" (回复 TD 退订, the convention in China).
    **dict.fromkeys(("td", "退订", "unsubscribe", "stop offers", "取消订阅", "退订优惠"),
                    "unsubscribe"),
    **dict.fromkeys(("privacy", "隐私", "隐私设置", "我的隐私"), "privacy"),
}
GREETINGS = frozenset({
    "hi", "hello", "hey", "hiya", "howdy", "hallo", "hi there", "hello there", "hey there",
    "good morning", "good afternoon", "good evening", "menu", "home", "start",
    "你好", "您好", "你好呀", "你好啊", "您好呀", "嗨", "哈喽", "哈啰", "哈罗", "喂", "在吗",
    "在么", "在不在", "早", "早上好", "上午好", "中午好", "下午好", "晚上好", "菜单", "主页",
    "开始",
})


def words(text: str) -> str:
    """'  Hello!! ' -> 'hello', '你好！' -> '你好': case, width and punctuation ignored."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    kept = "".join(c if unicodedata.category(c)[0] in "LN" else " " for c in folded)
    return " ".join(kept.split())


def number(text: str) -> int | None:
    """A typed button number: ASCII or full-width digits only ('２' yes, '²' and '٣' no)."""
    digits = text.strip().translate(FULLWIDTH_DIGITS)
    if digits.isascii() and digits.isdigit() and len(digits) <= 6:
        return int(digits)
    return None


def yes_no(text: str) -> str | None:
    """YES, NO, or None when the text says neither."""
    said = words(text)
    return next((kind for kind, known in WORDS.items() if said in known), None)


def greeting(text: str) -> bool:
    return words(text) in GREETINGS


def skipping(text: str) -> bool:
    """Whether the text says "skip this question" ("skip", "跳过")."""
    return words(text) in SKIPS


def cancelling(text: str) -> bool:
    """Whether the text says "leave this" ("cancel", "取消", "算了")."""
    return words(text) in CANCELS


def keyword(text: str) -> str | None:
    """The command a word names ("积分" -> "points"), or None."""
    return KEYWORDS.get(words(text))


def kinds(reply: Reply) -> dict[str, int]:
    """Where the reply's one Yes, one No and one Skip button are among its actions, by
    kind; a kind that is missing or not alone is left out (a typed word must be
    unambiguous). A Skip button is one worded by a `*.skip` key ("profile.skip")."""
    found: dict[str, list[int]] = {}
    buttons = [b for row in reply.buttons for b in row]
    for index, b in enumerate(buttons):
        kind = b.kind or _skip(b)
        if kind is not None:
            found.setdefault(kind, []).append(index)
    return {kind: at[0] for kind, at in found.items() if len(at) == 1}


def _skip(b: Button) -> str | None:
    label = b.label
    return SKIP if isinstance(label, Text) and label.key.rsplit(".", 1)[-1] == SKIP else None


def confirming(answers: Mapping[str, int]) -> bool:
    """Whether the offered set is a confirmation: it has a Yes or a No button (a Skip
    alone asks nothing to be confirmed)."""
    return YES in answers or NO in answers


def again(offered: Sequence[str]) -> Reply:
    """What text a confirmation cannot place gets, whichever flow asked: how to answer
    it. The confirmation stays answerable."""
    return reply("buttons.confirm", last=len(offered))


def pressed(text: str, offered: Sequence[str], answers: Mapping[str, int]) -> str | None:
    """The offered action that typed text presses: the button whose value it is (a
    score), else its number, a yes/no word for the set's Yes/No button, or a skip word
    for its Skip button; None when it presses nothing."""
    if not offered:
        return None
    chosen = number(text)
    at = answers.get(f"{VALUE}{chosen}") if chosen is not None else None
    if at is not None and 0 <= at < len(offered):  # a score typed: its button
        return offered[at]
    if chosen is not None:
        # A value's button is typed as its value only: "11" is no score of 10.
        values = {i for kind, i in answers.items() if kind.startswith(VALUE)}
        fits = 1 <= chosen <= len(offered) and chosen - 1 not in values
        return offered[chosen - 1] if fits else None
    kind = (yes_no(text) or (SKIP if skipping(text) else None)) if answers else None
    index = answers.get(kind) if kind is not None else None
    return offered[index] if index is not None and 0 <= index < len(offered) else None
