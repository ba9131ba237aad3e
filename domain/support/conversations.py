"""A member's conversation with staff: opened by the member, written to by both
sides, read and answered by staff, closed by either.

One conversation per member is open at a time (a unique column that is null once
closed), so a second /support finds the first. What staff say reaches the member as
a notice (domain.notices), which goes out on the member's platform by its rules: a
reply the platform cannot take now (a closed service window) waits for the member's
next message (reminders.py then tells staff). Every staff action is in the audit log; members'
own messages are kept in support_messages. The staff chat hears of each step
(staff_chat.post) when there is one, in the member's topic: opened (again) when the
conversation's first message comes, closed with the conversation.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update

from domain.config import Programme
from domain.errors import Refused
from domain.members import members
from domain.members.tables import Member
from domain.notices import announce
from domain.staff import audit, roles
from domain.storage.database import UnitOfWork
from domain.support import alerts, pictures, ratings, staff_chat
from domain.support.tables import SupportConversation, SupportMessage

OPEN, ANSWERED, CLOSED = "open", "answered", "closed"
IN, OUT = "in", "out"
BENEFIT = "priority_support"
MAX_TEXT = 2000  # characters of one message, either way
EXCERPT = 200  # characters of a member's message in a notice to staff


class SupportRefused(Refused):
    """empty, too_long, control, none_open, unknown, closed, not_yours, not_staff."""


def clean(raw: str) -> str:
    """A message as kept: NFC and trimmed. Control characters other than line breaks
    and tabs are refused, not dropped: the writer sees what would not go."""
    text = unicodedata.normalize("NFC", raw).strip()
    if not text:
        raise SupportRefused("empty")
    if len(text) > MAX_TEXT:
        raise SupportRefused("too_long", most=MAX_TEXT, got=len(text))
    if any(unicodedata.category(c) == "Cc" and c not in "\n\t" for c in text):
        raise SupportRefused("control")
    return text


def priority(programme: Programme, tier: str | None) -> int:
    """The tier's rank + 1 when it lists priority_support, else 0: higher tiers first."""
    level = programme.tiers.by_code(tier)
    if level is None or BENEFIT not in level.benefits:
        return 0
    return programme.tiers.rank(tier) + 1


def number(conversation_id: int) -> str:
    return f"#{conversation_id}"


async def current(uow: UnitOfWork, member_id: int) -> SupportConversation | None:
    """The member's conversation that is not closed, if any."""
    return await uow.session.scalar(select(SupportConversation).where(
        SupportConversation.open_member_id == member_id))


async def get(uow: UnitOfWork, conversation_id: int,
              lock: bool = False) -> SupportConversation | None:
    stmt = select(SupportConversation).where(SupportConversation.id == conversation_id)
    if lock and uow.dialect == "postgresql":  # SQLite's BEGIN IMMEDIATE already holds it
        stmt = stmt.with_for_update()
    return await uow.session.scalar(stmt)


@dataclass(frozen=True)
class Opened:
    conversation: SupportConversation
    created: bool


async def open_(uow: UnitOfWork, programme: Programme, member: Member,
                now: datetime) -> Opened:
    """The member's open conversation, made if they have none."""
    found = await current(uow, member.id)
    if found is not None:
        return Opened(found, False)
    made = await uow.session.execute(
        uow.upsert(SupportConversation).values(
            member_id=member.id, open_member_id=member.id, status=ANSWERED,
            priority=priority(programme, member.tier), opened_at=now, updated_at=now)
        .on_conflict_do_nothing(index_elements=["open_member_id"])
        .returning(SupportConversation.id))
    created = made.scalar() is not None
    found = await current(uow, member.id)
    assert found is not None
    if created:
        await audit.record(uow, audit.member_actor(member.id), "support.open",
                           f"support:{found.id}", {}, now)
    return Opened(found, created)


def _said(raw: str, picture: pictures.Picture | None) -> str:
    """The text as kept; a photo may come without words (its caption is the text)."""
    if picture is not None:
        pictures.check(picture)
        if not raw.strip():
            return ""
    return clean(raw)


