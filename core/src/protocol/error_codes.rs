//! Kafka's error codes: the `i16` a broker puts in `error_code` fields.
//!
//! Names and the retriable classification follow Kafka's `Errors.java` (a code is retriable when
//! its Java exception is a `RetriableException`), covering every code from -1 up to 133, the
//! highest one Kafka 4.x defines. Descriptions are ours, written for log lines and FFI callers.
//! An unknown code (a newer broker) keeps its number, is named `"UNKNOWN"` and is not retriable.

use std::fmt;

/// A broker error code. `KafkaCode::NONE` (0) means success.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KafkaCode(pub i16);

/// (code, Kafka's name, retriable, our description), sorted by code, contiguous from -1.
const TABLE: &[(i16, &str, bool, &str)] = &[
    (-1, "UNKNOWN_SERVER_ERROR", false, "The broker hit an unexpected error while handling the request."),
    (0, "NONE", false, "No error."),
    (1, "OFFSET_OUT_OF_RANGE", false, "The requested offset lies outside the partition's available range."),
    (2, "CORRUPT_MESSAGE", true, "A message failed its CRC check, was too small, or was otherwise corrupt."),
    (3, "UNKNOWN_TOPIC_OR_PARTITION", true, "The broker does not host this topic or partition."),
    (4, "INVALID_FETCH_SIZE", false, "The requested fetch size is invalid."),
    (5, "LEADER_NOT_AVAILABLE", true, "The partition is between leaders (an election is in progress); try again shortly."),
    (6, "NOT_LEADER_OR_FOLLOWER", true, "This broker is not the leader (or a follower) for the partition; the client's metadata is stale."),
    (7, "REQUEST_TIMED_OUT", true, "The request did not complete within its timeout."),
    (8, "BROKER_NOT_AVAILABLE", false, "The broker is not available."),
    (9, "REPLICA_NOT_AVAILABLE", true, "The replica is not available for the partition."),
    (10, "MESSAGE_TOO_LARGE", false, "The request contains a record larger than the broker accepts."),
    (11, "STALE_CONTROLLER_EPOCH", false, "The controller epoch in the request is stale."),
    (12, "OFFSET_METADATA_TOO_LARGE", false, "The offset commit metadata is too large."),
    (13, "NETWORK_EXCEPTION", true, "The connection to the broker broke before the response arrived."),
    (14, "COORDINATOR_LOAD_IN_PROGRESS", true, "The coordinator is still loading; try again shortly."),
    (15, "COORDINATOR_NOT_AVAILABLE", true, "The coordinator is not available."),
    (16, "NOT_COORDINATOR", true, "This broker is not the coordinator for the group or transaction."),
    (17, "INVALID_TOPIC_EXCEPTION", false, "The topic name is invalid, or the operation is not allowed on an internal topic."),
    (18, "RECORD_LIST_TOO_LARGE", false, "The batch in the request exceeds the broker's maximum size."),
    (19, "NOT_ENOUGH_REPLICAS", true, "Fewer in-sync replicas than min.insync.replicas: the write was refused."),
    (20, "NOT_ENOUGH_REPLICAS_AFTER_APPEND", true, "The write was appended but fewer in-sync replicas than required acknowledged it."),
    (21, "INVALID_REQUIRED_ACKS", false, "The acks value in the request is not one the broker accepts."),
    (22, "ILLEGAL_GENERATION", false, "The group generation id is not current."),
    (23, "INCONSISTENT_GROUP_PROTOCOL", false, "The member's group protocol does not match the group's."),
    (24, "INVALID_GROUP_ID", false, "The group id is invalid."),
    (25, "UNKNOWN_MEMBER_ID", false, "The coordinator does not know this member id."),
    (26, "INVALID_SESSION_TIMEOUT", false, "The session timeout is outside the broker's allowed range."),
    (27, "REBALANCE_IN_PROGRESS", false, "The group is rebalancing; the member must rejoin."),
    (28, "INVALID_COMMIT_OFFSET_SIZE", false, "The committed offset data is too large."),
    (29, "TOPIC_AUTHORIZATION_FAILED", false, "The client may not access this topic."),
    (30, "GROUP_AUTHORIZATION_FAILED", false, "The client may not access this group."),
    (31, "CLUSTER_AUTHORIZATION_FAILED", false, "The client may not perform this cluster-level operation."),
    (32, "INVALID_TIMESTAMP", false, "A record timestamp is outside the range the broker accepts."),
    (33, "UNSUPPORTED_SASL_MECHANISM", false, "The broker does not support the requested SASL mechanism."),
    (34, "ILLEGAL_SASL_STATE", false, "The SASL request arrived in a state where it is not allowed."),
    (35, "UNSUPPORTED_VERSION", false, "The broker does not support this API version."),
    (36, "TOPIC_ALREADY_EXISTS", false, "The topic already exists."),
    (37, "INVALID_PARTITIONS", false, "The number of partitions is invalid."),
    (38, "INVALID_REPLICATION_FACTOR", false, "The replication factor is invalid."),
    (39, "INVALID_REPLICA_ASSIGNMENT", false, "The replica assignment is invalid."),
    (40, "INVALID_CONFIG", false, "The configuration is invalid."),
    (41, "NOT_CONTROLLER", true, "This broker is not the active controller."),
    (42, "INVALID_REQUEST", false, "The request is malformed or inconsistent (often a client bug or version mismatch)."),
    (43, "UNSUPPORTED_FOR_MESSAGE_FORMAT", false, "The message format version on the broker does not support the request."),
    (44, "POLICY_VIOLATION", false, "The request violates a policy configured on the broker."),
    (45, "OUT_OF_ORDER_SEQUENCE_NUMBER", false, "The broker received a sequence number it did not expect for this producer and partition."),
    (46, "DUPLICATE_SEQUENCE_NUMBER", false, "The broker already has a batch with this sequence number: the batch is a duplicate."),
    (47, "INVALID_PRODUCER_EPOCH", false, "The producer epoch is invalid: another producer instance with a newer epoch took over."),
    (48, "INVALID_TXN_STATE", false, "The operation does not fit the transaction's current state."),
    (49, "INVALID_PRODUCER_ID_MAPPING", false, "The producer id is not mapped to the given transactional id."),
    (50, "INVALID_TRANSACTION_TIMEOUT", false, "The transaction timeout exceeds the broker's maximum."),
    (51, "CONCURRENT_TRANSACTIONS", true, "Another transaction operation for this producer is still in progress."),
    (52, "TRANSACTION_COORDINATOR_FENCED", false, "The transaction coordinator that sent this request has been replaced."),
    (53, "TRANSACTIONAL_ID_AUTHORIZATION_FAILED", false, "The client may not use this transactional id."),
    (54, "SECURITY_DISABLED", false, "Security features are disabled on the broker."),
    (55, "OPERATION_NOT_ATTEMPTED", false, "The broker skipped this operation because another part of the request failed."),
    (56, "KAFKA_STORAGE_ERROR", true, "A storage error on the broker: the partition's log directory is offline."),
    (57, "LOG_DIR_NOT_FOUND", false, "The log directory does not exist on the broker."),
    (58, "SASL_AUTHENTICATION_FAILED", false, "SASL authentication failed."),
    (59, "UNKNOWN_PRODUCER_ID", false, "The broker has no state for this producer id (it may have expired)."),
    (60, "REASSIGNMENT_IN_PROGRESS", false, "A partition reassignment is in progress."),
    (61, "DELEGATION_TOKEN_AUTH_DISABLED", false, "Delegation tokens are disabled."),
    (62, "DELEGATION_TOKEN_NOT_FOUND", false, "The delegation token was not found."),
    (63, "DELEGATION_TOKEN_OWNER_MISMATCH", false, "The principal does not own the delegation token."),
    (64, "DELEGATION_TOKEN_REQUEST_NOT_ALLOWED", false, "Delegation token requests are not allowed on this connection's authentication."),
    (65, "DELEGATION_TOKEN_AUTHORIZATION_FAILED", false, "The client may not perform this delegation token operation."),
    (66, "DELEGATION_TOKEN_EXPIRED", false, "The delegation token has expired."),
    (67, "INVALID_PRINCIPAL_TYPE", false, "The principal type is not supported."),
    (68, "NON_EMPTY_GROUP", false, "The group is not empty."),
    (69, "GROUP_ID_NOT_FOUND", false, "The group id does not exist."),
    (70, "FETCH_SESSION_ID_NOT_FOUND", true, "The fetch session id was not found."),
    (71, "INVALID_FETCH_SESSION_EPOCH", true, "The fetch session epoch is invalid."),
    (72, "LISTENER_NOT_FOUND", true, "No matching listener was found on the leader for this partition."),
    (73, "TOPIC_DELETION_DISABLED", false, "Topic deletion is disabled."),
    (74, "FENCED_LEADER_EPOCH", true, "The leader epoch in the request is older than the broker's."),
    (75, "UNKNOWN_LEADER_EPOCH", true, "The leader epoch in the request is newer than the broker's."),
    (76, "UNSUPPORTED_COMPRESSION_TYPE", false, "The broker does not support the compression codec used by the records."),
    (77, "STALE_BROKER_EPOCH", false, "The broker epoch has changed."),
    (78, "OFFSET_NOT_AVAILABLE", true, "The leader's high watermark has not caught up yet; the offset is not available."),
    (79, "MEMBER_ID_REQUIRED", false, "A member id is required to join the group."),
    (80, "PREFERRED_LEADER_NOT_AVAILABLE", true, "The preferred leader is not available."),
    (81, "GROUP_MAX_SIZE_REACHED", false, "The group has reached its maximum size."),
    (82, "FENCED_INSTANCE_ID", false, "Another consumer with the same group.instance.id fenced this one."),
    (83, "ELIGIBLE_LEADERS_NOT_AVAILABLE", true, "No eligible leader is available for the partition."),
    (84, "ELECTION_NOT_NEEDED", true, "A leader election is not needed for the partition."),
    (85, "NO_REASSIGNMENT_IN_PROGRESS", false, "No partition reassignment is in progress."),
    (86, "GROUP_SUBSCRIBED_TO_TOPIC", false, "The topic cannot be deleted while a consumer group is subscribed to it."),
    (87, "INVALID_RECORD", false, "A record failed the broker's validation (for example a key missing on a compacted topic)."),
    (88, "UNSTABLE_OFFSET_COMMIT", true, "There are unstable offsets awaiting a transaction's completion."),
    (89, "THROTTLING_QUOTA_EXCEEDED", true, "The request exceeded a throttling quota."),
    (90, "PRODUCER_FENCED", false, "A newer producer with the same transactional id fenced this one."),
    (91, "RESOURCE_NOT_FOUND", false, "The resource was not found."),
    (92, "DUPLICATE_RESOURCE", false, "The resource is a duplicate."),
    (93, "UNACCEPTABLE_CREDENTIAL", false, "The credential does not meet the broker's requirements."),
    (94, "INCONSISTENT_VOTER_SET", false, "The voter set is inconsistent with the cluster's."),
    (95, "INVALID_UPDATE_VERSION", false, "The update version is invalid."),
    (96, "FEATURE_UPDATE_FAILED", false, "The feature update failed."),
    (97, "PRINCIPAL_DESERIALIZATION_FAILURE", false, "The broker could not deserialize the request's principal."),
    (98, "SNAPSHOT_NOT_FOUND", false, "The requested snapshot was not found."),
    (99, "POSITION_OUT_OF_RANGE", false, "The requested snapshot position is out of range."),
    (100, "UNKNOWN_TOPIC_ID", true, "The broker does not host a topic with this id."),
    (101, "DUPLICATE_BROKER_REGISTRATION", false, "A broker with this id is already registered."),
    (102, "BROKER_ID_NOT_REGISTERED", false, "The broker id is not registered."),
    (103, "INCONSISTENT_TOPIC_ID", true, "The topic id in the request does not match the log's topic id."),
    (104, "INCONSISTENT_CLUSTER_ID", false, "The cluster id does not match."),
    (105, "TRANSACTIONAL_ID_NOT_FOUND", false, "The transactional id was not found."),
    (106, "FETCH_SESSION_TOPIC_ID_ERROR", true, "The fetch session hit a topic id error."),
    (107, "INELIGIBLE_REPLICA", false, "The replica is not eligible for the new ISR."),
    (108, "NEW_LEADER_ELECTED", false, "A new leader was elected for the partition."),
    (109, "OFFSET_MOVED_TO_TIERED_STORAGE", false, "The requested offset has moved to tiered storage."),
    (110, "FENCED_MEMBER_EPOCH", false, "The member epoch is fenced; the member must rejoin with no partitions."),
    (111, "UNRELEASED_INSTANCE_ID", false, "The instance id is still used by another member of the group."),
    (112, "UNSUPPORTED_ASSIGNOR", false, "The group does not support the assignor or its version."),
    (113, "STALE_MEMBER_EPOCH", false, "The member epoch is stale; the member must retry with its updated epoch."),
    (114, "MISMATCHED_ENDPOINT_TYPE", false, "The request went to an endpoint of the wrong type."),
    (115, "UNSUPPORTED_ENDPOINT_TYPE", false, "This endpoint type is not supported yet."),
    (116, "UNKNOWN_CONTROLLER_ID", false, "The controller id is not known."),
    (117, "UNKNOWN_SUBSCRIPTION_ID", false, "The telemetry subscription id is unknown or outdated."),
    (118, "TELEMETRY_TOO_LARGE", false, "The telemetry payload is larger than the broker accepts."),
    (119, "INVALID_REGISTRATION", false, "The controller rejected the broker registration."),
    (120, "TRANSACTION_ABORTABLE", false, "The transaction hit an error; aborting it lets the producer continue."),
    (121, "INVALID_RECORD_STATE", false, "The record state is invalid for this acknowledgement."),
    (122, "SHARE_SESSION_NOT_FOUND", true, "The share session was not found."),
    (123, "INVALID_SHARE_SESSION_EPOCH", true, "The share session epoch is invalid."),
    (124, "FENCED_STATE_EPOCH", false, "The share-group state epoch does not match."),
    (125, "INVALID_VOTER_KEY", false, "The voter key does not match the replica's key."),
    (126, "DUPLICATE_VOTER", false, "The voter is already in the voter set."),
    (127, "VOTER_NOT_FOUND", false, "The voter is not in the voter set."),
    (128, "INVALID_REGULAR_EXPRESSION", false, "The regular expression is invalid."),
    (129, "REBOOTSTRAP_REQUIRED", false, "The client's metadata is stale; it should rebootstrap."),
    (130, "STREAMS_INVALID_TOPOLOGY", false, "The streams topology is invalid."),
    (131, "STREAMS_INVALID_TOPOLOGY_EPOCH", false, "The streams topology epoch is invalid."),
    (132, "STREAMS_TOPOLOGY_FENCED", false, "The streams topology epoch is outdated."),
    (133, "SHARE_SESSION_LIMIT_REACHED", true, "The share session limit has been reached."),
];

