"""Surveys already answered, written through the domain as members would have, and a
console chat's whole answer (images and files too): shared by the results, chart,
export and wording tests."""

from __future__ import annotations

from datetime import datetime, timedelta

from domain.feedback import responses, surveys
from handlers.engine.types import Inbound, Rendered
from tests.support.lifecycle_helpers import a_member


async def answered(db, programme, code: str, people: list[dict], at: datetime,
                   tiers: list[str | None] | None = None) -> list[int]:
    """Each dict is one member's answers to survey `code`, in the order asked (empty:
    sent, never opened), the n-th member's m-th answer at `at` + 10n + m minutes; with
    `tiers`, the n-th member holds tiers[n]. The members' ids."""
    async with db.uow() as uow:
        await surveys.keep_from_file(uow, programme, at)
        await uow.commit()
    ids = []
    for n, given in enumerate(people):
        tier = {"tier": tiers[n]} if tiers is not None else {}
        member_id = await a_member(db, programme, at, f"{code}-{n}", **tier)
        async with db.uow() as uow:
            survey = await surveys.by_code(uow, code)
            sent = await responses.send(uow, programme, survey, member_id, "staff", at)
            for m, (question, value) in enumerate(given.items()):
                await responses.answer(uow, programme, sent.response.id, member_id, question,
                                       value, at + timedelta(minutes=n * 10 + m))
            await uow.commit()
        ids.append(member_id)
    return ids


async def said(chat, text: str) -> list[Rendered]:
    """What the engine answers `text` in a console chat, images and files included."""
    answer = await chat.chat.engine.handle(Inbound(
        platform="console", user_id=chat.chat.user, chat_id=chat.chat.user, text=text,
        locale=chat.chat.locale))
    return answer.rendered()
