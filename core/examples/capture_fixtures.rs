//! Captures the byte fixtures under `tests/fixtures/broker-<version>/` from a real broker.
//! A tool, not a test: it rewrites the fixtures the tests read; see `tests/fixtures/README.md`:
//!
//! ```text
//! RAFKA_BOOTSTRAP=127.0.0.1:39592 RAFKA_FIXTURE_BROKER_VERSION=4.3.1 \
//!   cargo run -p rafka-core --example capture_fixtures
//! ```
//! The topic `rafka-fixture` must exist with 3 partitions and no data.

#[path = "../tests/protocol_support/mod.rs"]
mod protocol_support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::time::Duration;

use protocol_support::{build_batch, fixtures_dir, sample_records, TestRecord};
use rafka_core::protocol::messages::api_versions::ApiVersionsRequest;
use rafka_core::protocol::messages::init_producer_id::{
    InitProducerIdRequest, InitProducerIdResponse,
};
use rafka_core::protocol::messages::metadata::MetadataRequest;
use rafka_core::protocol::messages::produce::ProduceRequestWriter;
use rafka_core::protocol::messages::{
    begin_request, decode_response_header, finish_request, frame_len, response_header_flexible,
    API_KEY_API_VERSIONS, API_KEY_INIT_PRODUCER_ID, API_KEY_METADATA,
};
use rafka_core::protocol::Decoder;

pub const TOPIC: &str = "rafka-fixture";
pub const CLIENT_ID: &str = "rafka-fixture-capture";
/// Fixed record timestamps so the captured requests are reproducible byte for byte.
pub const BASE_TS: i64 = 1_700_000_000_000;

struct Capture {
    stream: TcpStream,
    dir: PathBuf,
    correlation_id: i32,
}

impl Capture {
    fn next_id(&mut self) -> i32 {
        self.correlation_id += 1;
        self.correlation_id
    }

    /// Sends one request frame, reads one response frame, saves both, returns the response.
    fn exchange(&mut self, name: &str, request: &[u8]) -> Vec<u8> {
        self.stream.write_all(request).unwrap();
        let mut prefix = [0u8; 4];
        self.stream.read_exact(&mut prefix).unwrap();
        let n = frame_len(prefix).unwrap();
        let mut frame = prefix.to_vec();
        frame.resize(4 + n, 0);
        self.stream.read_exact(&mut frame[4..]).unwrap();
        std::fs::write(self.dir.join(format!("{name}.request.bin")), request).unwrap();
        std::fs::write(self.dir.join(format!("{name}.response.bin")), &frame).unwrap();
        println!(
            "captured {name}: request {} bytes, response {} bytes",
            request.len(),
            frame.len()
        );
        frame
    }

    fn simple(
        &mut self,
        name: &str,
        api_key: i16,
        version: i16,
        flexible: bool,
        body: impl FnOnce(&mut Vec<u8>),
    ) -> Vec<u8> {
        let mut buf = Vec::new();
        let id = self.next_id();
        let start = begin_request(&mut buf, api_key, version, id, CLIENT_ID, flexible);
        body(&mut buf);
        finish_request(&mut buf, start);
        self.exchange(name, &buf)
    }

    fn produce(
        &mut self,
        name: &str,
        version: i16,
        acks: i16,
        partition: i32,
        batch: &[u8],
    ) -> Vec<u8> {
        let mut buf = Vec::new();
        let id = self.next_id();
        let mut w =
            ProduceRequestWriter::begin(&mut buf, version, id, CLIENT_ID, None, acks, 30_000, 1);
        w.topic(TOPIC, 1, |w| {
            w.partition(partition, batch.len(), |b| b.extend_from_slice(batch))
        });
        w.finish();
        self.exchange(name, &buf)
    }
}

