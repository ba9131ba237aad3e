"""Erasure reaches what bot/ keeps of a WeChat member beside the domain's tables:
their service window (keyed by openid) and their membership card, registered at the
composition root; an erased member's openid is then nowhere in the SQLite file."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select

from bot.app import lifespan
from bot.settings import Settings
from bot.wechat.store import member_cards, service_window
from bot.wechat.store.tables import MemberCard, ServiceWindow
from domain.privacy import erasure
from tests.domain.privacy.test_consents import NOW
from tests.support import crowd
from tests.support.crowd import Person

GONE, KEPT = "oErasedOpenid7Qk2Zt9WmXc", "oKeptOpenid4Hn8Rp3VbLs"
CARD = "pCARD-tea-house"
GONE_CODE, KEPT_CODE = "826491037755", "517204968311"


async def test_an_erased_wechat_member_leaves_no_openid_in_the_platform_tables(
        tmp_path, monkeypatch):
    monkeypatch.setattr(erasure, "_ERASERS", {})  # only what the start-up registers
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/erase.db")
    async with lifespan(settings) as app:
        db = app.db
        gone, kept = await crowd.add(db, [Person(accounts=(("wechat", GONE),)),
                                          Person(accounts=(("wechat", KEPT),))], NOW)
        async with db.uow() as uow:
            for openid, member_id, code in ((GONE, gone, GONE_CODE), (KEPT, kept, KEPT_CODE)):
                await service_window.opened(uow, "wechat", openid, NOW, 48, 20)
                await member_cards.activate(uow, CARD, code, member_id, NOW)
            await erasure.ask(uow, app.programme, gone, "wechat", NOW)
            await uow.commit()
        done = await erasure.run(db, app.programme, NOW + timedelta(days=8))
        assert done["erased"] == 1
        async with db.uow() as uow:
            windows = list(await uow.session.scalars(select(ServiceWindow.user_id)))
            cards = list(await uow.session.scalars(select(MemberCard.member_id)))
            assert (windows, cards) == ([KEPT], [kept])  # the other member's stay
            assert await uow.session.scalar(select(func.count()).select_from(
                ServiceWindow)) == 1
        path = Path(db.checkpoints.path)
        content = b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())
        assert KEPT.encode() in content and KEPT_CODE.encode() in content  # the search works
        assert GONE.encode() not in content
        assert GONE_CODE.encode() not in content
        assert {"service_windows", "member_cards"} <= set(erasure.touched())
