"""scripts/chaos's Python worker: sends numbered records with confluent-kafka's Producer API, either
rafka's (`import rafka`) or confluent-kafka's (librdkafka), and writes one line per delivery report.

    python worker.py rafka|confluent BOOTSTRAP TOPIC RECORDS SECONDS ACKS IDEMPOTENCE(0|1) RECORD_SIZE OUT

Record i (0-based) has key "k<i % 1000>" and a value that starts with "<i>." padded to RECORD_SIZE
bytes. Records go out at a steady rate, RECORDS over SECONDS. OUT gets one tab-separated line per
report: seq, partition, offset, error name (empty when delivered), send time, report time (ns since the
epoch; the send time is taken before the first produce() call of the record). Prints "ready" once the
producer exists and "done" at the end; exits 1 if the final flush leaves records undelivered.
"""
import importlib
import sys
import time


def main() -> int:
    client, bootstrap, topic, records, seconds, acks, idempotence, size, out_path = sys.argv[1:10]
    records, seconds, size = int(records), float(seconds), int(size)
    module = importlib.import_module("rafka" if client == "rafka" else "confluent_kafka")
    producer = module.Producer({
        "bootstrap.servers": bootstrap,
        "acks": acks,
        "enable.idempotence": idempotence == "1",
    })
    sent = [0] * records
    out = open(out_path, "w", buffering=1 << 20)

    def report(err, msg):
        seq = int(msg.value().split(b".", 1)[0])
        now = time.time_ns()
        out.write(f"{seq}\t{msg.partition()}\t{msg.offset()}\t{err.name() if err else ''}\t{sent[seq]}\t{now}\n")

    print("ready", flush=True)
    start = time.monotonic()
    rate = records / seconds if seconds > 0 else float("inf")
    seq = 0
    while seq < records:
        due = min(records, int((time.monotonic() - start) * rate) + 1)
        while seq < due:
            value = f"{seq}.".encode()
            value += b"x" * max(0, size - len(value))
            sent[seq] = time.time_ns()
            while True:
                try:
                    producer.produce(topic, value=value, key=f"k{seq % 1000}".encode(), on_delivery=report)
                    break
                except BufferError:
                    producer.poll(0.05)
            seq += 1
        producer.poll(0)
        time.sleep(0.002)
    left = producer.flush(900)
    out.close()
    print(f"done: {left} record(s) left after flush", flush=True)
    return 1 if left else 0


if __name__ == "__main__":
    sys.exit(main())
