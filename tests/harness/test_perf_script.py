"""scripts/perf, the README's first command: against the running local broker it sends the records
asked for and prints one kafka-producer-perf-test summary line, after an unmeasured warm-up."""
from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_perf_script_warms_up_then_reports_only_the_measured_records(cluster):
    r = subprocess.run(
        [str(ROOT / "scripts" / "perf"), "--num-records", "20000", "--warmup-records", "5000"],
        capture_output=True, text=True, timeout=600, env=os.environ.copy(),
    )
    assert r.returncode == 0, r.stderr
    assert "warming the broker up with 5000 unmeasured records" in r.stderr
    lines = r.stdout.strip().splitlines()
    assert len(lines) == 1, r.stdout  # the warm-up's own summary is not printed
    assert re.match(r"^20000 records sent, [0-9.]+ records/sec \([0-9.]+ MB/sec\)", lines[0]), lines[0]


def test_perf_script_refuses_a_warmup_that_is_not_a_number_before_starting_anything():
    r = subprocess.run([str(ROOT / "scripts" / "perf"), "--warmup-records", "lots"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert "--warmup-records takes a number of records, not 'lots'" in r.stderr
    assert "building" not in r.stderr and "starting" not in r.stderr
