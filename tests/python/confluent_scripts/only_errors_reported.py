# delivery.report.only.error: the callback runs for failed records only.
import sys

from confluent_kafka import Producer

p = Producer({"bootstrap.servers": sys.argv[1], "delivery.report.only.error": True,
              "topic.metadata.propagation.max.ms": 2000})
calls = []


def report(err, msg):
    calls.append((err.name() if err else None, msg.topic() == sys.argv[2]))


for i in range(5):
    p.produce(sys.argv[2], b"ok-%d" % i, on_delivery=report)
p.produce(sys.argv[2] + "-missing", b"fails", on_delivery=report)
print("remaining", p.flush(30))
print("callbacks", sorted(calls, key=str))
