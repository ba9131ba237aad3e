"""An answer's pictures made into WeChat images: coupon QR codes and scene codes.

Handlers stay platform-neutral: a reply carries image bytes, or a `Scene` asking
for the member's own QR scene code. Here a scene becomes a code from WeChat
(bot/wechat/scenes.py) drawn as a PNG, and every picture an upload (bot/wechat/
media.py); the message is then its text followed by the image. A scene shown
replaces the reply's text with the scene's caption and says until when the code
works. Anything that fails (WeChat's daily quota, 45009; the API unreachable; a
database error) leaves the text as it is with a translated note, so an answer is
never lost for want of its picture. Pictures of one answer are resolved together.
"""

from __future__ import annotations

import asyncio
import logging
from zoneinfo import ZoneInfo

from bot.wechat import render
from bot.wechat.api import ApiError
from bot.wechat.media import Media
from bot.wechat.render import Image, Message
from bot.wechat.scenes import SceneCodes, qr_png
from handlers.engine.types import Rendered, Text

log = logging.getLogger(__name__)


class Pictures:
    def __init__(self, scenes: SceneCodes, media: Media, zone: ZoneInfo) -> None:
        self.scenes = scenes
        self.media = media
        self.zone = zone  # the day a scene code stops working is said in this zone

    async def compose(self, messages: list[Rendered], locale: str) -> list[Message]:
        """The WeChat messages that say all of `messages`, in order."""
        if not any(m.image is not None or m.scene is not None for m in messages):
            return render.join([render.as_text(m, locale) for m in messages])
        shown = await asyncio.gather(*(self._show(m, locale) for m in messages))
        return render.join([part for parts in shown for part in parts])

    async def _show(self, message: Rendered, locale: str) -> list[Message]:
        if message.scene is not None:
            return await self._scene(message, locale)
        if message.image is None:
            return [render.as_text(message, locale)]
        try:
            media_id = await self.media.image(message.image)
        except Exception as exc:  # noqa: BLE001 - the words still go out
            _failed("image", exc)
            return [render.as_text(message, locale, note=Text("wechat.image_unavailable"))]
        return [render.as_text(message, locale, image_shown=True), Image(media_id)]

    async def _scene(self, message: Rendered, locale: str) -> list[Message]:
        assert message.scene is not None
        payload, caption = message.scene
        try:
            code = await self.scenes.code(payload)
            media_id = await self.media.image(qr_png(code.url))
        except Exception as exc:  # noqa: BLE001 - the code still goes out as text
            _failed("scene code", exc)
            return [render.as_text(message, locale, note=Text("wechat.scene_unavailable"))]
        until = code.expires_at.astimezone(self.zone).date()
        return [render.as_text(message, locale, body=caption, image_shown=True,
                               note=Text("wechat.scene_until", {"until": until})),
                Image(media_id)]


def _failed(what: str, exc: Exception) -> None:
    if isinstance(exc, ApiError):
        log.warning("wechat %s not shown", what, extra={"errcode": exc.errcode,
                                                        "errmsg": exc.errmsg})
    else:
        log.exception("wechat %s not shown", what)
