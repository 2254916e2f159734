"""Write visits in a loop and print each acknowledged (committed) visit id: the kill -9 test's victim.

Usage: python burst_writer.py DB_URL PLAN.json
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

from visualizer.records.db import open_database
from visualizer.records.plan_input import check_plan_data
from visualizer.records.service import Records


def main() -> None:
    url, plan_path = sys.argv[1], Path(sys.argv[2])
    checked = check_plan_data(json.loads(plan_path.read_text()))
    records = Records(open_database(url))
    records.add_patient("TEST-BURST")
    print("ready", flush=True)
    day = dt.date(1950, 1, 1)
    while True:
        res = records.record_visit(
            "TEST-BURST",
            checked,
            product="BOTOX",
            lot="TESTLOT-1",
            expiry=day + dt.timedelta(days=365),
            injector="Dr Test",
            visit_date=day,
        )
        print(res.visit_id, flush=True)  # acknowledged: the transaction has committed
        day += dt.timedelta(days=91)


if __name__ == "__main__":
    main()
