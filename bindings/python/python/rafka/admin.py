"""confluent-kafka's metadata classes (``confluent_kafka.admin``), as ``Producer.list_topics()``
returns them."""
from typing import Dict, List, Optional

from rafka._rafka import KafkaError

__all__ = ["BrokerMetadata", "ClusterMetadata", "PartitionMetadata", "TopicMetadata"]


class BrokerMetadata:
    """A broker: ``id``, ``host``, ``port``."""

    def __init__(self, id: int = -1, host: Optional[str] = None, port: int = -1) -> None:
        self.id = id
        self.host = host
        self.port = port

    def __repr__(self) -> str:
        return "BrokerMetadata({}, {}:{})".format(self.id, self.host, self.port)

    def __str__(self) -> str:
        return "{}:{}/{}".format(self.host, self.port, self.id)


class PartitionMetadata:
    """A partition: ``id``, ``leader`` (-1 when none), ``replicas``, ``isrs`` (broker ids) and
    ``error`` (a KafkaError or None)."""

    def __init__(self, id: int = -1, leader: int = -1, replicas: Optional[List[int]] = None,
                 isrs: Optional[List[int]] = None, error: Optional[KafkaError] = None) -> None:
        self.id = id
        self.leader = leader
        self.replicas = replicas if replicas is not None else []
        self.isrs = isrs if isrs is not None else []
        self.error = error

    def __repr__(self) -> str:
        if self.error is not None:
            return "PartitionMetadata({}, {})".format(self.id, self.error)
        return "PartitionMetadata({})".format(self.id)

    def __str__(self) -> str:
        return "{}".format(self.id)


class TopicMetadata:
    """A topic: ``topic`` (its name), ``partitions`` (id -> PartitionMetadata) and ``error``."""

    def __init__(self, topic: Optional[str] = None, partitions: Optional[Dict[int, PartitionMetadata]] = None,
                 error: Optional[KafkaError] = None) -> None:
        self.topic = topic
        self.partitions = partitions if partitions is not None else {}
        self.error = error

    def __repr__(self) -> str:
        if self.error is not None:
            return "TopicMetadata({}, {} partitions, {})".format(self.topic, len(self.partitions), self.error)
        return "TopicMetadata({}, {} partitions)".format(self.topic, len(self.partitions))

    def __str__(self) -> str:
        return "{}".format(self.topic)


class ClusterMetadata:
    """What ``list_topics()`` returns: ``cluster_id``, ``controller_id``, ``brokers`` (id ->
    BrokerMetadata), ``topics`` (name -> TopicMetadata), and the broker that answered
    (``orig_broker_id``, ``orig_broker_name``)."""

    def __init__(self, cluster_id: Optional[str] = None, controller_id: int = -1,
                 brokers: Optional[Dict[int, BrokerMetadata]] = None,
                 topics: Optional[Dict[str, TopicMetadata]] = None,
                 orig_broker_id: int = -1, orig_broker_name: Optional[str] = None) -> None:
        self.cluster_id = cluster_id
        self.controller_id = controller_id
        self.brokers = brokers if brokers is not None else {}
        self.topics = topics if topics is not None else {}
        self.orig_broker_id = orig_broker_id
        self.orig_broker_name = orig_broker_name

    def __repr__(self) -> str:
        return "ClusterMetadata({})".format(self.cluster_id)

    def __str__(self) -> str:
        return str(self.cluster_id)
