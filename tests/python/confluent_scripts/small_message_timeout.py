# message.timeout.ms below request.timeout.ms + linger.ms: librdkafka accepts it.
import sys

from confluent_kafka import Producer

p = Producer({"bootstrap.servers": sys.argv[1], "message.timeout.ms": 3000, "linger.ms": 10})
ok = []


def report(err, msg):
    if err is None:
        ok.append(msg.offset())
    else:
        print("failed:", err.name())


for i in range(100):
    p.produce(sys.argv[2], b"v%d" % i, callback=report)
print("remaining", p.flush(30))
print("delivered", len(ok), "offsets consecutive:", sorted(ok) == list(range(min(ok), min(ok) + 100)))
