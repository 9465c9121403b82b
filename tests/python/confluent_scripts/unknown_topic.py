# Produce to a topic that does not exist (the broker does not auto-create topics).
import sys

from confluent_kafka import Producer

p = Producer({"bootstrap.servers": sys.argv[1], "topic.metadata.propagation.max.ms": 2000})


def report(err, msg):
    if err is not None:
        print("failed:", err.name(), "topic:", msg.topic())
    else:
        print("delivered to", msg.topic())


p.produce(sys.argv[2] + "-missing", b"lost?", callback=report)
print("produce returned")
print("remaining", p.flush(30))
