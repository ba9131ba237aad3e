"""The staff chat: where staff answer members, one forum topic per member.

What the domain wants said there is queued as a SupportPost in the transaction that
caused it, keyed so it is posted once; the platform's relay (in bot/)
claims due posts under a lease, makes the member's topic the first time it needs it,
and records how each went. The domain names no platform's API: a chat is a
(platform, chat id) pair, a topic an opaque id.

A member keeps one topic across their conversations. Its steps are queued with the
posts, in their order: OPEN_TOPIC before a conversation's first post (so the relay
reopens the topic with a fresh member card; a topic not made yet is made at that
post), CLOSE_TOPIC after the words saying it closed. /setsupport off (unset_chat)
leaves the platform without a staff chat; what waited to be posted there is dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update

from domain.staff import audit, roles
from domain.storage.database import UnitOfWork
from domain.support.tables import SupportPost, SupportStaffChat, SupportTopic

LEASE = timedelta(minutes=2)
MAX_ATTEMPTS = 5
LATER = timedelta(seconds=5)
OPEN_TOPIC, CLOSE_TOPIC = "topic:open", "topic:close"  # never translation keys (dots)
TOPIC_STEPS = frozenset({OPEN_TOPIC, CLOSE_TOPIC})
DROPPED = "dropped"  # a post whose chat stopped being the staff chat before it went


@dataclass(frozen=True)
class Chat:
    platform: str
    chat_id: str


async def chats(uow: UnitOfWork) -> list[Chat]:
    rows = await uow.session.scalars(select(SupportStaffChat).order_by(
        SupportStaffChat.platform))
    return [Chat(r.platform, r.chat_id) for r in rows]


async def is_staff_chat(uow: UnitOfWork, platform: str, chat_id: str) -> bool:
    row = await uow.session.get(SupportStaffChat, platform)
    return row is not None and row.chat_id == chat_id


async def set_chat(uow: UnitOfWork, actor_id: int, platform: str, chat_id: str,
                   now: datetime) -> bool:
    """Make this the platform's staff chat; False when it already was."""
    if not await roles.can(uow, actor_id, "support_chat"):
        raise roles.RoleRefused("denied")
    row = await uow.session.get(SupportStaffChat, platform)
    if row is not None and row.chat_id == chat_id:
        return False
    actor = audit.member_actor(actor_id)
    if row is None:
        uow.session.add(SupportStaffChat(platform=platform, chat_id=chat_id, set_by=actor,
                                         set_at=now))
    else:
        row.chat_id, row.set_by, row.set_at = chat_id, actor, now
    await audit.record(uow, actor, "support.staff_chat", f"{platform}:{chat_id}", {}, now)
    return True


async def unset_chat(uow: UnitOfWork, actor_id: int, platform: str, now: datetime) -> bool:
    """The platform has no staff chat any more: staff answer with /tickets and /reply,
    and hear of waiting members in private. What still waited to be posted in the old
    chat is dropped. False when there was none."""
    if not await roles.can(uow, actor_id, "support_chat"):
        raise roles.RoleRefused("denied")
    row = await uow.session.get(SupportStaffChat, platform)
    if row is None:
        return False
    chat_id = row.chat_id
    await uow.session.delete(row)
    await uow.session.execute(
        update(SupportPost).where(SupportPost.platform == platform,
                                  SupportPost.chat_id == chat_id,
                                  SupportPost.status.in_(("pending", "sending")))
        .values(status=DROPPED))
    await audit.record(uow, audit.member_actor(actor_id), "support.staff_chat_off",
                       f"{platform}:{chat_id}", {}, now)
    return True


async def post(uow: UnitOfWork, member_id: int | None, key: str, params: dict[str, Any],
               idempotency_key: str, now: datetime) -> bool:
    """Queue `key` for every staff chat (in the member's topic when `member_id` is
    set); False when there is no staff chat, so the caller tells staff otherwise."""
    found = await chats(uow)
    for chat in found:
        await uow.session.execute(
            uow.upsert(SupportPost).values(
                platform=chat.platform, chat_id=chat.chat_id, member_id=member_id, key=key,
                params=params, idempotency_key=f"{idempotency_key}:{chat.platform}",
                status="pending", attempts=0, not_before=now, created_at=now)
            .on_conflict_do_nothing(index_elements=["idempotency_key"]))
    return bool(found)


async def topic_step(uow: UnitOfWork, member_id: int, step: str, conversation_id: int,
                     now: datetime) -> None:
    """Queue OPEN_TOPIC or CLOSE_TOPIC for the member's topic in every staff chat."""
    assert step in TOPIC_STEPS
    await post(uow, member_id, step, {"conversation": conversation_id},
               f"support:{step}:{conversation_id}", now)