fn main() {
    let addr = std::env::var("RAFKA_BOOTSTRAP").expect("RAFKA_BOOTSTRAP");
    let addr = addr.split(',').next().unwrap().to_owned();
    let version =
        std::env::var("RAFKA_FIXTURE_BROKER_VERSION").expect("RAFKA_FIXTURE_BROKER_VERSION");
    let dir = fixtures_dir().join(format!("broker-{version}"));
    std::fs::create_dir_all(&dir).unwrap();
    let stream = TcpStream::connect(&addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut c = Capture {
        stream,
        dir,
        correlation_id: 0,
    };

    let av = ApiVersionsRequest {
        client_software_name: "rafka".into(),
        client_software_version: "0.1.0".into(),
    };
    c.simple("api_versions_v3", API_KEY_API_VERSIONS, 3, true, |b| {
        av.encode(b, 3)
    });
    c.simple("api_versions_v0", API_KEY_API_VERSIONS, 0, false, |b| {
        av.encode(b, 0)
    });
    // A version no broker knows: the answer is UNSUPPORTED_VERSION in the v0 format.
    c.simple(
        "api_versions_v127_unsupported",
        API_KEY_API_VERSIONS,
        127,
        true,
        |b| av.encode(b, 3),
    );

    let md = MetadataRequest {
        topics: Some(vec![TOPIC.into()]),
        allow_auto_topic_creation: false,
    };
    c.simple("metadata_v12_topic", API_KEY_METADATA, 12, true, |b| {
        md.encode(b, 12)
    });
    c.simple("metadata_v4_topic", API_KEY_METADATA, 4, false, |b| {
        md.encode(b, 4)
    });
    let all = MetadataRequest {
        topics: None,
        allow_auto_topic_creation: false,
    };
    c.simple("metadata_v1_all", API_KEY_METADATA, 1, false, |b| {
        all.encode(b, 1)
    });
    let missing = MetadataRequest {
        topics: Some(vec!["rafka-fixture-missing".into()]),
        allow_auto_topic_creation: false,
    };
    c.simple(
        "metadata_v9_missing_topic",
        API_KEY_METADATA,
        9,
        true,
        |b| missing.encode(b, 9),
    );

    let ip = InitProducerIdRequest {
        transactional_id: None,
        transaction_timeout_ms: 60_000,
        producer_id: -1,
        producer_epoch: -1,
    };
    // A fresh broker may answer COORDINATOR_LOAD_IN_PROGRESS (14) until its producer-id block
    // arrives; retry until it answers NONE, keeping only the last exchange.
    let init = |c: &mut Capture, name: &str, version: i16| {
        for _ in 0..50 {
            let flexible = version >= 2;
            let resp = c.simple(name, API_KEY_INIT_PRODUCER_ID, version, flexible, |b| {
                ip.encode(b, version)
            });
            let mut d = Decoder::new(&resp[4..]);
            decode_response_header(
                &mut d,
                response_header_flexible(API_KEY_INIT_PRODUCER_ID, version),
            )
            .unwrap();
            let r = InitProducerIdResponse::decode(&mut d, version).unwrap();
            if r.error_code == 0 {
                return r;
            }
            println!("{name}: error {}, retrying", r.error_code);
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!("InitProducerId kept failing");
    };
    init(&mut c, "init_producer_id_v0", 0);
    let pid = init(&mut c, "init_producer_id_v5", 5);

    // Idempotent batch, then the very same batch again (a duplicate), then a sequence gap.
    let (batch, _) = build_batch(
        &sample_records(BASE_TS),
        pid.producer_id,
        pid.producer_epoch,
        0,
    );
    c.produce("produce_v12_idempotent", 12, -1, 0, &batch);
    c.produce("produce_v12_duplicate", 12, -1, 0, &batch);
    let (gap, _) = build_batch(
        &sample_records(BASE_TS),
        pid.producer_id,
        pid.producer_epoch,
        42,
    );
    c.produce("produce_v12_out_of_order", 12, -1, 0, &gap);
    // Not idempotent, older versions, other partitions.
    let plain = [TestRecord::new(
        BASE_TS,
        Some(b"v8"),
        Some(b"produced at v8"),
    )];
    let (batch, _) = build_batch(&plain, -1, -1, -1);
    c.produce("produce_v8", 8, 1, 1, &batch);
    let plain = [TestRecord::new(BASE_TS, None, Some(b"produced at v3"))];
    let (batch, _) = build_batch(&plain, -1, -1, -1);
    c.produce("produce_v3", 3, -1, 2, &batch);
    c.produce("produce_v12_unknown_partition", 12, -1, 99, &batch);
}
