"""/language: the member's own choice beats the platform's hint.

`/language zh`, `/language 中文`, `/language English`, `/language 英文`: a language is
named by its code or by its name in either language, as members write it."""

from __future__ import annotations

from handlers.engine.answers import words
from handlers.engine.i18n import LOCALES, negotiate
from handlers.engine.routing import Ctx, Outcome, Router
from handlers.engine.types import Button, Local, Reply, reply

router = Router()
NAMES = {"en": "English", "zh_Hans": "简体中文"}
# Names read, not shown (compared after handlers.engine.answers.words).
CALLED = {
    **dict.fromkeys(("english", "英文", "英语", "英文版"), "en"),
    **dict.fromkeys(("chinese", "simplified chinese", "mandarin", "中文", "简体中文",
                     "簡體中文", "简体", "汉语", "漢語", "普通话", "华语", "中文版"), "zh_Hans"),
}


@router.command("language")
async def language(ctx: Ctx) -> Outcome:
    if ctx.arg:
        chosen = CALLED.get(words(ctx.arg)) or negotiate(ctx.arg)
        if chosen is None:
            return Outcome([_choices("language.unknown")])
        return _set(ctx, chosen)
    return Outcome([_choices("language.choose")])


@router.action("lang")
async def pressed(ctx: Ctx) -> Outcome:
    chosen = (ctx.action or "").partition(":")[2]
    if chosen not in LOCALES:
        return Outcome([reply("error.button_expired")])
    return _set(ctx, chosen)


def _set(ctx: Ctx, locale: str) -> Outcome:
    ctx.member.locale = locale
    return Outcome([reply("language.set", language=NAMES[locale])])


def _choices(key: str) -> Reply:
    row = tuple(Button(Local({"en": name, "zh_Hans": name}), f"lang:{code}")
                for code, name in NAMES.items())
    return reply(key, row)
