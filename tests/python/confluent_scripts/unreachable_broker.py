# Nothing listens at the bootstrap address: error_cb hears that every broker is down, and the
# record's report fails at message.timeout.ms.
import sys

from confluent_kafka import KafkaError, Producer

seen = set()


def on_error(err):
    seen.add(err.code())


p = Producer({"bootstrap.servers": "127.0.0.1:1", "message.timeout.ms": 3000, "error_cb": on_error})


def report(err, msg):
    print("failed:", err.name() if err else None)


p.produce("any-topic", b"x", callback=report)
print("produce returned")
print("remaining", p.flush(30))
print("all brokers down reported:", KafkaError._ALL_BROKERS_DOWN in seen)
