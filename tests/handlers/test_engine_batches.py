"""The engine's batches: one transaction for many inbounds, and a failed batch's inbounds
answered one by one (GroupCommit runs them again alone), the bad one with an apology."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from handlers.engine.engine import Answer, Engine
from handlers.engine.types import Inbound, reply

HANG_GUARD = 10  # seconds: only so that a regression fails instead of hanging the run


class _Engine(Engine):
    """The engine with its transaction replaced: a batch holding "bad" fails."""

    def __init__(self) -> None:
        super().__init__(SimpleNamespace(dialect="sqlite"),  # type: ignore[arg-type]
                         SimpleNamespace(default_locale="en"), router=None)  # type: ignore[arg-type]
        self.tried: list[list[str]] = []

    async def _together(self, jobs: list[Any]) -> list[Any]:
        texts = [job.inbound.text for job in jobs]
        self.tried.append(texts)
        if "bad" in texts:
            raise RuntimeError("a bad message")
        return [Answer("en", [reply("echo", said=text)]) for text in texts]


async def test_the_engine_handles_a_failed_batchs_inbounds_again_one_by_one():
    """Only the bad message fails, and it is answered with an apology rather than left
    unanswered."""
    engine = _Engine()
    said = ["one", "bad", "two"]
    answers = await asyncio.wait_for(asyncio.gather(*(
        engine.handle(Inbound("console", f"user{n}", f"user{n}", text=text))
        for n, text in enumerate(said))), HANG_GUARD)
    assert engine.tried == [said, ["one"], ["bad"], ["two"]]
    assert [a.replies for a in answers] == [
        [reply("echo", said="one")], [reply("error.internal")], [reply("echo", said="two")]]
