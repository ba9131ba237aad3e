"""The console at a real terminal (a pseudo-terminal): Ctrl-C ends the chat at once."""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.adapters.cli.live import LOCALE_VARIABLES, ROOT

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX terminal")


class Screen:
    """What the terminal showed, all of it, read without ever blocking for long."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.shown = b""

    def wait_for(self, wanted: bytes, after: int = 0, within: float = 30) -> int:
        """Where `wanted` shows after position `after`; -1 if it has not by `within` s
        or the terminal closed first."""
        deadline = time.monotonic() + within
        while (found := self.shown.find(wanted, after)) < 0:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.fd], [], [], left)[0]:
                return -1
            try:
                chunk = os.read(self.fd, 4096)
            except OSError:  # the process is gone and the terminal with it
                return -1
            if not chunk:
                return -1
            self.shown += chunk
        return found


def _as_a_shell_starts_it() -> None:
    """Ctrl-C as a shell leaves it to a program it starts: delivered and not ignored.
    A test runner's process may block or ignore SIGINT, and a child inherits both."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_at_the_prompt_ends_the_chat_without_waiting_for_enter(tmp_path: Path):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("MEMBERBOT_") and k not in LOCALE_VARIABLES}
    env.update({"PYTHONPATH": str(ROOT), "LANG": "en_US.UTF-8",
                "MEMBERBOT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'm.db'}"})
    leader, follower = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "chat", "--user", "ann"],
                            stdin=follower, stdout=follower, stderr=follower, cwd=tmp_path,
                            env=env, start_new_session=True,
                            preexec_fn=_as_a_shell_starts_it)
    os.close(follower)
    try:
        screen = Screen(leader)
        assert screen.wait_for(b"> ", within=60) >= 0, screen.shown
        os.write(leader, b"/points\r")
        points = screen.wait_for(b"Points", within=30)
        assert points >= 0, screen.shown
        assert screen.wait_for(b"> ", after=points) >= 0, screen.shown  # waiting for a line
        proc.send_signal(signal.SIGINT)  # as Ctrl-C does, with no Enter after it
        screen.wait_for(b"never said", within=40)  # drained until the terminal closes
        assert proc.wait(timeout=10) == 130, screen.shown
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(leader)