async def claim(uow: UnitOfWork, platform: str, now: datetime,
                limit: int = 20) -> list[SupportPost]:
    """Due posts of one platform, in the order they were queued; SKIP LOCKED lets
    several workers share them, and the lease brings back one whose sender died."""
    stmt = (select(SupportPost).where(SupportPost.platform == platform,
                                      SupportPost.status.in_(("pending", "sending")),
                                      SupportPost.not_before <= now)
            .order_by(SupportPost.id).limit(limit))
    if uow.dialect == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    due = list(await uow.session.scalars(stmt))
    for item in due:
        item.status, item.not_before = "sending", now + LEASE
        item.attempts += 1
    await uow.flush()
    return due


async def finish(uow: UnitOfWork, post_id: int, outcome: str, now: datetime) -> None:
    """"sent"; "later" (its topic is being made elsewhere: soon again, uncounted); or
    "retry", with backoff, up to a limit."""
    item = await uow.session.get(SupportPost, post_id)
    if item is None or item.status in ("sent", "failed", DROPPED):
        return
    if outcome == "sent":
        item.status, item.sent_at = "sent", now
    elif outcome == "later":
        item.status, item.attempts = "pending", item.attempts - 1
        item.not_before = now + LATER
    elif item.attempts >= MAX_ATTEMPTS:
        item.status = "failed"
    else:
        item.status, item.not_before = "pending", now + timedelta(seconds=30 * 2 ** item.attempts)


async def topic(uow: UnitOfWork, platform: str, chat_id: str, member_id: int) -> str | None:
    row = await uow.session.get(SupportTopic, (platform, chat_id, member_id))
    return row.topic_id if row is not None else None


@dataclass(frozen=True)
class Topic:
    """A member's topic as kept: its id (None while it is being made) and its name."""

    topic_id: str | None
    title: str | None


async def topic_of(uow: UnitOfWork, platform: str, chat_id: str,
                   member_id: int) -> Topic | None:
    row = await uow.session.get(SupportTopic, (platform, chat_id, member_id))
    return Topic(row.topic_id, row.title) if row is not None else None


async def claim_topic(uow: UnitOfWork, platform: str, chat_id: str, member_id: int,
                      now: datetime) -> bool:
    """True when this caller is to make the member's topic: nobody has, and nobody is
    making it now (a claim older than the lease was abandoned and is taken over)."""
    inserted = await uow.session.execute(
        uow.upsert(SupportTopic).values(platform=platform, chat_id=chat_id,
                                        member_id=member_id, topic_id=None, claimed_at=now)
        .on_conflict_do_nothing(index_elements=["platform", "chat_id", "member_id"])
        .returning(SupportTopic.member_id))
    if inserted.scalar() is not None:
        return True
    return bool(await uow.changed(
        update(SupportTopic).where(SupportTopic.platform == platform,
                                   SupportTopic.chat_id == chat_id,
                                   SupportTopic.member_id == member_id,
                                   SupportTopic.topic_id.is_(None),
                                   SupportTopic.claimed_at <= now - LEASE)
        .values(claimed_at=now)))


async def keep_topic(uow: UnitOfWork, platform: str, chat_id: str, member_id: int,
                     topic_id: str, title: str, now: datetime) -> None:
    await uow.session.execute(
        update(SupportTopic).where(SupportTopic.platform == platform,
                                   SupportTopic.chat_id == chat_id,
                                   SupportTopic.member_id == member_id)
        .values(topic_id=topic_id, title=title, created_at=now))


async def rename_topic(uow: UnitOfWork, platform: str, chat_id: str, topic_id: str,
                       title: str) -> None:
    await uow.session.execute(
        update(SupportTopic).where(SupportTopic.platform == platform,
                                   SupportTopic.chat_id == chat_id,
                                   SupportTopic.topic_id == topic_id)
        .values(title=title))


async def forget_topic(uow: UnitOfWork, platform: str, chat_id: str, topic_id: str) -> None:
    """The topic is gone from the chat (staff deleted it): the member's next post makes
    a new one. Only that topic is forgotten, never one made since in its place."""
    await uow.session.execute(
        delete(SupportTopic).where(SupportTopic.platform == platform,
                                   SupportTopic.chat_id == chat_id,
                                   SupportTopic.topic_id == topic_id))


async def member_of_topic(uow: UnitOfWork, platform: str, chat_id: str,
                          topic_id: str) -> int | None:
    return await uow.session.scalar(select(SupportTopic.member_id).where(
        SupportTopic.platform == platform, SupportTopic.chat_id == chat_id,
        SupportTopic.topic_id == topic_id))
