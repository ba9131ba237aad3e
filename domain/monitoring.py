"""Hooks through which the domain and the scheduler report what operators watch: points
moved, jobs run, database failures and SQLite lock waits. They know nothing of who
listens: bot/metrics.py turns them into Prometheus figures. With nobody watching, a
report costs one truth test, so hot paths call them freely.

Figures that follow a transaction (points moved) are reported once it commits
(UnitOfWork.after_commit), so a rolled-back or retried transaction counts nothing."""

from __future__ import annotations

from typing import Literal

Movement = Literal["issued", "redeemed", "expired", "reversed"]
Lock = Literal["process", "file"]  # the in-process writer queue; another process's lock


class Watcher:
    """What a listener hears; each method does nothing unless overridden."""

    def points_moved(self, movement: Movement, points: int) -> None:
        """`points` (positive) left or entered balances, committed."""

    def job_ran(self, job: str, outcome: str, seconds: float) -> None:
        """A scheduler job ended: ok, failed, waiting (not built yet) or skipped (paused)."""

    def lock_waited(self, lock: Lock, seconds: float) -> None:
        """A transaction or statement waited `seconds` for SQLite's write lock."""

    def database_failed(self, kind: str) -> None:
        """A unit of work ended in a database error of this kind: "transient" (a deadlock
        or serialization failure, run again), else its class name (IntegrityError, ...)."""


_watchers: list[Watcher] = []


def watch(watcher: Watcher) -> None:
    _watchers.append(watcher)


def unwatch(watcher: Watcher) -> None:
    if watcher in _watchers:
        _watchers.remove(watcher)


def watched() -> bool:
    return bool(_watchers)


def points_moved(movement: Movement, points: int) -> None:
    for watcher in _watchers:
        watcher.points_moved(movement, points)


def job_ran(job: str, outcome: str, seconds: float) -> None:
    for watcher in _watchers:
        watcher.job_ran(job, outcome, seconds)


def lock_waited(lock: Lock, seconds: float) -> None:
    for watcher in _watchers:
        watcher.lock_waited(lock, seconds)


def database_failed(kind: str) -> None:
    for watcher in _watchers:
        watcher.database_failed(kind)
