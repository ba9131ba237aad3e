"""Newcomers' captchas: a newcomer stays muted until they answer a small sum, and is
taken out when the time runs out.

Every pending captcha is a row, so a restart forgets none: the answer, the message to
take away and the moment it expires all come back from the database. Each change is
a conditional update from "pending", so whoever settles a captcha first (the
newcomer's answer, the expiry worker, their leaving, /captcha off) settles it once,
and a second delivery of the same answer finds nothing to do.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update

from domain.community.tables import GroupCaptcha
from domain.storage.database import UnitOfWork

PENDING, PASSED, FAILED, EXPIRED, LEFT = "pending", "passed", "failed", "expired", "left"
RELEASED = "released"  # the group turned its captcha off while it waited
TERMS = range(1, 10)  # each term of the sum: 1 + 1 up to 9 + 9
CHOICES = 4  # answer buttons, the right one among them
_draw = random.SystemRandom()
# A captcha waits for its group's turn to be posted (a platform may pace a group),
# and its time runs from the post. One still unposted this long after it was due was
# lost with the process that held it: the newcomer, never asked, is let in.
UNASKED_FOR = timedelta(minutes=30)


@dataclass(frozen=True)
class Sum:
    a: int
    b: int
    choices: tuple[int, ...]  # in the order the buttons show them

    @property
    def answer(self) -> int:
        return self.a + self.b


def new_sum(draw: random.Random = _draw) -> Sum:
    """A sum anyone can do in their head, with three wrong answers close to the right
    one (a far-off wrong answer would give the right one away)."""
    a, b = draw.choice(TERMS), draw.choice(TERMS)
    right = a + b
    near = [n for n in range(max(0, right - 5), right + 6) if n != right]
    choices = [right, *draw.sample(near, CHOICES - 1)]
    draw.shuffle(choices)
    return Sum(a, b, tuple(choices))


async def pending(uow: UnitOfWork, platform: str, chat_id: str,
                  user_id: str) -> GroupCaptcha | None:
    return await uow.session.scalar(select(GroupCaptcha).where(
        GroupCaptcha.platform == platform, GroupCaptcha.chat_id == chat_id,
        GroupCaptcha.user_id == user_id, GroupCaptcha.status == PENDING))


async def open(uow: UnitOfWork, platform: str, chat_id: str, user_id: str, answer: int,
               message_id: str | None, expires_at: datetime, now: datetime) -> GroupCaptcha:
    """The newcomer's pending captcha. One already pending is kept as it is (the same
    arrival delivered twice); a settled one from an earlier visit is started afresh."""
    row = await uow.session.scalar(select(GroupCaptcha).where(
        GroupCaptcha.platform == platform, GroupCaptcha.chat_id == chat_id,
        GroupCaptcha.user_id == user_id))
    if row is not None and row.status == PENDING:
        return row
    if row is None:
        row = GroupCaptcha(platform=platform, chat_id=chat_id, user_id=user_id)
        uow.session.add(row)
    row.answer, row.message_id, row.status = answer, message_id, PENDING
    row.expires_at, row.created_at, row.updated_at = expires_at, now, now
    await uow.flush()
    return row


async def asked(uow: UnitOfWork, captcha_id: int, message_id: str,
                expires_at: datetime) -> bool:
    """Its sum was posted as `message_id`: the time to answer runs from now until
    `expires_at`. False when it was settled meanwhile (they left, or it timed out)."""
    return bool(await uow.changed(
        update(GroupCaptcha).where(GroupCaptcha.id == captcha_id,
                                   GroupCaptcha.status == PENDING)
        .values(message_id=message_id, expires_at=expires_at)))


async def close(uow: UnitOfWork, captcha_id: int, status: str, now: datetime) -> bool:
    """Settle a pending captcha as `status`; False when it was settled already."""
    return bool(await uow.changed(
        update(GroupCaptcha).where(GroupCaptcha.id == captcha_id,
                                   GroupCaptcha.status == PENDING)
        .values(status=status, updated_at=now)))


@dataclass(frozen=True)
class Settled:
    """What an answer did: `status` PASSED, FAILED or EXPIRED, and the captcha's
    message to take away."""

    status: str
    message_id: str | None


async def solve(uow: UnitOfWork, platform: str, chat_id: str, user_id: str,
                message_id: str | None, answer: int, now: datetime) -> Settled | None:
    """`user_id` pressed `answer` under `message_id`. None when that is not their
    pending captcha (someone else's, or one settled already): nothing changes. An
    answer after the time ran out counts as the time running out."""
    row = await pending(uow, platform, chat_id, user_id)
    if row is None or (message_id is not None and row.message_id != message_id):
        return None
    status = EXPIRED if row.expires_at <= now else (
        PASSED if answer == row.answer else FAILED)
    if not await close(uow, row.id, status, now):
        return None
    return Settled(status, row.message_id)


@dataclass(frozen=True)
class Due:
    captcha_id: int
    chat_id: str
    user_id: str
    message_id: str | None  # None: never posted, so never asked (see UNASKED_FOR)


async def expired(uow: UnitOfWork, platform: str, now: datetime, limit: int) -> list[Due]:
    """Pending captchas whose time ran out since they were posted, and those lost
    before they could be, oldest first (`close` each before acting on it)."""
    c = GroupCaptcha
    rows = await uow.session.execute(
        select(c.id, c.chat_id, c.user_id, c.message_id)
        .where(c.status == PENDING, c.platform == platform, c.expires_at <= now,
               or_(c.message_id.is_not(None), c.expires_at <= now - UNASKED_FOR))
        .order_by(c.expires_at, c.id).limit(limit))
    return [Due(*row) for row in rows]


async def release(uow: UnitOfWork, platform: str, chat_id: str, now: datetime) -> list[Due]:
    """The group turned its captcha off: every captcha still pending there is settled as
    RELEASED, and returned, so its newcomer is let in rather than taken out later. Each
    is settled on its own condition, so one answered meanwhile is left out."""
    c = GroupCaptcha
    rows = await uow.session.execute(
        select(c.id, c.chat_id, c.user_id, c.message_id)
        .where(c.status == PENDING, c.platform == platform, c.chat_id == chat_id)
        .order_by(c.id))
    return [Due(*row) for row in rows.all() if await close(uow, row[0], RELEASED, now)]
