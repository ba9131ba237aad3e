"""/metrics scraped over real HTTP from the web app as `memberbot run` builds it (with
the purchases API beside it), and the Prometheus text read back with
prometheus-client's own parser."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from bot import metrics, web
from bot.api import service as api_service
from bot.app import App
from bot.settings import Settings
from handlers.routers import build_engine
from tests.support.api_client import KEY, Api, without_promotions


@dataclass
class Served:
    app: App
    api: Api
    base: str

    async def scrape(self, token: str | None = None) -> Figures:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with self.api.session.get(self.base + "/metrics", headers=headers) as resp:
            assert resp.status == 200, await resp.text()
            assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
            return Figures(await resp.text())


class Figures:
    """One scrape's samples. `get` sums those matching the labels given (a histogram's
    buckets are told apart by `le`), or is None when none is there."""

    def __init__(self, text: str) -> None:
        self.samples = [s for family in text_string_to_metric_families(text)
                        for s in family.samples]

    def get(self, name: str, **labels: str) -> float | None:
        found = [s.value for s in self.samples
                 if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())]
        return sum(found) if found else None


@asynccontextmanager
async def serving(db, programme, token: str | None = None,
                  **settings: Any) -> AsyncIterator[Served]:
    """The web app as `memberbot run` builds it, with the purchases API and /metrics."""
    plain = without_promotions(programme)
    app = App(Settings(api_key=KEY, metrics_token=token, **settings), plain, db,
              build_engine(db, plain))
    web_app = web.build(db)
    async with metrics.running(app, web_app), api_service.running(app, web_app), \
            web.serving(web_app, "127.0.0.1", 0) as port, aiohttp.ClientSession() as session:
        base = f"http://127.0.0.1:{port}"
        yield Served(app, Api(session, base, app), base)
