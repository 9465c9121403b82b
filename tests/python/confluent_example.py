# A delivery-report script as written for confluent-kafka's documentation style.
# test_confluent_script_runs_with_only_the_import_changed rewrites the import line to rafka.
import sys

from confluent_kafka import Producer

p = Producer({"bootstrap.servers": sys.argv[1]})
topic = sys.argv[2]
delivered = []


def delivery_report(err, msg):
    if err is not None:
        print("Delivery failed: {}".format(err))
    else:
        delivered.append((msg.topic(), msg.partition(), msg.offset()))


for data in ["alpha", "beta", "gamma"]:
    p.poll(0)
    p.produce(topic, data.encode("utf-8"), callback=delivery_report)

remaining = p.flush()
print("delivered", len(delivered), "remaining", remaining)
