"""Tables of segments, campaigns and their deliveries."""

from __future__ import annotations

from domain.models import Base  # noqa: F401
