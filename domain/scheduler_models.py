"""Tables of the scheduler and its lifecycle jobs (birthdays, win-back, reminders)."""

from __future__ import annotations

from domain.models import Base  # noqa: F401
