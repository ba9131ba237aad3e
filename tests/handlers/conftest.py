"""Shared by the conversation tests: the programme file's surveys kept in the database."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from domain.feedback import surveys

SURVEYS_AT = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)


@pytest.fixture
async def kept(db, programme) -> None:
    """The example programme's surveys, as `memberbot run` keeps them at start."""
    async with db.uow() as uow:
        await surveys.keep_from_file(uow, programme, SURVEYS_AT)
        await uow.commit()
