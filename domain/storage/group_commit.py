"""Group commit: concurrent callers share one transaction.

On SQLite every transaction queues for the one write lock, and on any backend a
commit costs more than the few statements of a typical message. So calls that
arrive while a batch is running wait for the next batch, and each batch is one
`run(items)`: one transaction for all of them. Every caller still returns only
after its own item is committed, with its own result.

`run` returns one result per item, or `LATER` for an item that must wait for the
next batch (two messages of one member in one batch would read each other's
state from before either ran). The first item of a batch must never be LATER, so
every batch makes progress.

A batch that fails rolled back whole, so each of its items is run again on its own:
one bad item fails only its own caller, whoever the user of the batch is.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")
LATER = object()
log = logging.getLogger(__name__)


class GroupCommit(Generic[T, R]):
    def __init__(self, run: Callable[[list[T]], Awaitable[list[R | object]]],
                 limit: int = 128, parallel: int = 1, linger: float = 0.0) -> None:
        self._run = run
        self._limit = limit
        self._parallel = parallel
        # How long a batch waits for company. Zero still lets every task that is ready
        # now join: most arrive together (one getUpdates answer, one burst of requests).
        self._linger = linger
        self._waiting: list[tuple[T, asyncio.Future[R]]] = []
        self._runners: set[asyncio.Task[None]] = set()

    async def submit(self, item: T) -> R:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, future))
        if len(self._runners) < self._parallel:
            # A context of its own: the first caller's (a unit of work it had open, its
            # locale) is not every batch's.
            runner = asyncio.create_task(self._drain(), context=contextvars.Context())
            self._runners.add(runner)
        # A caller that gives up cancels only its future: its item stays in its batch
        # and is committed, or fails, with the others.
        return await future

    async def _drain(self) -> None:
        try:
            await self._drain_waiting()
        finally:
            # Leaves the set in the same step as it finds nothing waiting, so a caller
            # that comes after either finds this runner gone or its item taken.
            task = asyncio.current_task()
            if task is not None:
                self._runners.discard(task)

    async def _drain_waiting(self) -> None:
        while self._waiting:
            if len(self._waiting) < self._limit:
                await asyncio.sleep(self._linger)
            batch, self._waiting = self._waiting[:self._limit], self._waiting[self._limit:]
            try:
                results = _checked(await self._run([item for item, _ in batch]), len(batch))
            except Exception as exc:
                if len(batch) == 1:
                    _fail(batch, exc)
                    continue
                log.info("a batch failed; running its items one by one",
                         extra={"size": len(batch)}, exc_info=True)
                try:
                    for one in batch:
                        await self._alone(one)
                except BaseException as exc:  # cancelled mid-way: the rest learn it
                    _fail(batch, exc)
                    raise
                continue
            except BaseException as exc:  # cancelled: every waiter of this batch learns
                _fail(batch, exc)
                raise
            later = []
            for (item, future), result in zip(batch, results, strict=True):
                if result is LATER:
                    later.append((item, future))
                elif not future.done():
                    future.set_result(result)  # type: ignore[arg-type]
            self._waiting[:0] = later

    async def _alone(self, entry: tuple[T, asyncio.Future[R]]) -> None:
        item, future = entry
        try:
            (result,) = _checked(await self._run([item]), 1)
        except Exception as exc:
            _fail([entry], exc)
        else:
            if not future.done():
                future.set_result(result)  # type: ignore[arg-type]


def _checked(results: list[R | object], size: int) -> list[R | object]:
    """A run that breaks its contract fails its callers instead of stranding them."""
    if len(results) != size:
        raise AssertionError(f"{len(results)} results for a batch of {size}")
    if results and results[0] is LATER:
        raise AssertionError("the first item of a batch was put off")
    return results


def _fail(batch: list[tuple[T, asyncio.Future[R]]], exc: BaseException) -> None:
    for _, future in batch:
        if not future.done():
            future.set_exception(exc)
