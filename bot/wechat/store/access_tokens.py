"""Shared API tokens: one per app, used by every process, refreshed by one at a time.

A platform token (WeChat's access_token) is invalidated when anyone fetches a new
one, so workers must not each fetch their own. The row is the lock: `locked` takes it
(SELECT ... FOR UPDATE on PostgreSQL; SQLite's BEGIN IMMEDIATE already holds the write
lock), the holder re-checks, fetches only if still needed, and `store`s the result.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select, update

from bot.wechat.store.tables import AccessToken
from domain.storage.database import UnitOfWork

_NEVER = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Token:
    value: str
    expires_at: datetime

    def fresh(self, now: datetime, margin_seconds: float) -> bool:
        return bool(self.value) and (self.expires_at - now).total_seconds() > margin_seconds


async def read(uow: UnitOfWork, name: str) -> Token | None:
    row = (await uow.session.execute(
        select(AccessToken.value, AccessToken.expires_at).where(AccessToken.name == name)
    )).one_or_none()
    return Token(row.value, row.expires_at) if row else None


async def locked(uow: UnitOfWork, name: str) -> Token:
    """Hold this token's lock until the unit of work ends; returns what is stored."""
    await uow.session.execute(
        uow.upsert(AccessToken).values(name=name, value="", expires_at=_NEVER)
        .on_conflict_do_nothing(index_elements=["name"]))
    row = (await uow.session.execute(
        select(AccessToken.value, AccessToken.expires_at).where(AccessToken.name == name)
        .with_for_update()
    )).one()
    return Token(row.value, row.expires_at)


async def store(uow: UnitOfWork, name: str, token: Token, now: datetime) -> None:
    await uow.session.execute(update(AccessToken).where(AccessToken.name == name).values(
        value=token.value, expires_at=token.expires_at, fetched_at=now))
