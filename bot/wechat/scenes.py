"""Members' QR scene codes (带参数二维码): scanning one acts like `/start ref_CODE`.

Codes are temporary (QR_STR_SCENE) at WeChat's longest, 30 days, and renewed once
fewer than `renew_before` (7 days) are left, so a code handed out by /invite works
for at least a week. Permanent codes (QR_LIMIT_STR_SCENE) are not used for members:
an account gets 100,000 in all, ever, better kept for posters in the shop. The code
is kept in the database (bot/wechat/store/scenes.py) for every worker, so repeated /invite
asks WeChat nothing; if a renewal fails, the stored code serves while it lasts.

We draw the QR image ourselves from the code's `url` (what WeChat's own image
encodes) with segno, instead of downloading it from showqrcode.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import segno

from bot.wechat.api import Api, ApiError
from bot.wechat.store import scenes
from domain.storage.database import Database

CREATE = "/cgi-bin/qrcode/create"
LONGEST = 2_592_000  # seconds: WeChat's limit for a temporary code
RENEW_BEFORE = timedelta(days=7)


def qr_png(content: str) -> bytes:
    buffer = io.BytesIO()
    segno.make(content, error="m").save(buffer, kind="png", scale=8, border=4)
    return buffer.getvalue()


class SceneCodes:
    def __init__(self, db: Database, api: Api, app: str,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 seconds: int = LONGEST, renew_before: timedelta = RENEW_BEFORE) -> None:
        assert 60 <= seconds <= LONGEST and renew_before < timedelta(seconds=seconds)
        self.db = db
        self.api = api
        self.app = app
        self.clock = clock
        self.seconds = seconds
        self.renew_before = renew_before

    async def code(self, scene: str) -> scenes.Code:
        """The scene's current code, asking WeChat for one only when none is stored or
        the stored one is due; raises ApiError when there is none to give."""
        now = self.clock()
        async with self.db.uow() as uow:
            found = await scenes.stored(uow, self.app, scene)
        if found is not None and found.usable(now, self.renew_before):
            return found
        try:
            fresh = await self._create(scene, now)
        except ApiError:
            if found is not None and found.expires_at > now:
                return found  # due for renewal but still working
            raise
        async with self.db.uow() as uow:
            kept = await scenes.keep(uow, self.app, scene, fresh, now, self.renew_before)
            await uow.commit()
        return kept

    async def _create(self, scene: str, now: datetime) -> scenes.Code:
        data = await self.api.call(CREATE, {
            "expire_seconds": self.seconds, "action_name": "QR_STR_SCENE",
            "action_info": {"scene": {"scene_str": scene}}})
        ticket, url, seconds = data.get("ticket"), data.get("url"), data.get("expire_seconds")
        if not (isinstance(ticket, str) and ticket and isinstance(url, str) and url
                and isinstance(seconds, int) and seconds > 0):
            raise ApiError(-3, "qrcode/create answered without ticket, url or expiry")
        return scenes.Code(ticket, url, now + timedelta(seconds=min(seconds, self.seconds)))
