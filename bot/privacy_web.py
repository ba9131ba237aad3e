"""The web app's one-time download of a member's data: /mydata on a platform that
cannot send documents (WeChat) answers with a link here (handlers/privacy/mydata.py).
The secret in the path is all it asks for; it works once, within a day."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from aiohttp import web

from domain.privacy import downloads
from domain.storage.database import Database
from handlers.engine import i18n
from handlers.engine.types import Text
from handlers.privacy.mydata import DOWNLOAD_PATH

ROUTE = DOWNLOAD_PATH + "{token}"


def download(db: Database, clock: Callable[[], datetime] = lambda: datetime.now(UTC),
             ) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def answer(request: web.Request) -> web.Response:
        async with db.uow() as uow:
            found = await downloads.take(uow, request.match_info["token"], clock())
            await uow.commit()
        if found is None:  # unknown, used and expired alike: nothing to tell them apart
            gone = "\n".join(i18n.translate(Text("mydata.link_gone"), locale)
                             for locale in ("zh_Hans", "en"))
            return web.Response(status=404, text=gone, charset="utf-8",
                                headers=_PRIVATE)
        name, content = found
        return web.Response(body=content, content_type="application/zip", headers={
            **_PRIVATE, "Content-Disposition": f'attachment; filename="{name}"'})
    return answer


# Kept by no cache, and the secret not passed on to any page linked from here.
_PRIVATE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
