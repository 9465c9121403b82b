from typing_extensions import disjoint_base, final
from rafka.admin import ClusterMetadata
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

__all__ = ["ConsumerGroupMetadata", "KafkaError", "KafkaException", "Message", "Producer", "ThrottleEvent", "TopicPartition",
           "_AioProducer", "_aio_exiting", "consistent", "fnv1a", "libversion", "murmur2", "version"]

_Buf = Union[bytes, bytearray, memoryview, str]
_Headers = Union[Dict[str, Optional[_Buf]], Sequence[Tuple[str, Optional[_Buf]]]]
_DeliveryCb = Callable[[Optional[KafkaError], Message], Any]

class KafkaException(Exception): ...

def version() -> str: ...
def libversion() -> Tuple[str, int]: ...
def murmur2(key: bytes, partition_count: int) -> int: ...
def consistent(key: bytes, partition_count: int) -> int: ...
def fnv1a(key: bytes, partition_count: int) -> int: ...

@final
class KafkaError:
    # Code constants: Kafka's names, every librdkafka name confluent-kafka has (its numbers), rafka's local codes.
    _BAD_MSG: int
    _BAD_COMPRESSION: int
    _DESTROY: int
    _FAIL: int
    _TRANSPORT: int
    _CRIT_SYS_RESOURCE: int
    _RESOLVE: int
    _MSG_TIMED_OUT: int
    _PARTITION_EOF: int
    _UNKNOWN_PARTITION: int
    _FS: int
    _UNKNOWN_TOPIC: int
    _ALL_BROKERS_DOWN: int
    _INVALID_ARG: int
    _TIMED_OUT: int
    _QUEUE_FULL: int
    _ISR_INSUFF: int
    _NODE_UPDATE: int
    _SSL: int
    _WAIT_COORD: int
    _UNKNOWN_GROUP: int
    _IN_PROGRESS: int
    _PREV_IN_PROGRESS: int
    _EXISTING_SUBSCRIPTION: int
    _ASSIGN_PARTITIONS: int
    _REVOKE_PARTITIONS: int
    _CONFLICT: int
    _STATE: int
    _UNKNOWN_PROTOCOL: int
    _NOT_IMPLEMENTED: int
    _AUTHENTICATION: int
    _NO_OFFSET: int
    _OUTDATED: int
    _TIMED_OUT_QUEUE: int
    _UNSUPPORTED_FEATURE: int
    _WAIT_CACHE: int
    _INTR: int
    _KEY_SERIALIZATION: int
    _VALUE_SERIALIZATION: int
    _KEY_DESERIALIZATION: int
    _VALUE_DESERIALIZATION: int
    _PARTIAL: int
    _READ_ONLY: int
    _NOENT: int
    _UNDERFLOW: int
    _INVALID_TYPE: int
    _RETRY: int
    _PURGE_QUEUE: int
    _PURGE_INFLIGHT: int
    _FATAL: int
    _INCONSISTENT: int
    _GAPLESS_GUARANTEE: int
    _MAX_POLL_EXCEEDED: int
    _UNKNOWN_BROKER: int
    _NOT_CONFIGURED: int
    _FENCED: int
    _APPLICATION: int
    _ASSIGNMENT_LOST: int
    _NOOP: int
    _AUTO_OFFSET_RESET: int
    _LOG_TRUNCATION: int
    _INVALID_DIFFERENT_RECORD: int
    _DESTROY_BROKER: int
    _INTERNAL: int
    _INVALID_CONFIG: int
    _MSG_SIZE_TOO_LARGE: int
    UNKNOWN: int
    UNKNOWN_SERVER_ERROR: int
    NONE: int
    NO_ERROR: int
    OFFSET_OUT_OF_RANGE: int
    CORRUPT_MESSAGE: int
    INVALID_MSG: int
    UNKNOWN_TOPIC_OR_PART: int
    UNKNOWN_TOPIC_OR_PARTITION: int
    INVALID_FETCH_SIZE: int
    INVALID_MSG_SIZE: int
    LEADER_NOT_AVAILABLE: int
    NOT_LEADER_FOR_PARTITION: int
    NOT_LEADER_OR_FOLLOWER: int
    REQUEST_TIMED_OUT: int
    BROKER_NOT_AVAILABLE: int
    REPLICA_NOT_AVAILABLE: int
    MESSAGE_TOO_LARGE: int
    MSG_SIZE_TOO_LARGE: int
    STALE_CONTROLLER_EPOCH: int
    STALE_CTRL_EPOCH: int
    OFFSET_METADATA_TOO_LARGE: int
    NETWORK_EXCEPTION: int
    COORDINATOR_LOAD_IN_PROGRESS: int
    COORDINATOR_NOT_AVAILABLE: int
    NOT_COORDINATOR: int
    INVALID_TOPIC_EXCEPTION: int
    TOPIC_EXCEPTION: int
    RECORD_LIST_TOO_LARGE: int
    NOT_ENOUGH_REPLICAS: int
    NOT_ENOUGH_REPLICAS_AFTER_APPEND: int
    INVALID_REQUIRED_ACKS: int
    ILLEGAL_GENERATION: int
    INCONSISTENT_GROUP_PROTOCOL: int
    INVALID_GROUP_ID: int
    UNKNOWN_MEMBER_ID: int
    INVALID_SESSION_TIMEOUT: int
    REBALANCE_IN_PROGRESS: int
    INVALID_COMMIT_OFFSET_SIZE: int
    TOPIC_AUTHORIZATION_FAILED: int
    GROUP_AUTHORIZATION_FAILED: int
    CLUSTER_AUTHORIZATION_FAILED: int
    INVALID_TIMESTAMP: int
    UNSUPPORTED_SASL_MECHANISM: int
    ILLEGAL_SASL_STATE: int
    UNSUPPORTED_VERSION: int
    TOPIC_ALREADY_EXISTS: int
    INVALID_PARTITIONS: int
    INVALID_REPLICATION_FACTOR: int
    INVALID_REPLICA_ASSIGNMENT: int
    INVALID_CONFIG: int
    NOT_CONTROLLER: int
    INVALID_REQUEST: int
    UNSUPPORTED_FOR_MESSAGE_FORMAT: int
    POLICY_VIOLATION: int
    OUT_OF_ORDER_SEQUENCE_NUMBER: int
    DUPLICATE_SEQUENCE_NUMBER: int
    INVALID_PRODUCER_EPOCH: int
    INVALID_TXN_STATE: int
    INVALID_PRODUCER_ID_MAPPING: int
    INVALID_TRANSACTION_TIMEOUT: int
    CONCURRENT_TRANSACTIONS: int
    TRANSACTION_COORDINATOR_FENCED: int
    TRANSACTIONAL_ID_AUTHORIZATION_FAILED: int
    SECURITY_DISABLED: int
    OPERATION_NOT_ATTEMPTED: int
    KAFKA_STORAGE_ERROR: int
    LOG_DIR_NOT_FOUND: int
    SASL_AUTHENTICATION_FAILED: int
    UNKNOWN_PRODUCER_ID: int
    REASSIGNMENT_IN_PROGRESS: int
    DELEGATION_TOKEN_AUTH_DISABLED: int
    DELEGATION_TOKEN_NOT_FOUND: int
    DELEGATION_TOKEN_OWNER_MISMATCH: int
    DELEGATION_TOKEN_REQUEST_NOT_ALLOWED: int
    DELEGATION_TOKEN_AUTHORIZATION_FAILED: int
    DELEGATION_TOKEN_EXPIRED: int
    INVALID_PRINCIPAL_TYPE: int
    NON_EMPTY_GROUP: int
    GROUP_ID_NOT_FOUND: int
    FETCH_SESSION_ID_NOT_FOUND: int
    INVALID_FETCH_SESSION_EPOCH: int
    LISTENER_NOT_FOUND: int
    TOPIC_DELETION_DISABLED: int
    FENCED_LEADER_EPOCH: int
    UNKNOWN_LEADER_EPOCH: int
    UNSUPPORTED_COMPRESSION_TYPE: int
    STALE_BROKER_EPOCH: int
    OFFSET_NOT_AVAILABLE: int
    MEMBER_ID_REQUIRED: int
    PREFERRED_LEADER_NOT_AVAILABLE: int
    GROUP_MAX_SIZE_REACHED: int
    FENCED_INSTANCE_ID: int
    ELIGIBLE_LEADERS_NOT_AVAILABLE: int
    ELECTION_NOT_NEEDED: int
    NO_REASSIGNMENT_IN_PROGRESS: int
    GROUP_SUBSCRIBED_TO_TOPIC: int
    INVALID_RECORD: int
    UNSTABLE_OFFSET_COMMIT: int
    THROTTLING_QUOTA_EXCEEDED: int
    PRODUCER_FENCED: int
    RESOURCE_NOT_FOUND: int
    DUPLICATE_RESOURCE: int
    UNACCEPTABLE_CREDENTIAL: int
    INCONSISTENT_VOTER_SET: int
    INVALID_UPDATE_VERSION: int
    FEATURE_UPDATE_FAILED: int
    PRINCIPAL_DESERIALIZATION_FAILURE: int
    SNAPSHOT_NOT_FOUND: int
    POSITION_OUT_OF_RANGE: int
    UNKNOWN_TOPIC_ID: int
    DUPLICATE_BROKER_REGISTRATION: int
    BROKER_ID_NOT_REGISTERED: int
    INCONSISTENT_TOPIC_ID: int
    INCONSISTENT_CLUSTER_ID: int
    TRANSACTIONAL_ID_NOT_FOUND: int
    FETCH_SESSION_TOPIC_ID_ERROR: int
    INELIGIBLE_REPLICA: int
    NEW_LEADER_ELECTED: int
    OFFSET_MOVED_TO_TIERED_STORAGE: int
    FENCED_MEMBER_EPOCH: int
    UNRELEASED_INSTANCE_ID: int
    UNSUPPORTED_ASSIGNOR: int
    STALE_MEMBER_EPOCH: int
    MISMATCHED_ENDPOINT_TYPE: int
    UNSUPPORTED_ENDPOINT_TYPE: int
    UNKNOWN_CONTROLLER_ID: int
    UNKNOWN_SUBSCRIPTION_ID: int
    TELEMETRY_TOO_LARGE: int
    INVALID_REGISTRATION: int
    TRANSACTION_ABORTABLE: int
    INVALID_RECORD_STATE: int
    SHARE_SESSION_NOT_FOUND: int
    INVALID_SHARE_SESSION_EPOCH: int
    FENCED_STATE_EPOCH: int
    INVALID_VOTER_KEY: int
    DUPLICATE_VOTER: int
    VOTER_NOT_FOUND: int
    INVALID_REGULAR_EXPRESSION: int
    REBOOTSTRAP_REQUIRED: int
    STREAMS_INVALID_TOPOLOGY: int
    STREAMS_INVALID_TOPOLOGY_EPOCH: int
    STREAMS_TOPOLOGY_FENCED: int
    SHARE_SESSION_LIMIT_REACHED: int
    def __new__(
        cls,
        error: int,
        reason: Optional[str] = None,
        fatal: bool = False,
        retriable: bool = False,
        txn_requires_abort: bool = False,
    ) -> KafkaError: ...
    def code(self) -> int: ...
    def name(self) -> str: ...
    def str(self) -> str: ...
    def retriable(self) -> bool: ...
    def fatal(self) -> bool: ...
    def txn_requires_abort(self) -> bool: ...
    def __eq__(self, value: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class ThrottleEvent:
    @property
    def broker_name(self) -> str: ...
    @property
    def broker_id(self) -> int: ...
    @property
    def throttle_time(self) -> float: ...

@final
class Message:
    def topic(self) -> str: ...
    def partition(self) -> int: ...
    def offset(self) -> int: ...
    def timestamp(self) -> Tuple[int, int]: ...
    def key(self) -> Optional[bytes]: ...
    def value(self) -> Optional[bytes]: ...
    def headers(self) -> Optional[List[Tuple[str, Optional[bytes]]]]: ...
    def error(self) -> Optional[KafkaError]: ...
    def latency(self) -> float: ...
    def __len__(self) -> int: ...

@final
class TopicPartition:
    def __new__(
        cls,
        topic: str,
        partition: int = ...,  # -1
        offset: int = ...,  # -1001: no offset
        metadata: Optional[str] = None,
        leader_epoch: Optional[int] = None,
    ) -> TopicPartition: ...
    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def metadata(self) -> Optional[str]: ...
    @property
    def leader_epoch(self) -> Optional[int]: ...
    @property
    def error(self) -> Optional[KafkaError]: ...
    def __eq__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class ConsumerGroupMetadata:
    def __new__(
        cls,
        group_id: str,
        generation_id: int = ...,  # -1: unknown
        member_id: str = ...,  # "": unknown
        group_instance_id: Optional[str] = None,
    ) -> ConsumerGroupMetadata: ...
    @property
    def group_id(self) -> str: ...
    @property
    def generation_id(self) -> int: ...
    @property
    def member_id(self) -> str: ...
    @property
    def group_instance_id(self) -> Optional[str]: ...
    def __eq__(self, other: object, /) -> bool: ...

@disjoint_base
class Producer:
    # conf: the engine's settings (str, int, bool) plus callables kept on the Python side, each
    # called from poll()/flush()/close(): on_delivery (_DeliveryCb), error_cb(KafkaError),
    # throttle_cb(ThrottleEvent), stats_cb(str), oauth_cb, and, with spool.dir,
    # spool_recovered_cb (_DeliveryCb: (err, msg) for each record an earlier producer left in the
    # spool, never called when nothing was recovered); and logger.
    def __new__(cls, conf: Optional[Dict[str, Any]] = None, **kwargs: Any) -> Producer: ...
    def produce(
        self,
        topic: str,
        value: Optional[_Buf] = None,
        key: Optional[_Buf] = None,
        partition: Optional[int] = None,
        on_delivery: Optional[_DeliveryCb] = None,
        callback: Optional[_DeliveryCb] = None,
        timestamp: Optional[int] = None,
        headers: Optional[_Headers] = None,
        timeout: Optional[float] = None,
    ) -> None: ...
    def produce_batch(
        self,
        topic: str,
        messages: Union[List[Any], Tuple[Any, ...]],
        partition: int = ...,
        callback: Optional[_DeliveryCb] = None,
        on_delivery: Optional[_DeliveryCb] = None,
    ) -> int: ...
    def list_topics(self, topic: Optional[str] = None, timeout: float = ...) -> ClusterMetadata: ...
    def poll(self, timeout: Optional[float] = None) -> int: ...
    def flush(self, timeout: Optional[float] = None) -> int: ...
    def purge(
        self,
        in_queue: bool = True,
        in_flight: bool = True,
        blocking: bool = True,
        *,
        topic: Optional[str] = None,
        partition: Optional[int] = None,
    ) -> None: ...
    def init_transactions(self, timeout: Optional[float] = None) -> None: ...
    def begin_transaction(self) -> None: ...
    def send_offsets_to_transaction(
        self,
        positions: Sequence[Any],  # TopicPartition, rafka's or confluent-kafka's
        group_metadata: Union[ConsumerGroupMetadata, bytes, Any],  # bytes: confluent-kafka's consumer_group_metadata()
        timeout: Optional[float] = None,
    ) -> None: ...
    def commit_transaction(self, timeout: Optional[float] = None) -> None: ...
    def abort_transaction(self, timeout: Optional[float] = None) -> None: ...
    def set_sasl_credentials(self, username: str, password: str) -> None: ...
    def close(self, timeout: Optional[float] = None) -> None: ...
    def __len__(self) -> int: ...
    def __enter__(self) -> Producer: ...
    def __exit__(self, *_args: object) -> bool: ...

@final
class _AioProducer:
    """The engine side of rafka.aio.AIOProducer (private)."""
    # conf: as Producer's, without throttle_cb, stats_cb and oauth_cb; on_delivery, error_cb and
    # spool_recovered_cb are called on the event loop.
    def __new__(cls, conf: Optional[Dict[str, Any]] = None, **kwargs: Any) -> _AioProducer: ...
    def bind(self, lp: Any) -> None: ...
    @property
    def max_block(self) -> float: ...
    @property
    def closed(self) -> bool: ...
    def produce(self, topic: str, value: Any = None, key: Any = None, partition: int | None = None,
                timestamp: int | None = None, headers: Any = None) -> Any: ...
    def produce_batch(self, topic: str, messages: Any, futures: list[Any], start: int = 0,
                      partition: int = ...) -> int: ...
    def room(self) -> Any: ...
    def serve_ready(self) -> None: ...
    def flush_blocking(self, timeout: float | None = None) -> int: ...
    def close_blocking(self, timeout: float | None = None) -> None: ...
    def purge_blocking(self) -> None: ...
    def list_topics_blocking(self, topic: Optional[str] = None, timeout: float = ...) -> ClusterMetadata: ...
    def __len__(self) -> int: ...

def _aio_exiting() -> None: ...
