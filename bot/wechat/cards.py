"""The member card (会员卡): linked on activation, then kept showing points and tier.

Activation (the member submits WeChat's one-tap form, or receives an auto-activated
card) links the card code to the member. A background pass then pushes every card
whose member's ledger or tier moved past what the card shows, through
card/membercard/updateuser with absolute values, so a repeat changes nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from bot.wechat.api import Api, ApiError
from bot.wechat.messages import PLATFORM
from bot.wechat.store import member_cards
from domain.config import Programme
from domain.members import members
from domain.storage.database import Database

log = logging.getLogger(__name__)
ACTIVATE = "/card/membercard/activate"
UPDATE = "/card/membercard/updateuser"


class Cards:
    def __init__(self, db: Database, api: Api, programme: Programme,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        assert programme.wechat.card_id, "member cards need [wechat] card_id"
        self.db = db
        self.api = api
        self.programme = programme
        self.card_id = programme.wechat.card_id
        self.clock = clock
        self.wake = asyncio.Event()

    async def link(self, openid: str, card_id: str, code: str, activate: bool) -> bool:
        """Link this card to the openid's member (joining them if new); False when the
        card is not ours or was linked before."""
        if card_id != self.card_id:
            return False
        now = self.clock()
        async with self.db.uow() as uow:
            member = (await members.register(uow, self.programme, PLATFORM, openid, now)).member
            if await member_cards.of_member(uow, card_id, member.id) is not None:
                return False
            await uow.commit()
        if activate:  # WeChat's card is live only once we confirm; raises to retry later
            await self.api.call(ACTIVATE, {"card_id": card_id, "code": code,
                                           "membership_number": members.member_number(
                                               member.id)})
        async with self.db.uow() as uow:
            linked = await member_cards.activate(uow, card_id, code, member.id, now)
            await uow.commit()
        self.nudge()
        return linked

    def nudge(self) -> None:
        self.wake.set()

    async def sync(self) -> int:
        """Push every card that is behind; returns how many were updated."""
        async with self.db.uow() as uow:
            due = await member_cards.due(uow, self.clock())
            await uow.commit()
        done = 0
        for update in due:
            try:
                await self.api.call(UPDATE, self._payload(update))
            except ApiError as exc:
                log.warning("member card update failed", extra={"errcode": exc.errcode})
                async with self.db.uow() as uow:
                    await member_cards.release(uow, update)
                    await uow.commit()
                continue
            async with self.db.uow() as uow:
                await member_cards.synced(uow, update)
                await uow.commit()
            done += 1
        return done

    async def keep_syncing(self, every: float = 30.0) -> None:
        while True:
            try:
                await asyncio.wait_for(self.wake.wait(), every)
            except TimeoutError:
                pass
            self.wake.clear()
            try:
                await self.sync()
            except Exception:
                log.exception("member card sync failed")

    def _payload(self, update: member_cards.CardUpdate) -> dict[str, Any]:
        tier = self.programme.tiers.by_code(update.tier)
        payload: dict[str, Any] = {
            "code": update.code, "card_id": update.card_id, "bonus": update.bonus,
            "notify_optional": {"is_notify_bonus": True, "is_notify_custom_field1": True}}
        if update.added:
            payload["add_bonus"] = update.added
        if tier is not None:
            payload["custom_field_value1"] = tier.name.get(self.programme.default_locale)
        return payload
