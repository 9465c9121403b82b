//! Feeds arbitrary bytes to every response decoder at every version, to the request-side
//! decoders, to the framing helpers and to `decode_record_batches`. Any panic is a bug; errors
//! are expected. Seed corpus: `../tests/fixtures/broker-*/*.bin`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rafka_core::protocol::messages::{
    api_versions, decode_request_header_auto, decode_response_header, frame_len, init_producer_id,
    metadata, produce,
};
use rafka_core::protocol::record_batch::decode_record_batches;
use rafka_core::protocol::Decoder;

fuzz_target!(|data: &[u8]| {
    for v in api_versions::MIN_VERSION..=api_versions::MAX_VERSION {
        let _ = api_versions::ApiVersionsResponse::decode(&mut Decoder::new(data), v);
    }
    for v in metadata::MIN_VERSION..=metadata::MAX_VERSION {
        let _ = metadata::MetadataResponse::decode(&mut Decoder::new(data), v);
    }
    for v in init_producer_id::MIN_VERSION..=init_producer_id::MAX_VERSION {
        let _ = init_producer_id::InitProducerIdResponse::decode(&mut Decoder::new(data), v);
    }
    for v in produce::MIN_VERSION..=produce::MAX_VERSION {
        let _ = produce::ProduceResponse::decode(&mut Decoder::new(data), v);
        let _ = produce::decode_produce_request(&mut Decoder::new(data), v);
    }
    let _ = decode_record_batches(data);
    if data.len() >= 4 {
        let _ = frame_len([data[0], data[1], data[2], data[3]]);
        for flexible in [false, true] {
            let _ = decode_response_header(&mut Decoder::new(&data[4..]), flexible);
        }
        let _ = decode_request_header_auto(&mut Decoder::new(&data[4..]));
    }
});
