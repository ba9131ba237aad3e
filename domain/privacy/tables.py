"""Tables of members' data rights: the record of every consent given and withdrawn, and
of every export of a member's data, and the warnings before a retention erasure."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from domain.members import tables as _members  # noqa: F401 - the foreign key's table
from domain.storage.tables import Base, Id


class ConsentRecord(Base):
    """One grant or withdrawal of a purpose: appended, never changed, so it proves what
    the member agreed to, under which wording of the notice, when and where."""

    __tablename__ = "consent_records"
    __table_args__ = (Index("ix_consent_records_member", "member_id", "purpose", "id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    member_id: Mapped[int] = mapped_column(Id, ForeignKey("members.id"))
    purpose: Mapped[str] = mapped_column(String(16))  # consents.PURPOSES
    granted: Mapped[bool] = mapped_column(Boolean)
    version: Mapped[str] = mapped_column(String(32))  # the notice's ([privacy] version)
    channel: Mapped[str] = mapped_column(String(16))  # a platform, or "staff"
    at: Mapped[datetime]


class DataExport(Base):
    """A member's data sent to them (/mydata), or to staff on their request: a member
    may ask once a day, and staff's are audited besides."""

    __tablename__ = "data_exports"
    __table_args__ = (Index("ix_data_exports_member", "member_id", "at"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    member_id: Mapped[int] = mapped_column(Id, ForeignKey("members.id"))
    at: Mapped[datetime]
    channel: Mapped[str] = mapped_column(String(16))
    staff_id: Mapped[int | None] = mapped_column(Id, ForeignKey("members.id"))


class DataDownload(Base):
    """A member's data waiting to be downloaded once through a link (domain/privacy/
    downloads.py): only the secret's hash is kept, and the content is wiped once taken."""

    __tablename__ = "data_downloads"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    member_id: Mapped[int] = mapped_column(Id, ForeignKey("members.id"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)
    taken_at: Mapped[datetime | None]


class ErasureRequest(Base):
    """A member's request to be erased (/deleteme), carried out once its cooling-off
    ends unless cancelled first; an owner's on a member's behalf is due at once. One
    per member: asking again after a cancel starts a new cooling-off."""

    __tablename__ = "erasure_requests"
    __table_args__ = (Index("ix_erasure_requests_due", "state", "due_at"),)

    member_id: Mapped[int] = mapped_column(Id, ForeignKey("members.id"), primary_key=True)
    state: Mapped[str] = mapped_column(String(12))  # waiting, cancelled, done
    asked_at: Mapped[datetime]
    due_at: Mapped[datetime]
    channel: Mapped[str] = mapped_column(String(16))
    staff_id: Mapped[int | None] = mapped_column(Id, ForeignKey("members.id"))
    done_at: Mapped[datetime | None]


class ErasedAccount(Base):
    """A platform account whose member was erased, kept only as a keyed hash
    (domain/privacy/returning.py): the same person back is a new member, but earns no
    first-purchase or referral bonus a second time."""

    __tablename__ = "erased_accounts"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    erased_at: Mapped[datetime]


class PrivacyKey(Base):
    """The secret the erased accounts' hashes are keyed with, made on first use."""

    __tablename__ = "privacy_keys"

    name: Mapped[str] = mapped_column(String(16), primary_key=True)
    secret: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]


class RetentionWarning(Base):
    """A member told they will be erased for inactivity (domain/privacy/retention.py)
    on `erase_at` unless they come back: the warning holds while their last activity
    is still `idle_since`; any activity of theirs moves it, and the warning is over."""

    __tablename__ = "retention_warnings"
    __table_args__ = (Index("ix_retention_warnings_erase_at", "erase_at"),)

    member_id: Mapped[int] = mapped_column(Id, ForeignKey("members.id"), primary_key=True)
    idle_since: Mapped[datetime]  # the member's last activity when warned
    warned_at: Mapped[datetime]
    erase_at: Mapped[datetime]
