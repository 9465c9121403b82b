"""examples/python/producer.py: writes one record per standard-input line and prints each delivery.

    pip install ./bindings/python
    python examples/python/producer.py <bootstrap.servers> <topic> < lines.txt

The same code runs with confluent-kafka: rafka.Producer has its API.
"""
import sys

import rafka


def main() -> int:
    if len(sys.argv) != 3:
        print(f"usage: {sys.argv[0]} <bootstrap.servers> <topic>", file=sys.stderr)
        return 1
    producer = rafka.Producer({"bootstrap.servers": sys.argv[1]})
    failed = 0

    def on_delivery(err, msg):  # runs inside poll() and flush(), on this thread
        nonlocal failed
        if err is not None:
            failed += 1
            print(f"% delivery failed: {err}", file=sys.stderr)
        else:
            print(f"% delivered {len(msg.value())} bytes to {msg.topic()} [{msg.partition()}] at offset {msg.offset()}",
                  file=sys.stderr)

    for line in sys.stdin:
        producer.produce(sys.argv[2], value=line.rstrip("\n").encode(), on_delivery=on_delivery)
        producer.poll(0)
    remaining = producer.flush(30)
    if remaining or failed:
        print(f"% {failed} record(s) failed, {remaining} not delivered", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
