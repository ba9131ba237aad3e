"""The loop's longest await-free stretch while a step runs, and where its task stopped
next: what held the loop, where a ticker's lag only says for how long.

Each callback the loop runs is timed (Handle._run wrapped; a microsecond each) two ways.
By the loop thread's CPU time (thread_time), which leaves out the time other processes
took the core, so it is steady on a busy machine. And by the wall clock, which counts
waits on the disk too (a commit's fsync holds the loop without using the CPU), and on a
busy machine the time others took the core.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any


class Stretches:
    def __init__(self) -> None:
        self.longest = 0.0  # CPU seconds
        self.where = ""
        self.longest_wall = 0.0
        self.where_wall = ""
        self._run = asyncio.events.Handle._run

    def __enter__(self) -> Stretches:
        original = self._run

        def run(handle: Any) -> None:
            began, began_wall = time.thread_time(), time.perf_counter()
            original(handle)
            took, took_wall = time.thread_time() - began, time.perf_counter() - began_wall
            if took > self.longest:
                self.longest = took
                self.where = stopped_at(getattr(handle._callback, "__self__", None))
            if took_wall > self.longest_wall:
                self.longest_wall = took_wall
                self.where_wall = stopped_at(getattr(handle._callback, "__self__", None))

        asyncio.events.Handle._run = run  # type: ignore[method-assign,assignment]
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.events.Handle._run = self._run  # type: ignore[method-assign]


def stopped_at(task: Any) -> str:
    """Where a task is suspended: its innermost frame of a capability (domain or handlers,
    storage aside), with the innermost frame below it."""
    if not isinstance(task, asyncio.Task):
        return ""
    coro: Any = task.get_coro()
    ours, below = "", ""
    while coro is not None:
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "ag_frame", None)
        if frame is None:
            break
        path = Path(frame.f_code.co_filename)
        said = f"{path.parent.name}/{path.name}:{frame.f_lineno} {frame.f_code.co_name}"
        if ("/domain/" in str(path) or "/handlers/" in str(path)) \
                and "/domain/storage/" not in str(path):
            ours, below = said, ""
        elif not below:
            below = said
        coro = getattr(coro, "cr_await", None) or getattr(coro, "ag_await", None)
    return f"{ours} (in {below})" if ours and below else ours or below
