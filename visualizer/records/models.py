"""Tables of the record (SQLAlchemy 2 declarative models).

A ``Visit`` is the stable thing a clinician refers to by id; its content lives in
``VisitVersion`` rows. A signed version never changes: an amendment adds a new version (who,
when, why) and moves ``Visit.current_version``. ``Visit.lock_version`` is SQLAlchemy's version
counter: an UPDATE of a visit whose counter moved since it was read is refused (optimistic
locking). ``plan_json`` is the full plan as computed at the time (positions in the plan's mesh
frame, mm) and ``protocol_json`` the protocol as used: records are never recomputed.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> dt.datetime:
    """Now, UTC, timezone-aware."""
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Patient(Base):
    """A patient under a pseudonym ``code``; ``usual_pain`` is ``{"regions": [...], "point": [x, y, z] | None}``
    (point in the default head's mesh frame, mm)."""

    __tablename__ = "patients"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True, nullable=False)
    display_name: Mapped[str | None] = mapped_column(String(200))
    birth_year: Mapped[int | None] = mapped_column(Integer)
    usual_pain: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)
    preferred_protocol: Mapped[str | None] = mapped_column(String(200))
    notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False, default=utcnow)
    lock_version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)

    visits: Mapped[list[Visit]] = relationship(back_populates="patient", order_by="Visit.visit_date, Visit.id")
    diary: Mapped[list[DiaryMonth]] = relationship(back_populates="patient", order_by="DiaryMonth.month")

    __mapper_args__ = {"version_id_col": lock_version}  # noqa: RUF012 (SQLAlchemy's declared form)


class Visit(Base):
    """A treatment visit; what was done is in its versions (``current`` is the one in force)."""

    __tablename__ = "visits"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="RESTRICT"), nullable=False, index=True)
    visit_date: Mapped[dt.date] = mapped_column(Date, nullable=False)
    status: Mapped[str] = mapped_column(String(10), nullable=False)
    current_version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False, default=utcnow)
    lock_version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)

    patient: Mapped[Patient] = relationship(back_populates="visits")
    versions: Mapped[list[VisitVersion]] = relationship(
        back_populates="visit", order_by="VisitVersion.number", cascade="save-update, merge"
    )

    __table_args__ = (
        CheckConstraint("status IN ('draft', 'signed')", name="status"),
        Index("ix_visits_patient_date", "patient_id", "visit_date"),
    )
    __mapper_args__ = {"version_id_col": lock_version}  # noqa: RUF012

    @property
    def current(self) -> VisitVersion:
        """The version in force."""
        return next(v for v in self.versions if v.number == self.current_version)


class VisitVersion(Base):
    """One version of a visit: what was planned, given, with which product and lot, by whom."""

    __tablename__ = "visit_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("visits.id", ondelete="RESTRICT"), nullable=False, index=True)
    number: Mapped[int] = mapped_column(Integer, nullable=False)
    status: Mapped[str] = mapped_column(String(10), nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False, default=utcnow)
    author: Mapped[str] = mapped_column(String(200), nullable=False)
    amend_reason: Mapped[str | None] = mapped_column(Text)
    signed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    protocol_id: Mapped[str] = mapped_column(String(200), nullable=False)
    protocol_name: Mapped[str] = mapped_column(String(400), nullable=False)
    protocol_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    protocol_indication: Mapped[str] = mapped_column(String(400), nullable=False, default="")
    protocol_cap_units: Mapped[float] = mapped_column(Float, nullable=False)
    protocol_json: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    plan_json: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    product: Mapped[str] = mapped_column(String(200), nullable=False)
    lot: Mapped[str | None] = mapped_column(String(100))
    expiry: Mapped[dt.date | None] = mapped_column(Date)
    dilution: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    injector: Mapped[str] = mapped_column(String(200), nullable=False)
    deviation_reason: Mapped[str | None] = mapped_column(Text)
    override_reason: Mapped[str | None] = mapped_column(Text)
    findings: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    warnings: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    total_planned_units: Mapped[float] = mapped_column(Float, nullable=False)
    total_given_units: Mapped[float] = mapped_column(Float, nullable=False)

    visit: Mapped[Visit] = relationship(back_populates="versions")
    sites: Mapped[list[VisitSite]] = relationship(
        back_populates="version", order_by="VisitSite.position_in_list", cascade="save-update, merge"
    )

    __table_args__ = (
        UniqueConstraint("visit_id", "number", name="uq_visit_versions_visit_number"),
        CheckConstraint("status IN ('draft', 'signed')", name="status"),
    )


class VisitSite(Base):
    """One site of a version: planned units and what was given (or skipped, or added)."""

    __tablename__ = "visit_sites"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[int] = mapped_column(
        ForeignKey("visit_versions.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    position_in_list: Mapped[int] = mapped_column(Integer, nullable=False)
    site_id: Mapped[str] = mapped_column(String(200), nullable=False)
    label: Mapped[str] = mapped_column(String(400), nullable=False, default="")
    muscle: Mapped[str] = mapped_column(String(100), nullable=False, default="")
    side: Mapped[str] = mapped_column(String(20), nullable=False, default="")
    description: Mapped[str] = mapped_column(String(400), nullable=False, default="")
    order: Mapped[int | None] = mapped_column("site_order", Integer)
    planned_units: Mapped[float | None] = mapped_column(Float)
    given_units: Mapped[float] = mapped_column(Float, nullable=False)
    skipped: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    skip_reason: Mapped[str | None] = mapped_column(Text)
    extra: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    extra_reason: Mapped[str | None] = mapped_column(Text)

    version: Mapped[VisitVersion] = relationship(back_populates="sites")

    __table_args__ = (
        UniqueConstraint("version_id", "site_id", name="uq_visit_sites_version_site"),
        CheckConstraint("given_units >= 0 AND given_units <= 50", name="given_range"),
    )


class DiaryMonth(Base):
    """The outcome diary: headache days (and optionally migraine and acute-medication days) in one month."""

    __tablename__ = "diary_months"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="RESTRICT"), nullable=False)
    month: Mapped[str] = mapped_column(String(7), nullable=False)  # YYYY-MM
    headache_days: Mapped[int] = mapped_column(Integer, nullable=False)
    migraine_days: Mapped[int | None] = mapped_column(Integer)
    acute_days: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False, default=utcnow)

    patient: Mapped[Patient] = relationship(back_populates="diary")

    __table_args__ = (
        UniqueConstraint("patient_id", "month", name="uq_diary_months_patient_month"),
        CheckConstraint("headache_days >= 0 AND headache_days <= 31", name="headache_range"),
    )
