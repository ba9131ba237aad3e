"""Someone erased who comes back: a new member, with no first-purchase or referral
bonus a second time (no bonus farming by erasing and rejoining).

Erasure keeps nothing that names the person: only a keyed hash (HMAC-SHA256) of each
platform account the member had, "platform:id". The key is random, made on first use
and kept in the database (privacy_keys): without it the hashes cannot be matched to
accounts by trying every likely id; with a copy of the whole database they could be,
one account at a time, which is why only these hashes are kept and nothing beside them.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select

from domain.members.tables import Identity
from domain.privacy.tables import ErasedAccount, PrivacyKey
from domain.storage.database import UnitOfWork

KEY = "erased_accounts"


async def _key(uow: UnitOfWork, now: datetime | None = None) -> bytes | None:
    """The key; with `now`, made if there is none yet (two makers at once: one wins)."""
    read = select(PrivacyKey.secret).where(PrivacyKey.name == KEY)
    secret = await uow.session.scalar(read)
    if secret is None and now is not None:
        insert = uow.upsert(PrivacyKey.__table__)
        await uow.execute(insert.values(name=KEY, secret=secrets.token_bytes(32),
                                        created_at=now)
                          .on_conflict_do_nothing(index_elements=["name"]))
        secret = await uow.session.scalar(read)
    return secret


def _digest(key: bytes, platform: str, external_id: str) -> str:
    return hmac.new(key, f"{platform}:{external_id}".encode(), hashlib.sha256).hexdigest()


async def remember(uow: UnitOfWork, accounts: Iterable[tuple[str, str]], now: datetime) -> None:
    """Keep the hashes of an erased member's accounts."""
    key = await _key(uow, now)
    assert key is not None
    rows = [{"digest": _digest(key, p, e), "erased_at": now} for p, e in accounts]
    if rows:
        insert = uow.upsert(ErasedAccount.__table__)
        await uow.execute(insert.on_conflict_do_nothing(index_elements=["digest"]), rows)


async def returning(uow: UnitOfWork, member_id: int) -> bool:
    """Whether any account of this member belonged to a member erased before."""
    key = await _key(uow)
    if key is None:  # nobody was ever erased
        return False
    accounts = (await uow.session.execute(select(Identity.platform, Identity.external_id)
                                          .where(Identity.member_id == member_id))).all()
    digests = [_digest(key, p, e) for p, e in accounts]
    return bool(digests) and await uow.session.scalar(
        select(ErasedAccount.digest).where(ErasedAccount.digest.in_(digests)).limit(1)) is not None


async def erased_account(uow: UnitOfWork, platform: str, external_id: str) -> bool:
    """Whether the account belonged to a member erased since, and to nobody now."""
    key = await _key(uow)
    if key is None:
        return False
    if await uow.session.scalar(select(Identity.id).where(
            Identity.platform == platform, Identity.external_id == external_id)) is not None:
        return False
    return await uow.session.scalar(select(ErasedAccount.digest).where(
        ErasedAccount.digest == _digest(key, platform, external_id))) is not None
