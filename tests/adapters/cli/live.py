"""A long-running `memberbot` process for tests that watch what it says while it runs
(the start-up banner, Telegram retries) and then stop it as an operator would."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
LOCALE_VARIABLES = ("LC_ALL", "LC_MESSAGES", "LANG", "LANGUAGE")


class Memberbot:
    """`memberbot ARGS` with stdin at /dev/null (not a terminal), no MEMBERBOT_* settings
    but `env`'s, and every line of stdout and stderr kept as it arrives."""

    def __init__(self, *args: str, cwd: Path, env: dict[str, str] | None = None) -> None:
        self.args = [sys.executable, "-m", "bot.cli", *args]
        self.cwd = cwd
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith("MEMBERBOT_") and k not in LOCALE_VARIABLES}
        self.env.update({"PYTHONPATH": str(ROOT), "LANG": "C.UTF-8", **(env or {})})
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self.proc: asyncio.subprocess.Process | None = None
        self._readers: list[asyncio.Task] = []
        self._news = asyncio.Event()

    async def __aenter__(self) -> Memberbot:
        self.proc = await asyncio.create_subprocess_exec(
            *self.args, cwd=self.cwd, env=self.env, stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        assert self.proc.stdout and self.proc.stderr
        self._readers = [asyncio.create_task(self._read(self.proc.stdout, self.stdout)),
                         asyncio.create_task(self._read(self.proc.stderr, self.stderr))]
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()
        await asyncio.gather(*self._readers, return_exceptions=True)

    async def _read(self, stream: asyncio.StreamReader, into: list[str]) -> None:
        async for raw in stream:
            into.append(raw.decode().rstrip("\n"))
            self._news.set()
        self._news.set()

    async def line(self, pattern: str, *, stream: str = "stdout", within: float = 90) -> str:
        """The first line matching `pattern` (a regex), waiting for it if need be."""
        lines = self.stdout if stream == "stdout" else self.stderr
        regex = re.compile(pattern)

        async def found() -> str:
            while True:
                for line in lines:
                    if regex.search(line):
                        return line
                if self.proc is not None and self.proc.returncode is not None \
                        and all(r.done() for r in self._readers):
                    raise AssertionError(f"memberbot ended ({self.proc.returncode}) without "
                                         f"{pattern!r}:\n{self.output()}")
                self._news.clear()
                waiter = asyncio.create_task(self._news.wait())
                ended = asyncio.create_task(self.proc.wait()) if self.proc else waiter
                await asyncio.wait([waiter, ended], timeout=1,
                                   return_when=asyncio.FIRST_COMPLETED)
                waiter.cancel()
                ended.cancel()

        try:
            return await asyncio.wait_for(found(), within)
        except TimeoutError:
            raise AssertionError(f"no {pattern!r} within {within} s:\n{self.output()}") from None

    async def ended(self, within: float = 60) -> int:
        assert self.proc is not None
        code = await asyncio.wait_for(self.proc.wait(), within)
        await asyncio.gather(*self._readers)
        return code

    async def stop(self, within: float = 30) -> int:
        """SIGTERM, as a service manager stops it; its exit status."""
        assert self.proc is not None
        self.proc.terminate()
        return await self.ended(within)

    def output(self) -> str:
        return "\n".join(["stdout:", *self.stdout, "stderr:", *self.stderr])