async def member_says(uow: UnitOfWork, programme: Programme, member: Member, raw: str,
                      now: datetime, picture: pictures.Picture | None = None
                      ) -> SupportMessage:
    """The member's message in their open conversation, for staff to answer; with
    `picture`, a photo by reference (pictures.py), which staff are shown."""
    text = _said(raw, picture)
    conv = await current(uow, member.id)
    if conv is None:
        raise SupportRefused("none_open")
    message = SupportMessage(conversation_id=conv.id, direction=IN, text=text,
                             created_at=now)
    pictures.keep(message, picture)
    uow.session.add(message)
    await uow.flush()
    started = conv.waiting_since is None
    conv.status, conv.updated_at = OPEN, now
    conv.priority = priority(programme, member.tier)
    if started:
        conv.waiting_since = now
    params: dict[str, object] = {"conversation": conv.id,
                                 "member": members.member_number(member.id), "text": text}
    key = "support.staff.member_said"
    if picture is not None:  # the relay shows the photo, this the caption under it
        key, params[pictures.PARAM] = "support.staff.member_photo", message.id
    if started:  # the member's topic opens (again) for this conversation, once
        await staff_chat.topic_step(uow, member.id, staff_chat.OPEN_TOPIC, conv.id, now)
    if not await staff_chat.post(uow, member.id, key, params,
                                 f"support:in:{message.id}", now) and started:
        # No staff chat: each staff member hears once per wait, not per message.
        excerpt = text[:EXCERPT] if text else {"$text": "support.photo_mark"}
        await alerts.tell_staff(uow, None, "support.staff.waiting",
                                {**params, "text": excerpt},
                                f"support:waiting:{message.id}", now)
    return message


@dataclass(frozen=True)
class Replied:
    conversation: SupportConversation
    message: SupportMessage


async def reply(uow: UnitOfWork, programme: Programme, staff_id: int, conversation_id: int,
                raw: str, now: datetime, from_staff_chat: bool = False,
                picture: pictures.Picture | None = None) -> Replied:
    """A staff member's answer, sent to the member as a notice on their platform.
    The member reads the business's name, or the staff member's only when the
    programme says so ([support] show_staff_names). With `picture`, the notice names
    the message (pictures.PARAM) so the member's platform sends the photo with it."""
    if not await roles.can(uow, staff_id, "support"):
        raise SupportRefused("not_staff")
    text = _said(raw, picture)
    conv = await get(uow, conversation_id, lock=True)
    if conv is None:
        raise SupportRefused("unknown", number=number(conversation_id))
    if conv.status == CLOSED:
        raise SupportRefused("closed", number=number(conversation_id))
    message = SupportMessage(conversation_id=conv.id, direction=OUT, text=text,
                             staff_id=staff_id, created_at=now)
    pictures.keep(message, picture)
    uow.session.add(message)
    await uow.flush()
    message.notice_key = f"support:reply:{message.id}"
    conv.status, conv.waiting_since, conv.updated_at = ANSWERED, None, now
    conv.read_at, conv.reminded_at = now, None
    params: dict[str, object] = {"conversation": conv.id, "text": text}
    key = "support.reply"
    if programme.support.show_staff_names:
        staff = await members.get(uow, staff_id)
        key, params["staff"] = "support.reply_named", (
            staff.display_name or members.member_number(staff_id))
    if picture is not None:
        key = f"{key}_photo"
        params[pictures.PARAM] = message.id
    await announce.tell(uow, conv.member_id, key, params, message.notice_key, now)
    if not from_staff_chat:  # the topic shows what was answered from elsewhere
        await staff_chat.topic_step(uow, conv.member_id, staff_chat.OPEN_TOPIC, conv.id,
                                    now)
        shown: dict[str, object] = {"conversation": conv.id,
                                    "staff": members.member_number(staff_id), "text": text}
        if picture is not None:
            shown[pictures.PARAM] = message.id
        await staff_chat.post(uow, conv.member_id, "support.staff.answered",
                              shown, f"support:out:{message.id}", now)
    await audit.record(uow, audit.member_actor(staff_id), "support.reply",
                       f"support:{conv.id}",
                       {"member": members.member_number(conv.member_id),
                        "length": len(text)}, now)
    return Replied(conv, message)


async def mark_read(uow: UnitOfWork, staff_id: int, conversation_id: int,
                    now: datetime) -> bool:
    """Staff have read what the member wrote: the member is told, once for what was
    new. False when nothing was unread."""
    if not await roles.can(uow, staff_id, "support"):
        raise SupportRefused("not_staff")
    conv = await get(uow, conversation_id, lock=True)
    if conv is None:
        raise SupportRefused("unknown", number=number(conversation_id))
    latest = await uow.session.scalar(select(func.max(SupportMessage.id)).where(
        SupportMessage.conversation_id == conv.id, SupportMessage.direction == IN))
    if conv.status != OPEN or latest is None:
        return False
    newest_at = await uow.session.scalar(select(SupportMessage.created_at).where(
        SupportMessage.id == latest))
    if conv.read_at is not None and newest_at is not None and conv.read_at >= newest_at:
        return False
    conv.read_at, conv.updated_at = now, now
    await announce.tell(uow, conv.member_id, "support.read", {"conversation": conv.id},
                        f"support:read:{latest}", now)
    await audit.record(uow, audit.member_actor(staff_id), "support.read",
                       f"support:{conv.id}", {}, now)
    return True


@dataclass(frozen=True)
class Closed:
    conversation: SupportConversation
    rating: int | None  # the survey response that asks for a rating, if one was sent


