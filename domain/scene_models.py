"""What a chat platform issued for us and lets us reuse: QR scene codes and uploaded
images (WeChat's temporary media). Kept in the database rather than in a worker's
memory so every worker reuses the same code or upload instead of asking again."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from domain.models import Base


class SceneCode(Base):
    """A QR code that brings a newcomer in with `scene` (e.g. `ref_CODE`): the ticket
    and the content the QR encodes (`url`), valid until `expires_at`."""

    __tablename__ = "scene_codes"

    app: Mapped[str] = mapped_column(String(64), primary_key=True)  # "wechat:<app id>"
    scene: Mapped[str] = mapped_column(String(64), primary_key=True)
    ticket: Mapped[str] = mapped_column(String(512))
    url: Mapped[str] = mapped_column(String(512))
    expires_at: Mapped[datetime]
    created_at: Mapped[datetime]


class UploadedMedia(Base):
    """An image uploaded once, by the SHA-256 of its bytes, usable until `expires_at`."""

    __tablename__ = "uploaded_media"
    __table_args__ = (Index("ix_uploaded_media_expires_at", "expires_at"),)

    app: Mapped[str] = mapped_column(String(64), primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    media_id: Mapped[str] = mapped_column(String(256))
    expires_at: Mapped[datetime]
