"""Join requests and arrivals in gated chats, as the platform's side reports them.

These are not conversations: a join request may come from someone who never wrote to
the bot, and an arrival is something the chat saw. The platform's side calls them
and acts on the answer (approve or decline, and a private message to the requester).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from domain.community import gates, joining, seats
from domain.config import Programme
from domain.members import members
from domain.storage.database import Database
from domain.tiers import tiers
from handlers.community.words import needs
from handlers.engine import i18n
from handlers.engine.render import render
from handlers.engine.types import Rendered, Reply
from handlers.engine.words import local, tier_called

# A chat member's status in the platform's words, and what it means here.
PRESENT = frozenset({"member", "restricted"})
ADMINS = frozenset({"administrator", "creator"})
GONE = frozenset({"left", "kicked"})
JOIN_PAYLOAD = "groups"  # `/start groups`: a newcomer who asked to join a gated chat


@dataclass(frozen=True)
class JoinAnswer:
    """approve: True, False, or None when the chat has no gate: the request is left to
    the chat's own admins, who may have links of their own that ask for approval. No
    link of ours outlives its gate (/gate off revokes it), so such a request never came
    through a gate and does not wait on us.
    message: what to tell the requester in private, if anything."""

    approve: bool | None
    message: Rendered | None = None


async def join_request(db: Database, programme: Programme, platform: str, chat_id: str,
                       user_id: str, hint: str | None, start_link: str | None,
                       now: datetime) -> JoinAnswer:
    async with db.uow() as uow:
        gate = await gates.find(uow, platform, chat_id)
        if gate is None:
            return JoinAnswer(None)
        verdict = await joining.decide_join(uow, programme.tiers, gate, user_id)
        locale = members.language(verdict.member, programme) if verdict.member else \
            i18n.negotiate(hint) or programme.default_locale
        if verdict.outcome == "approve":
            assert verdict.member is not None
            await joining.admitted(uow, gate, user_id, verdict.member.id, now)
            await uow.commit()
            return JoinAnswer(True, render(Reply("community.join_approved",
                                                 {"chat": gate.title}), locale))
        if verdict.outcome == "stranger":
            key = "community.join_stranger" if start_link else "community.join_stranger_plain"
            return JoinAnswer(False, render(Reply(key, {
                "chat": gate.title, "programme": local(programme.name),
                "tier": tier_called(programme.tiers, gate.min_tier),
                "link": start_link.format(payload=JOIN_PAYLOAD) if start_link else ""}), locale))
        assert verdict.member is not None
        progress = await tiers.progress(uow, programme.tiers, verdict.member, now)
        return JoinAnswer(False, render(Reply("community.join_declined", {
            "chat": gate.title, **needs(programme, progress, gate.min_tier)}), locale))


async def seen(db: Database, programme: Programme, platform: str, chat_id: str,
               user_id: str, status: str, now: datetime) -> None:
    """The chat reports `user_id` with `status` now: arrived, promoted, demoted or gone."""
    async with db.uow() as uow:
        gate = await gates.find(uow, platform, chat_id)
        if gate is None:
            return
        if status in GONE:
            await seats.departed(uow, gate, user_id, now)
        elif status in PRESENT or status in ADMINS:
            await seats.arrived(uow, programme.tiers, gate, user_id, status in ADMINS, now)
        await uow.commit()
