"""Remembering who is seen in a group, so admins can name them by @username.

Chatter opens no transaction (dispatch.py): this listener opens one only for a person
it has not written yet, or whose username or name changed, as the in-memory `Seen`
tells. The router is made per Moderation (`build`), so each one has its own memory.
"""

from __future__ import annotations

from domain.community import people
from handlers.community.moderation.dispatch import GroupCtx, GroupRouter
from handlers.community.moderation.events import JOINED, MESSAGE, GroupOutcome, Person


def build(seen: people.Seen | None = None) -> GroupRouter:
    router = GroupRouter()
    memory = seen or people.Seen()

    async def noted(ctx: GroupCtx) -> GroupOutcome | None:
        await note(ctx, memory)
        return None

    router.on(MESSAGE)(noted)
    router.on(JOINED)(noted)
    return router


def _everyone(ctx: GroupCtx) -> list[Person]:
    event = ctx.event
    named = [event.person, *([event.reply_to] if event.reply_to else []), *event.mentioned]
    return [p for p in named if p.user_id]


async def note(ctx: GroupCtx, seen: people.Seen) -> None:
    platform = ctx.event.platform
    fresh = [p for p in _everyone(ctx) if seen.news(platform, p.user_id, p.username, p.name)]
    if not fresh:
        return
    if ctx.uow is not None:
        # Inside a command's transaction, which may yet roll back: written, but not
        # marked as written, so the next message checks again.
        for p in fresh:
            await people.remember(ctx.uow, platform, p.user_id, p.username, p.name, ctx.now)
        return
    async with ctx.db.uow() as uow:
        for p in fresh:
            await people.remember(uow, platform, p.user_id, p.username, p.name, ctx.now)
        await uow.commit()
    for p in fresh:
        seen.written(platform, p.user_id, p.username, p.name)
