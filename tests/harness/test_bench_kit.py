"""rafkatools.bench, what the benchmark runners share: the perf tools' summary line and a child
measured on its own."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

from rafkatools.bench import parse_summary, perf_summaries, run_child, run_measured, spread  # noqa: E402

LINE = ("200000 records sent, 97323.6 records/sec (9.28 MB/sec), 12.34 ms avg latency, 250.00 ms max latency, "
        "8 ms 50th, 30 ms 95th, 61 ms 99th, 90 ms 99.9th.")


def test_the_last_summary_line_is_read_with_its_latencies():
    out = "50000 records sent, 1.0 records/sec (0.01 MB/sec), 1.00 ms avg latency, 2.00 ms max latency, " \
          "1 ms 50th, 1 ms 95th, 1 ms 99th, 2 ms 99.9th.\n" + LINE + "\n"
    assert parse_summary(out) == {"records": 200000, "records_per_sec": 97323.6, "mb_per_sec": 9.28,
                                  "avg_latency_ms": 12.34, "max_latency_ms": 250.0, "p50_ms": 8, "p99_ms": 61}


def test_a_steady_state_line_counts_and_a_line_without_latencies_gives_only_rates():
    assert perf_summaries("150000 steady state records sent, 5.0 records/sec (1.00 MB/sec), 1.00 ms avg latency, "
                          "2.00 ms max latency, 1 ms 50th, 1 ms 95th, 3 ms 99th")[0].group(9) == "3"
    assert parse_summary("1000 records sent, 20.5 records/sec (0.50 MB/sec)") == {
        "records": 1000, "records_per_sec": 20.5, "mb_per_sec": 0.5}


def test_output_without_a_summary_is_an_error_quoting_it():
    with pytest.raises(RuntimeError, match="no summary line in:\nboom"):
        parse_summary("boom")


def test_a_child_is_measured_alone_with_its_exit_code_output_and_cpu():
    m = run_measured([sys.executable, "-c", "import sys; sum(range(3_000_000)); print('out'); "
                      "print('err', file=sys.stderr); sys.exit(3)"])
    assert (m.code, m.out, m.err) == (3, "out\n", "err\n")
    assert m.cpu_s > 0 and m.peak_rss_kib > 0 and m.wall_s >= m.cpu_s * 0.5


def test_a_child_past_its_timeout_is_killed_and_a_failing_one_raises():
    m = run_measured([sys.executable, "-c", "import time; time.sleep(30)"], timeout=0.5)
    assert m.code == -9 and m.wall_s < 10
    with pytest.raises(RuntimeError, match=r"failed \(1\)"):
        run_child([sys.executable, "-c", "raise SystemExit(1)"])


def test_spread_is_median_min_and_max():
    assert spread([3, 1, 2, 10]) == {"median": 2.5, "min": 1, "max": 10}
