"""/jobs: operator commands (filled in by the scheduler and campaigns work)."""

from __future__ import annotations

from handlers.routing import Router

router = Router()
