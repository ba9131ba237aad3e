"""Updates of different chats run concurrently; updates of one chat run in the order
they arrived, because a conversation's next step depends on the one before. Also how
background tasks are stopped."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Coroutine, Iterable
from contextlib import suppress
from typing import Any

log = logging.getLogger(__name__)


class ChatQueue:
    def __init__(self, limit: int = 64) -> None:
        self._room = asyncio.Semaphore(limit)  # back-pressure on the poller
        self._tails: dict[str, asyncio.Task[None]] = {}
        self._running: set[asyncio.Task[None]] = set()

    async def put(self, chat: str, job: Coroutine[Any, Any, None]) -> None:
        await self._room.acquire()
        task = asyncio.create_task(self._run(chat, self._tails.get(chat), job))
        self._tails[chat] = task
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _run(self, chat: str, before: asyncio.Task[None] | None,
                   job: Coroutine[Any, Any, None]) -> None:
        try:
            if before is not None:
                await asyncio.wait([before])  # its failure is its own
            await job
        except Exception:
            log.exception("handling an update failed", extra={"chat": chat})
        finally:
            self._room.release()
            if self._tails.get(chat) is asyncio.current_task():
                del self._tails[chat]

    async def drain(self) -> None:
        while self._running:
            await asyncio.wait(set(self._running))


async def cancel(tasks: Iterable[asyncio.Task]) -> None:
    """Stop background tasks and wait until each has really ended."""
    tasks = list(tasks)
    for task in tasks:
        task.cancel()
    for task in tasks:
        with suppress(asyncio.CancelledError):
            await task


def stop_on_signals() -> asyncio.Event:
    """An event set by SIGINT or SIGTERM: how a long-running command is asked to stop."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop
