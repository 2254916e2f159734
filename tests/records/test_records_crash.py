"""``kill -9`` in the middle of a burst of visit writes: the database passes its integrity check and
holds every write that was acknowledged."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import func, select

from visualizer.records.db import open_database, sqlite_path
from visualizer.records.models import Visit, VisitSite, VisitVersion

WRITER = Path(__file__).with_name("burst_writer.py")


def test_kill_9_mid_burst_keeps_every_acknowledged_visit(db_url, plan_file):
    proc = subprocess.Popen(
        [sys.executable, str(WRITER), db_url, str(plan_file)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    acked: list[int] = []
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.strip() == "ready", proc.stderr.read() if proc.stderr else first
        deadline = time.monotonic() + 240
        while len(acked) < 25 and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            acked.append(int(line))
        assert len(acked) >= 25, f"the writer stopped early: {proc.stderr.read() if proc.stderr else ''}"
        os.kill(proc.pid, signal.SIGKILL)  # in the middle of the burst: it never stops writing on its own
        proc.wait(timeout=30)
        acked += [int(x) for x in proc.stdout.read().split()]  # acknowledged before the kill, still in the pipe
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL

    db = open_database(db_url)
    path = sqlite_path(db.url)
    with db.engine.connect() as c:
        if path is not None:
            assert c.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
            assert c.exec_driver_sql("PRAGMA foreign_key_check").fetchall() == []
    with db.sessions() as s:
        stored = set(s.scalars(select(Visit.id)))
        assert set(acked) <= stored, f"lost acknowledged visits: {sorted(set(acked) - stored)}"
        assert (
            len(stored) - len(acked) <= 1
        )  # at most the one in flight when it was killed (committed, not yet printed)
        # every stored visit is whole: one version with its 31 sites (no half-written visit)
        counts = s.execute(
            select(VisitVersion.visit_id, func.count(VisitSite.id))
            .join(VisitSite, VisitSite.version_id == VisitVersion.id)
            .group_by(VisitVersion.visit_id)
        ).all()
        assert {v: n for v, n in counts} == dict.fromkeys(stored, 31)
    db.dispose()