const FIRST_CODE: i16 = -1;

impl KafkaCode {
    pub const UNKNOWN_SERVER_ERROR: KafkaCode = KafkaCode(-1);
    pub const NONE: KafkaCode = KafkaCode(0);
    pub const OFFSET_OUT_OF_RANGE: KafkaCode = KafkaCode(1);
    pub const CORRUPT_MESSAGE: KafkaCode = KafkaCode(2);
    pub const UNKNOWN_TOPIC_OR_PARTITION: KafkaCode = KafkaCode(3);
    pub const INVALID_FETCH_SIZE: KafkaCode = KafkaCode(4);
    pub const LEADER_NOT_AVAILABLE: KafkaCode = KafkaCode(5);
    pub const NOT_LEADER_OR_FOLLOWER: KafkaCode = KafkaCode(6);
    pub const REQUEST_TIMED_OUT: KafkaCode = KafkaCode(7);
    pub const BROKER_NOT_AVAILABLE: KafkaCode = KafkaCode(8);
    pub const REPLICA_NOT_AVAILABLE: KafkaCode = KafkaCode(9);
    pub const MESSAGE_TOO_LARGE: KafkaCode = KafkaCode(10);
    pub const STALE_CONTROLLER_EPOCH: KafkaCode = KafkaCode(11);
    pub const OFFSET_METADATA_TOO_LARGE: KafkaCode = KafkaCode(12);
    pub const NETWORK_EXCEPTION: KafkaCode = KafkaCode(13);
    pub const COORDINATOR_LOAD_IN_PROGRESS: KafkaCode = KafkaCode(14);
    pub const COORDINATOR_NOT_AVAILABLE: KafkaCode = KafkaCode(15);
    pub const NOT_COORDINATOR: KafkaCode = KafkaCode(16);
    pub const INVALID_TOPIC_EXCEPTION: KafkaCode = KafkaCode(17);
    pub const RECORD_LIST_TOO_LARGE: KafkaCode = KafkaCode(18);
    pub const NOT_ENOUGH_REPLICAS: KafkaCode = KafkaCode(19);
    pub const NOT_ENOUGH_REPLICAS_AFTER_APPEND: KafkaCode = KafkaCode(20);
    pub const INVALID_REQUIRED_ACKS: KafkaCode = KafkaCode(21);
    pub const ILLEGAL_GENERATION: KafkaCode = KafkaCode(22);
    pub const INCONSISTENT_GROUP_PROTOCOL: KafkaCode = KafkaCode(23);
    pub const INVALID_GROUP_ID: KafkaCode = KafkaCode(24);
    pub const UNKNOWN_MEMBER_ID: KafkaCode = KafkaCode(25);
    pub const INVALID_SESSION_TIMEOUT: KafkaCode = KafkaCode(26);
    pub const REBALANCE_IN_PROGRESS: KafkaCode = KafkaCode(27);
    pub const INVALID_COMMIT_OFFSET_SIZE: KafkaCode = KafkaCode(28);
    pub const TOPIC_AUTHORIZATION_FAILED: KafkaCode = KafkaCode(29);
    pub const GROUP_AUTHORIZATION_FAILED: KafkaCode = KafkaCode(30);
    pub const CLUSTER_AUTHORIZATION_FAILED: KafkaCode = KafkaCode(31);
    pub const INVALID_TIMESTAMP: KafkaCode = KafkaCode(32);
    pub const UNSUPPORTED_SASL_MECHANISM: KafkaCode = KafkaCode(33);
    pub const ILLEGAL_SASL_STATE: KafkaCode = KafkaCode(34);
    pub const UNSUPPORTED_VERSION: KafkaCode = KafkaCode(35);
    pub const TOPIC_ALREADY_EXISTS: KafkaCode = KafkaCode(36);
    pub const INVALID_PARTITIONS: KafkaCode = KafkaCode(37);
    pub const INVALID_REPLICATION_FACTOR: KafkaCode = KafkaCode(38);
    pub const INVALID_REPLICA_ASSIGNMENT: KafkaCode = KafkaCode(39);
    pub const INVALID_CONFIG: KafkaCode = KafkaCode(40);
    pub const NOT_CONTROLLER: KafkaCode = KafkaCode(41);
    pub const INVALID_REQUEST: KafkaCode = KafkaCode(42);
    pub const UNSUPPORTED_FOR_MESSAGE_FORMAT: KafkaCode = KafkaCode(43);
    pub const POLICY_VIOLATION: KafkaCode = KafkaCode(44);
    pub const OUT_OF_ORDER_SEQUENCE_NUMBER: KafkaCode = KafkaCode(45);
    pub const DUPLICATE_SEQUENCE_NUMBER: KafkaCode = KafkaCode(46);
    pub const INVALID_PRODUCER_EPOCH: KafkaCode = KafkaCode(47);
    pub const INVALID_TXN_STATE: KafkaCode = KafkaCode(48);
    pub const INVALID_PRODUCER_ID_MAPPING: KafkaCode = KafkaCode(49);
    pub const INVALID_TRANSACTION_TIMEOUT: KafkaCode = KafkaCode(50);
    pub const CONCURRENT_TRANSACTIONS: KafkaCode = KafkaCode(51);
    pub const TRANSACTION_COORDINATOR_FENCED: KafkaCode = KafkaCode(52);
    pub const TRANSACTIONAL_ID_AUTHORIZATION_FAILED: KafkaCode = KafkaCode(53);
    pub const SECURITY_DISABLED: KafkaCode = KafkaCode(54);
    pub const OPERATION_NOT_ATTEMPTED: KafkaCode = KafkaCode(55);
    pub const KAFKA_STORAGE_ERROR: KafkaCode = KafkaCode(56);
    pub const LOG_DIR_NOT_FOUND: KafkaCode = KafkaCode(57);
    pub const SASL_AUTHENTICATION_FAILED: KafkaCode = KafkaCode(58);
    pub const UNKNOWN_PRODUCER_ID: KafkaCode = KafkaCode(59);
    pub const REASSIGNMENT_IN_PROGRESS: KafkaCode = KafkaCode(60);
    pub const DELEGATION_TOKEN_AUTH_DISABLED: KafkaCode = KafkaCode(61);
    pub const DELEGATION_TOKEN_NOT_FOUND: KafkaCode = KafkaCode(62);
    pub const DELEGATION_TOKEN_OWNER_MISMATCH: KafkaCode = KafkaCode(63);
    pub const DELEGATION_TOKEN_REQUEST_NOT_ALLOWED: KafkaCode = KafkaCode(64);
    pub const DELEGATION_TOKEN_AUTHORIZATION_FAILED: KafkaCode = KafkaCode(65);
    pub const DELEGATION_TOKEN_EXPIRED: KafkaCode = KafkaCode(66);
    pub const INVALID_PRINCIPAL_TYPE: KafkaCode = KafkaCode(67);
    pub const NON_EMPTY_GROUP: KafkaCode = KafkaCode(68);
    pub const GROUP_ID_NOT_FOUND: KafkaCode = KafkaCode(69);
    pub const FETCH_SESSION_ID_NOT_FOUND: KafkaCode = KafkaCode(70);
    pub const INVALID_FETCH_SESSION_EPOCH: KafkaCode = KafkaCode(71);
    pub const LISTENER_NOT_FOUND: KafkaCode = KafkaCode(72);
    pub const TOPIC_DELETION_DISABLED: KafkaCode = KafkaCode(73);
    pub const FENCED_LEADER_EPOCH: KafkaCode = KafkaCode(74);
    pub const UNKNOWN_LEADER_EPOCH: KafkaCode = KafkaCode(75);
    pub const UNSUPPORTED_COMPRESSION_TYPE: KafkaCode = KafkaCode(76);
    pub const STALE_BROKER_EPOCH: KafkaCode = KafkaCode(77);
    pub const OFFSET_NOT_AVAILABLE: KafkaCode = KafkaCode(78);
    pub const MEMBER_ID_REQUIRED: KafkaCode = KafkaCode(79);
    pub const PREFERRED_LEADER_NOT_AVAILABLE: KafkaCode = KafkaCode(80);
    pub const GROUP_MAX_SIZE_REACHED: KafkaCode = KafkaCode(81);
    pub const FENCED_INSTANCE_ID: KafkaCode = KafkaCode(82);
    pub const ELIGIBLE_LEADERS_NOT_AVAILABLE: KafkaCode = KafkaCode(83);
    pub const ELECTION_NOT_NEEDED: KafkaCode = KafkaCode(84);
    pub const NO_REASSIGNMENT_IN_PROGRESS: KafkaCode = KafkaCode(85);
    pub const GROUP_SUBSCRIBED_TO_TOPIC: KafkaCode = KafkaCode(86);
    pub const INVALID_RECORD: KafkaCode = KafkaCode(87);
    pub const UNSTABLE_OFFSET_COMMIT: KafkaCode = KafkaCode(88);
    pub const THROTTLING_QUOTA_EXCEEDED: KafkaCode = KafkaCode(89);
    pub const PRODUCER_FENCED: KafkaCode = KafkaCode(90);
    pub const RESOURCE_NOT_FOUND: KafkaCode = KafkaCode(91);
    pub const DUPLICATE_RESOURCE: KafkaCode = KafkaCode(92);
    pub const UNACCEPTABLE_CREDENTIAL: KafkaCode = KafkaCode(93);
    pub const INCONSISTENT_VOTER_SET: KafkaCode = KafkaCode(94);
    pub const INVALID_UPDATE_VERSION: KafkaCode = KafkaCode(95);
    pub const FEATURE_UPDATE_FAILED: KafkaCode = KafkaCode(96);
    pub const PRINCIPAL_DESERIALIZATION_FAILURE: KafkaCode = KafkaCode(97);
    pub const SNAPSHOT_NOT_FOUND: KafkaCode = KafkaCode(98);
    pub const POSITION_OUT_OF_RANGE: KafkaCode = KafkaCode(99);
    pub const UNKNOWN_TOPIC_ID: KafkaCode = KafkaCode(100);
    pub const DUPLICATE_BROKER_REGISTRATION: KafkaCode = KafkaCode(101);
    pub const BROKER_ID_NOT_REGISTERED: KafkaCode = KafkaCode(102);
    pub const INCONSISTENT_TOPIC_ID: KafkaCode = KafkaCode(103);
    pub const INCONSISTENT_CLUSTER_ID: KafkaCode = KafkaCode(104);
    pub const TRANSACTIONAL_ID_NOT_FOUND: KafkaCode = KafkaCode(105);
    pub const FETCH_SESSION_TOPIC_ID_ERROR: KafkaCode = KafkaCode(106);
    pub const INELIGIBLE_REPLICA: KafkaCode = KafkaCode(107);
    pub const NEW_LEADER_ELECTED: KafkaCode = KafkaCode(108);
    pub const OFFSET_MOVED_TO_TIERED_STORAGE: KafkaCode = KafkaCode(109);
    pub const FENCED_MEMBER_EPOCH: KafkaCode = KafkaCode(110);
    pub const UNRELEASED_INSTANCE_ID: KafkaCode = KafkaCode(111);
    pub const UNSUPPORTED_ASSIGNOR: KafkaCode = KafkaCode(112);
    pub const STALE_MEMBER_EPOCH: KafkaCode = KafkaCode(113);
    pub const MISMATCHED_ENDPOINT_TYPE: KafkaCode = KafkaCode(114);
    pub const UNSUPPORTED_ENDPOINT_TYPE: KafkaCode = KafkaCode(115);
    pub const UNKNOWN_CONTROLLER_ID: KafkaCode = KafkaCode(116);
    pub const UNKNOWN_SUBSCRIPTION_ID: KafkaCode = KafkaCode(117);
    pub const TELEMETRY_TOO_LARGE: KafkaCode = KafkaCode(118);
    pub const INVALID_REGISTRATION: KafkaCode = KafkaCode(119);
    pub const TRANSACTION_ABORTABLE: KafkaCode = KafkaCode(120);
    pub const INVALID_RECORD_STATE: KafkaCode = KafkaCode(121);
    pub const SHARE_SESSION_NOT_FOUND: KafkaCode = KafkaCode(122);
    pub const INVALID_SHARE_SESSION_EPOCH: KafkaCode = KafkaCode(123);
    pub const FENCED_STATE_EPOCH: KafkaCode = KafkaCode(124);
    pub const INVALID_VOTER_KEY: KafkaCode = KafkaCode(125);
    pub const DUPLICATE_VOTER: KafkaCode = KafkaCode(126);
    pub const VOTER_NOT_FOUND: KafkaCode = KafkaCode(127);
    pub const INVALID_REGULAR_EXPRESSION: KafkaCode = KafkaCode(128);
    pub const REBOOTSTRAP_REQUIRED: KafkaCode = KafkaCode(129);
    pub const STREAMS_INVALID_TOPOLOGY: KafkaCode = KafkaCode(130);
    pub const STREAMS_INVALID_TOPOLOGY_EPOCH: KafkaCode = KafkaCode(131);
    pub const STREAMS_TOPOLOGY_FENCED: KafkaCode = KafkaCode(132);
    pub const SHARE_SESSION_LIMIT_REACHED: KafkaCode = KafkaCode(133);

