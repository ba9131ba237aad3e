"""WeChat member groups: the programme's `[[wechat.groups]]`, kept by staff by hand.

An Official Account cannot manage groups, so each group is a gate of the kind staff
keep by hand (domain/community/gates.py): its join QR picture goes to members who
qualify (/groups), and /gates lists those who no longer do. The pictures are read from
files beside the programme file and stored with their gates, so every worker shows the
same one; each start brings the gates in line with the file.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from bot.wechat.picture_kinds import MAX_BYTES, TYPES
from bot.wechat.programme import WeChatGroup
from domain.community import durations
from domain.config import ConfigError

if TYPE_CHECKING:
    from bot.programme import Programme
    from domain.storage.database import Database

log = logging.getLogger(__name__)


def read(programme: Programme, folder: Path) -> list[tuple[WeChatGroup, bytes]]:
    """The groups with their pictures; ConfigError names one that cannot be used."""
    out = []
    for n, group in enumerate(programme.wechat.groups):
        where = f"wechat.groups.{n}.image"
        file = Path(group.image)
        file = file if file.is_absolute() else folder / file
        try:
            image = file.read_bytes()
        except OSError as exc:
            raise ConfigError(f"{where}: cannot read {file}: {exc.strerror}") from exc
        if not any(image.startswith(magic) for magic, _, _ in TYPES):
            raise ConfigError(f"{where}: {file} is not a PNG, JPEG or GIF picture")
        if len(image) > MAX_BYTES:
            raise ConfigError(f"{where}: {file} is {len(image):,} bytes; WeChat takes "
                              f"pictures of at most {MAX_BYTES:,}")
        out.append((group, image))
    return out


async def keep(db: Database, programme: Programme, folder: Path, platform: str) -> None:
    """Bring the WeChat groups' gates in line with the programme file."""
    # Here, not at the top: reading the programme file needs no database code.
    from domain.community import gates

    chats = [gates.HandKept(group.code, group.title, group.tier,
                            durations.parse(group.grace) if group.grace else None, image)
             for group, image in read(programme, folder)]
    async with db.uow() as uow:
        await gates.keep_by_hand(uow, programme, platform, chats, datetime.now(UTC))
        await uow.commit()
    if chats:
        log.info("wechat groups", extra={"groups": [chat.code for chat in chats]})
