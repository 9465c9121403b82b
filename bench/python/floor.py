"""What CPython itself costs per record in bench/python/compare.py, before any client does anything:
its produce() loop with produce() and poll() replaced by a C builtin that does nothing ({}.get),
plus its delivery callback called once per record. No client or broker needed.

    python bench/python/floor.py
"""
import time, os
N = 1_000_000
pool = [os.urandom(100) for _ in range(1024)]
values = [pool[i % 1024] for i in range(N)]
acked = [0]
def on_delivery(err, msg):
    if err is None:
        acked[0] += 1
produce = poll = {}.get
for rep in range(3):
    t = time.perf_counter()
    i = 0
    for v in values:
        while True:
            try:
                produce("topic", v)
                break
            except BufferError:
                poll(0.05)
        i += 1
        if i % 1000 == 0:
            poll(0)
    loop = time.perf_counter() - t
    t = time.perf_counter()
    for v in values:
        on_delivery(None, v)
    cb = time.perf_counter() - t
    us = 1e6 / N
    print("loop %.3f us/record, callback calls %.3f us/record, sum %.3f -> at most %.2fM records/s"
          % (loop * us, cb * us, (loop + cb) * us, N / (loop + cb) / 1e6))
