"""What a member types instead of pressing a button: a number, yes or no, a greeting.

Platforms without buttons (WeChat, the console) show them as numbered lines, and
people answer "2", "yes", "是的" or "hi" there and on Telegram alike. These are words
read, not words shown, so they live here and not in the catalogs; both languages are
understood whatever the member's language is.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence

from handlers.engine.types import NO, YES, Reply, reply

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


def kinds(reply: Reply) -> dict[str, int]:
    """Where the reply's one Yes button and one No button are among its actions, by kind;
    a kind that is missing or not alone is left out (a typed word must be unambiguous)."""
    found: dict[str, list[int]] = {}
    buttons = [b for row in reply.buttons for b in row]
    for index, b in enumerate(buttons):
        if b.kind is not None:
            found.setdefault(b.kind, []).append(index)
    return {kind: at[0] for kind, at in found.items() if len(at) == 1}


def confirming(answers: Mapping[str, int]) -> bool:
    """Whether the offered set is a confirmation: it has a Yes or a No button."""
    return bool(answers)


def again(offered: Sequence[str]) -> Reply:
    """What text a confirmation cannot place gets, whichever flow asked: how to answer
    it. The confirmation stays answerable."""
    return reply("buttons.confirm", last=len(offered))


def pressed(text: str, offered: Sequence[str], answers: Mapping[str, int]) -> str | None:
    """The offered action that typed text presses: its number, or a yes/no word for the
    set's Yes/No button; None when it presses nothing."""
    if not offered:
        return None
    chosen = number(text)
    if chosen is not None:
        return offered[chosen - 1] if 1 <= chosen <= len(offered) else None
    kind = yes_no(text) if answers else None
    index = answers.get(kind) if kind is not None else None
    return offered[index] if index is not None and 0 <= index < len(offered) else None
