"""Messages to members outside a passive reply, within what WeChat allows.

A customer-service message needs an open service window (48 h after the member last
wrote) with quota left; the window is reserved in the database before sending, so
quota WeChat would refuse is never spent. Outside it, a configured template or
subscribe message is used; with none, the outcome is "deferred" and the caller keeps
the notice until the member next writes. WeChat's refusals become outcomes. With
`pictures`, images go out as image messages (each one message of the quota).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from bot import metrics
from bot.wechat import render
from bot.wechat.api import Api, ApiError
from bot.wechat.messages import PLATFORM
from bot.wechat.pictures import Pictures
from bot.wechat.programme import WeChat
from bot.wechat.render import Image, Message
from bot.wechat.store import service_window
from domain.members import members
from domain.storage.database import Database
from handlers.engine import i18n
from handlers.engine.types import Rendered, Text

log = logging.getLogger(__name__)
Outcome = Literal["sent", "deferred", "unreachable", "failed"]
CUSTOM_SEND = "/cgi-bin/message/custom/send"
SENDERS = {"template": "/cgi-bin/message/template/send",
           "subscribe": "/cgi-bin/message/subscribe/bizsend"}
WINDOW_CLOSED = 45015  # "response out of time limit": past the 48 hours
QUOTA_SPENT = 45047  # "out of response count limit"
NOT_FOLLOWING = 43004  # "require subscribe": the member unfollowed
REFUSED_SUBSCRIBE = 43101  # the member declined this subscribe message
INVALID_MEDIA = 40007  # an upload WeChat no longer has: forgotten, so a retry uploads anew
RATE_LIMITED = {45009, 45011}  # the API's daily quota or its frequency limit
RETRYABLE = {-1, -2, -3, *RATE_LIMITED, INVALID_MEDIA}  # busy, unreachable, rate limits
# WeChat's refusals as bot.metrics counts them; any other is "failed".
COUNTED = {WINDOW_CLOSED: "window_closed", QUOTA_SPENT: "quota", NOT_FOLLOWING: "403",
           REFUSED_SUBSCRIBE: "403", **dict.fromkeys(RATE_LIMITED, "429")}


@dataclass(frozen=True)
class Template:
    """What to send when the window is closed: a name from [wechat.templates] and the
    values of its fields."""

    name: str
    data: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PushResult:
    outcome: Outcome
    via: str | None = None  # "custom", "template" or "subscribe"
    errcode: int | None = None

    @property
    def retryable(self) -> bool:
        return self.outcome == "failed" and self.errcode in RETRYABLE


class Pusher:
    def __init__(self, db: Database, api: Api, config: WeChat, locale: str = "zh_Hans",
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 pictures: Pictures | None = None) -> None:
        self.db = db
        self.api = api
        self.config = config
        self.locale = locale  # words the "reply with a number" line of pushed messages
        self.clock = clock
        self.pictures = pictures

    async def notify(self, openid: str, rendered: Rendered) -> str:
        """The notifier's pusher: a notice's translation key picks its template, if any."""
        result = await self.push(openid, rendered, template=Template(
            rendered.key, {self._field(rendered.key): self._words(rendered)}))
        if result.outcome == "failed":
            return "retry" if result.retryable else "rejected"
        return result.outcome

    async def push(self, openid: str, rendered: Rendered, *,
                   template: Template | None = None) -> PushResult:
        """One message to a member: in the window if it is open, else by template."""
        metrics.queue_in(PLATFORM, "sender")
        try:
            if self.pictures is not None:
                messages = await self.pictures.compose([rendered], self.locale)
            else:
                messages = list(render.split(render.as_text(rendered, self.locale)))
            result = await self.custom(openid, messages)
            if result.outcome == "deferred" and template is not None:
                return await self.template(openid, template)
            return result
        finally:
            metrics.queue_out(PLATFORM, "sender")

    async def custom(self, openid: str, messages: list[Message]) -> PushResult:
        """Customer-service messages (texts and uploaded images), if the window has
        room for all of them."""
        if not messages:
            return PushResult("sent", "custom")
        async with self.db.uow() as uow:
            room = await service_window.reserve(uow, PLATFORM, openid, self.clock(),
                                                len(messages))
            shut = not room and await service_window.closed(uow, PLATFORM, openid,
                                                            self.clock())
            await uow.commit()
        if not room:
            metrics.sent(PLATFORM, "window_closed" if shut else "quota")
            return PushResult("deferred")
        for message in messages:
            try:
                await self.api.call(CUSTOM_SEND, _custom(openid, message))
            except ApiError as exc:
                if exc.errcode == INVALID_MEDIA and isinstance(message, Image) \
                        and self.pictures is not None:
                    await self.pictures.media.forget(message.media_id)
                return await self._refused(openid, exc, "custom")
        metrics.sent(PLATFORM, "sent")
        return PushResult("sent", "custom")

    async def template(self, openid: str, template: Template) -> PushResult:
        chosen = self.config.templates.get(template.name)
        if chosen is None:
            return PushResult("deferred")
        payload: dict = {"touser": openid, "template_id": chosen.id,
                         "data": {k: {"value": v} for k, v in template.data.items()}}
        if chosen.url:
            payload["url" if chosen.kind == "template" else "page"] = chosen.url
        try:
            await self.api.call(SENDERS[chosen.kind], payload)
        except ApiError as exc:
            if exc.errcode == REFUSED_SUBSCRIBE:
                metrics.sent(PLATFORM, "403")
                return PushResult("deferred", chosen.kind, exc.errcode)
            return await self._refused(openid, exc, chosen.kind)
        metrics.sent(PLATFORM, "sent")
        return PushResult("sent", chosen.kind)

    def _words(self, rendered: Rendered) -> str:
        """A template's words: it carries no picture, so one left out is said to be."""
        if rendered.image is None:
            return rendered.text
        note = i18n.translate(Text("wechat.image_unavailable"), self.locale)
        return f"{rendered.text}\n{note}"

    def _field(self, name: str) -> str:
        chosen = self.config.templates.get(name)
        return chosen.field if chosen is not None else "content"

    async def _refused(self, openid: str, exc: ApiError, via: str) -> PushResult:
        code = exc.errcode
        metrics.sent(PLATFORM, COUNTED.get(code, "failed"))
        now = self.clock()
        async with self.db.uow() as uow:
            if code == WINDOW_CLOSED:
                await service_window.close(uow, PLATFORM, openid, now)
            elif code == QUOTA_SPENT:
                await service_window.exhaust(uow, PLATFORM, openid)
            elif code == NOT_FOLLOWING:
                await members.set_reachable(uow, PLATFORM, openid, False, now)
            await uow.commit()
        if code in (WINDOW_CLOSED, QUOTA_SPENT):
            return PushResult("deferred", via, code)
        if code == NOT_FOLLOWING:
            return PushResult("unreachable", via, code)
        log.warning("wechat refused a message", extra={"errcode": code, "via": via,
                                                        "errmsg": exc.errmsg})
        return PushResult("failed", via, code)


def _custom(openid: str, message: Message) -> dict:
    if isinstance(message, Image):
        return {"touser": openid, "msgtype": "image", "image": {"media_id": message.media_id}}
    return {"touser": openid, "msgtype": "text", "text": {"content": message}}
