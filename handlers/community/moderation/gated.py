"""Whoever writes in a gated chat has a seat, and is judged like anyone who joined.

A chat gated while people were already in it has no seat for them: Telegram lists
admins, never members, and only joins and leaves arrive as updates. So the first
message of someone without a seat seats them (domain.community.seats.arrived), which
warns them at once if their tier does not open the chat and removes them after the
grace, as for anyone else who lapses. Chatter opens no transaction for it: an
in-memory `Seated` remembers which chats are gated (for a minute) and whom it has
seated already; the router is made per Moderation (`build`), each with its memory.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from domain.community import gates, seats
from domain.storage.database import UnitOfWork
from handlers.community.moderation.dispatch import GroupCtx, GroupRouter
from handlers.community.moderation.events import MESSAGE, GroupOutcome

GATED_TTL_S = 60.0  # a chat gated meanwhile is noticed within this long
KNOWN = 100_000  # people seated remembered, the least recent forgotten first


class Seated:
    def __init__(self, size: int = KNOWN, clock: Callable[[], float] = time.monotonic) -> None:
        self.size = size
        self.clock = clock
        self._gated: dict[tuple[str, str], tuple[float, bool]] = {}
        self._known: OrderedDict[tuple[str, str, str], None] = OrderedDict()

    def gated(self, platform: str, chat_id: str) -> bool | None:
        """Whether the chat is gated, as last read; None when not known lately."""
        hit = self._gated.get((platform, chat_id))
        return hit[1] if hit is not None and self.clock() - hit[0] < GATED_TTL_S else None

    def note_gated(self, platform: str, chat_id: str, gated: bool) -> None:
        self._gated[(platform, chat_id)] = (self.clock(), gated)

    def known(self, key: tuple[str, str, str]) -> bool:
        if key in self._known:
            self._known.move_to_end(key)
            return True
        return False

    def seated(self, key: tuple[str, str, str]) -> None:
        self._known[key] = None
        while len(self._known) > self.size:
            self._known.popitem(last=False)


def build(memory: Seated | None = None) -> GroupRouter:
    router = GroupRouter()
    remembered = memory or Seated()

    async def seen(ctx: GroupCtx) -> GroupOutcome | None:
        await seat(ctx, remembered)
        return None

    router.on(MESSAGE)(seen)
    return router


async def seat(ctx: GroupCtx, memory: Seated) -> None:
    event, who = ctx.event, ctx.event.person
    if who.is_bot or not who.user_id or who.user_id == event.chat_id:
        return  # bots, and an anonymous admin speaking as the group itself
    key = (event.platform, event.chat_id, who.user_id)
    if memory.gated(event.platform, event.chat_id) is False or memory.known(key):
        return
    # Looked up in a snapshot, which takes no write lock: mostly there is nothing to do.
    async with ctx.db.snapshot() as snap:
        gate = await gates.find(snap, event.platform, event.chat_id)
        memory.note_gated(event.platform, event.chat_id, gate is not None)
        if gate is None:
            return
        found = await seats.find(snap, gate, who.user_id)
        if found is not None and found.status in seats.PRESENT:
            memory.seated(key)
            return
    if ctx.uow is not None:
        # Inside a command's transaction, which may yet roll back: not remembered, so
        # the next message looks again.
        await _arrive(ctx, ctx.uow)
        return
    async with ctx.db.uow() as uow:
        await _arrive(ctx, uow)
        await uow.commit()
    memory.seated(key)


async def _arrive(ctx: GroupCtx, uow: UnitOfWork) -> None:
    event, who = ctx.event, ctx.event.person
    gate = await gates.find(uow, event.platform, event.chat_id)
    if gate is not None:  # still gated: seated, and judged as anyone who joins
        admin = who.user_id in await ctx.chat.admins()
        await seats.arrived(uow, ctx.programme.tiers, gate, who.user_id, admin, ctx.now)
