"""What CPython itself costs per record in bench/python/compare.py, before any client does anything:
compare.py's own produce() loop (run_confluent_style) on a stand-in producer whose produce() and
poll() are a C builtin that does nothing ({}.get) and whose flush() calls the delivery callback
once per record. No client or broker needed.

    python bench/python/floor.py [--records 1000000] [--runs 3]
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import run_confluent_style  # noqa: E402


def stand_in(n):
    class Producer:
        def __init__(self, conf):
            self.on_delivery = conf["on_delivery"]
            self.produce = self.poll = {}.get
            self.sent = 1  # compare.py's warm-up record

        def flush(self, timeout):
            for _ in range(self.sent):
                self.on_delivery(None, None)
            self.sent = n
            return 0

    return Producer


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    for _ in range(a.runs):
        r = run_confluent_style(stand_in(a.records), {}, "topic", a.records, False, False)
        assert r["acked"] == a.records, r
        us = 1e6 / a.records
        print("produce loop %.3f us/record, with one callback per record %.3f us/record (CPU %.3f): at most %.2fM records/s"
              % (r["loop_s"] * us, r["total_s"] * us, r["cpu_s"] * us, a.records / r["total_s"] / 1e6))


if __name__ == "__main__":
    main()
