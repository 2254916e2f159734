"""initial schema: patients, visits with versions and sites, outcome diary

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-30 05:25:50.721666
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "patients",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=True),
        sa.Column("birth_year", sa.Integer(), nullable=True),
        sa.Column("usual_pain", sa.JSON(), nullable=False),
        sa.Column("preferred_protocol", sa.String(length=200), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lock_version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patients")),
        sa.UniqueConstraint("code", name=op.f("uq_patients_code")),
    )
    op.create_table(
        "diary_months",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("headache_days", sa.Integer(), nullable=False),
        sa.Column("migraine_days", sa.Integer(), nullable=True),
        sa.Column("acute_days", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("headache_days >= 0 AND headache_days <= 31", name=op.f("ck_diary_months_headache_range")),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_diary_months_patient_id_patients"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_diary_months")),
        sa.UniqueConstraint("patient_id", "month", name="uq_diary_months_patient_month"),
    )
    op.create_table(
        "visits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("visit_date", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("current_version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lock_version", sa.Integer(), nullable=False),
        sa.CheckConstraint("status IN ('draft', 'signed')", name=op.f("ck_visits_status")),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_visits_patient_id_patients"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_visits")),
    )
    with op.batch_alter_table("visits", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_visits_patient_id"), ["patient_id"], unique=False)

    op.create_table(
        "visit_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("visit_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("author", sa.String(length=200), nullable=False),
        sa.Column("amend_reason", sa.Text(), nullable=True),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("protocol_id", sa.String(length=200), nullable=False),
        sa.Column("protocol_name", sa.String(length=400), nullable=False),
        sa.Column("protocol_hash", sa.String(length=64), nullable=False),
        sa.Column("protocol_indication", sa.String(length=400), nullable=False),
        sa.Column("protocol_cap_units", sa.Float(), nullable=False),
        sa.Column("protocol_json", sa.JSON(), nullable=False),
        sa.Column("plan_json", sa.JSON(), nullable=False),
        sa.Column("product", sa.String(length=200), nullable=False),
        sa.Column("lot", sa.String(length=100), nullable=True),
        sa.Column("expiry", sa.Date(), nullable=True),
        sa.Column("dilution", sa.String(length=200), nullable=False),
        sa.Column("injector", sa.String(length=200), nullable=False),
        sa.Column("deviation_reason", sa.Text(), nullable=True),
        sa.Column("override_reason", sa.Text(), nullable=True),
        sa.Column("findings", sa.JSON(), nullable=False),
        sa.Column("warnings", sa.JSON(), nullable=False),
        sa.Column("total_planned_units", sa.Float(), nullable=False),
        sa.Column("total_given_units", sa.Float(), nullable=False),
        sa.CheckConstraint("status IN ('draft', 'signed')", name=op.f("ck_visit_versions_status")),
        sa.ForeignKeyConstraint(
            ["visit_id"], ["visits.id"], name=op.f("fk_visit_versions_visit_id_visits"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_visit_versions")),
        sa.UniqueConstraint("visit_id", "number", name="uq_visit_versions_visit_number"),
    )
    with op.batch_alter_table("visit_versions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_visit_versions_visit_id"), ["visit_id"], unique=False)

    op.create_table(
        "visit_sites",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("position_in_list", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.String(length=200), nullable=False),
        sa.Column("label", sa.String(length=400), nullable=False),
        sa.Column("muscle", sa.String(length=100), nullable=False),
        sa.Column("side", sa.String(length=20), nullable=False),
        sa.Column("description", sa.String(length=400), nullable=False),
        sa.Column("site_order", sa.Integer(), nullable=True),
        sa.Column("planned_units", sa.Float(), nullable=True),
        sa.Column("given_units", sa.Float(), nullable=False),
        sa.Column("skipped", sa.Boolean(), nullable=False),
        sa.Column("skip_reason", sa.Text(), nullable=True),
        sa.Column("extra", sa.Boolean(), nullable=False),
        sa.Column("extra_reason", sa.Text(), nullable=True),
        sa.CheckConstraint("given_units >= 0 AND given_units <= 50", name=op.f("ck_visit_sites_given_range")),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["visit_versions.id"],
            name=op.f("fk_visit_sites_version_id_visit_versions"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_visit_sites")),
        sa.UniqueConstraint("version_id", "site_id", name="uq_visit_sites_version_site"),
    )
    with op.batch_alter_table("visit_sites", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_visit_sites_version_id"), ["version_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("visit_sites", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_visit_sites_version_id"))

    op.drop_table("visit_sites")
    with op.batch_alter_table("visit_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_visit_versions_visit_id"))

    op.drop_table("visit_versions")
    with op.batch_alter_table("visits", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_visits_patient_id"))

    op.drop_table("visits")
    op.drop_table("diary_months")
    op.drop_table("patients")