    fn entry(self) -> Option<&'static (i16, &'static str, bool, &'static str)> {
        let i = usize::try_from(self.0 as i32 - FIRST_CODE as i32).ok()?;
        TABLE.get(i)
    }

    /// Kafka's name for the code, e.g. `"NOT_LEADER_OR_FOLLOWER"`; `"UNKNOWN"` when the code is
    /// newer than this table.
    pub fn name(self) -> &'static str {
        self.entry().map_or("UNKNOWN", |e| e.1)
    }

    /// A short description of what the broker meant.
    pub fn description(self) -> &'static str {
        self.entry()
            .map_or("An error code this client does not know.", |e| e.3)
    }

    /// Whether Kafka classifies the error as transient (retrying the same request may succeed).
    pub fn is_retriable(self) -> bool {
        self.entry().is_some_and(|e| e.2)
    }

    /// True for `NONE` (0).
    pub fn is_ok(self) -> bool {
        self.0 == 0
    }

    /// Whether this code is in Kafka's table.
    pub fn is_known(self) -> bool {
        self.entry().is_some()
    }

    /// Every code this table knows, from -1 upward.
    pub fn all() -> impl Iterator<Item = KafkaCode> {
        TABLE.iter().map(|e| KafkaCode(e.0))
    }
}

impl From<i16> for KafkaCode {
    fn from(code: i16) -> Self {
        KafkaCode(code)
    }
}

impl fmt::Debug for KafkaCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}({})", self.name(), self.0)
    }
}

impl fmt::Display for KafkaCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.name(), self.0, self.description())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_contiguous_and_indexed_by_code() {
        for (i, e) in TABLE.iter().enumerate() {
            assert_eq!(e.0 as i32, i as i32 + FIRST_CODE as i32, "{}", e.1);
        }
        assert_eq!(KafkaCode(133).name(), "SHARE_SESSION_LIMIT_REACHED");
        assert_eq!(KafkaCode(134).name(), "UNKNOWN");
        assert_eq!(KafkaCode(-2).name(), "UNKNOWN");
        assert_eq!(KafkaCode(i16::MIN).name(), "UNKNOWN");
    }
}