async def close(uow: UnitOfWork, programme: Programme, actor_id: int, conversation_id: int,
                now: datetime, by_staff: bool) -> Closed:
    """Close a conversation: the member's own, or any for staff; then the member is
    asked for a 1-5 rating (ratings.py). Closing twice is refused the second time."""
    if by_staff and not await roles.can(uow, actor_id, "support"):
        raise SupportRefused("not_staff")
    conv = await get(uow, conversation_id, lock=True)
    if conv is None or (not by_staff and conv.member_id != actor_id):
        raise SupportRefused("unknown", number=number(conversation_id))
    actor = audit.member_actor(actor_id)
    if not await uow.changed(
            update(SupportConversation)
            .where(SupportConversation.id == conv.id, SupportConversation.status != CLOSED)
            .values(status=CLOSED, open_member_id=None, closed_at=now, closed_by=actor,
                    waiting_since=None, updated_at=now)):
        raise SupportRefused("closed", number=number(conversation_id))
    await uow.session.refresh(conv)
    rating = await ratings.ask(uow, programme, conv, now)
    if by_staff:
        # The member is asked here; a member who closes is asked in their own answer.
        params: dict[str, object] = {"conversation": conv.id}
        if rating is not None:
            params[ratings.BUTTONS] = ratings.buttons(conv.id)
        key = "support.closed_by_staff" if rating is None else "support.closed_by_staff_rate"
        await announce.tell(uow, conv.member_id, key, params, f"support:closed:{conv.id}",
                            now)
    await _closed_for_staff(uow, conv, by_staff, now)
    await audit.record(uow, actor, "support.close", f"support:{conv.id}",
                       {"member": members.member_number(conv.member_id),
                        "by": "staff" if by_staff else "member"}, now)
    return Closed(conv, rating)


async def _closed_for_staff(uow: UnitOfWork, conv: SupportConversation, by_staff: bool,
                            now: datetime) -> None:
    """Staff hear that a conversation they saw was closed: in the member's topic,
    which then closes too; a member's close also in private when there is no staff
    chat (as they heard of the wait). One nobody wrote in was never shown to them."""
    written = await uow.session.scalar(select(SupportMessage.id).where(
        SupportMessage.conversation_id == conv.id).limit(1))
    if written is None:
        return
    told = f"support:closed:{conv.id}"
    if by_staff:
        await staff_chat.post(uow, conv.member_id, "support.staff.closed",
                              {"conversation": conv.id}, told, now)
    else:
        await alerts.tell_staff(uow, conv.member_id, "support.staff.member_closed",
                                {"conversation": conv.id,
                                 "member": members.member_number(conv.member_id)},
                                told, now)
    await staff_chat.topic_step(uow, conv.member_id, staff_chat.CLOSE_TOPIC, conv.id, now)


@dataclass(frozen=True)
class Waiting:
    conversation: SupportConversation
    member_number: str
    tier: str | None
    last_text: str | None  # the member's latest message


async def queue(uow: UnitOfWork, limit: int = 30) -> list[Waiting]:
    """Conversations not closed: higher priority first, then the oldest first."""
    rows = (await uow.session.execute(
        select(SupportConversation, Member.tier)
        .join(Member, Member.id == SupportConversation.member_id)
        .where(SupportConversation.status != CLOSED)
        .order_by(SupportConversation.priority.desc(), SupportConversation.opened_at,
                  SupportConversation.id)
        .limit(limit))).all()
    found = []
    for conv, tier in rows:
        last = await uow.session.scalar(
            select(SupportMessage.text).where(SupportMessage.conversation_id == conv.id,
                                              SupportMessage.direction == IN)
            .order_by(SupportMessage.id.desc()).limit(1))
        found.append(Waiting(conv, members.member_number(conv.member_id), tier, last))
    return found


async def history(uow: UnitOfWork, conversation_id: int,
                  limit: int = 10) -> list[SupportMessage]:
    """The latest messages of a conversation, oldest first."""
    rows = await uow.session.scalars(
        select(SupportMessage).where(SupportMessage.conversation_id == conversation_id)
        .order_by(SupportMessage.id.desc()).limit(limit))
    return list(reversed(list(rows)))


async def overdue(uow: UnitOfWork, programme: Programme,
                  now: datetime) -> list[SupportConversation]:
    """Conversations waiting for staff longer than the programme allows, not yet
    reminded of during this wait."""
    due = now - timedelta(minutes=programme.support.remind_after_minutes)
    rows = await uow.session.scalars(
        select(SupportConversation).where(
            SupportConversation.status == OPEN,
            SupportConversation.waiting_since <= due,
            (SupportConversation.reminded_at.is_(None))
            | (SupportConversation.reminded_at < SupportConversation.waiting_since))
        .order_by(SupportConversation.priority.desc(), SupportConversation.waiting_since))
    return list(rows)
