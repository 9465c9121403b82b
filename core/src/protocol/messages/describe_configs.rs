//! DescribeConfigs (key 32): the configuration of a topic or a broker as the broker holds it.
//! The producer never sends it; `rafka doctor` (through `crate::probe`) asks a topic's
//! `min.insync.replicas` with it, to judge `acks=all` against the topic's ISR.
//!
//! Versions 1..=4 (Kafka 4.0 removed v0): v1 adds `include_synonyms` and each entry's source
//! and synonyms, v3 adds `include_documentation` and each entry's type and documentation, v4 is
//! the first flexible version. v2 changes nothing on the wire.

use super::check_version;
use crate::protocol::primitives::{DecodeError, Decoder, WireWrite};

pub const MIN_VERSION: i16 = 1;
pub const MAX_VERSION: i16 = 4;
pub const FIRST_FLEXIBLE_VERSION: i16 = 4;

/// `resource_type` of a topic and of a broker.
pub const RESOURCE_TOPIC: i8 = 2;
pub const RESOURCE_BROKER: i8 = 4;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescribeConfigsResource {
    pub resource_type: i8,
    pub resource_name: String,
    /// The keys to describe; None: every key.
    pub configuration_keys: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescribeConfigsRequest {
    pub resources: Vec<DescribeConfigsResource>,
    pub include_synonyms: bool,
    /// v3+.
    pub include_documentation: bool,
}

impl DescribeConfigsRequest {
    /// Appends the body after [`super::begin_request`]. Panics on a version outside
    /// `MIN_VERSION..=MAX_VERSION`.
    pub fn encode(&self, buf: &mut Vec<u8>, version: i16) {
        assert!((MIN_VERSION..=MAX_VERSION).contains(&version), "DescribeConfigs v{version}");
        let flexible = version >= FIRST_FLEXIBLE_VERSION;
        buf.put_array_len_flex(self.resources.len(), flexible);
        for r in &self.resources {
            buf.put_i8(r.resource_type);
            buf.put_string_flex(&r.resource_name, flexible);
            buf.put_nullable_array_len_flex(r.configuration_keys.as_ref().map(Vec::len), flexible);
            for k in r.configuration_keys.iter().flatten() {
                buf.put_string_flex(k, flexible);
            }
            buf.put_tagged_fields_flex(flexible);
        }
        buf.put_bool(self.include_synonyms);
        if version >= 3 {
            buf.put_bool(self.include_documentation);
        }
        buf.put_tagged_fields_flex(flexible);
    }

    /// Reads a request body (tests and mock brokers).
    pub fn decode(d: &mut Decoder<'_>, version: i16) -> Result<Self, DecodeError> {
        check_version("DescribeConfigsRequest", version, MIN_VERSION, MAX_VERSION)?;
        let flexible = version >= FIRST_FLEXIBLE_VERSION;
        let n = d.array_len_flex("resources", 4, flexible)?;
        let mut resources = Vec::with_capacity(n);
        for _ in 0..n {
            let resource_type = d.i8("resource_type")?;
            let resource_name = d.string_flex("resource_name", flexible)?;
            let configuration_keys = match d.nullable_array_len_flex("configuration_keys", 1, flexible)? {
                None => None,
                Some(m) => Some((0..m).map(|_| d.string_flex("configuration_key", flexible)).collect::<Result<Vec<_>, _>>()?),
            };
            d.skip_tagged_fields_flex(flexible)?;
            resources.push(DescribeConfigsResource { resource_type, resource_name, configuration_keys });
        }
        let include_synonyms = d.bool("include_synonyms")?;
        let include_documentation = if version >= 3 { d.bool("include_documentation")? } else { false };
        d.skip_tagged_fields_flex(flexible)?;
        Ok(DescribeConfigsRequest { resources, include_synonyms, include_documentation })
    }
}

/// One configuration entry. Synonyms, type and documentation are read past, not kept: nothing
/// in rafka reads them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigEntry {
    pub name: String,
    /// None for a sensitive value (the broker hides it).
    pub value: Option<String>,
    pub read_only: bool,
    /// Where the value comes from: 1 topic, 4 static broker config, 5 default, ... (-1 unknown).
    pub config_source: i8,
    pub is_sensitive: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescribeConfigsResult {
    pub error_code: i16,
    pub error_message: Option<String>,
    pub resource_type: i8,
    pub resource_name: String,
    pub configs: Vec<ConfigEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescribeConfigsResponse {
    pub throttle_time_ms: i32,
    pub results: Vec<DescribeConfigsResult>,
}

impl DescribeConfigsResponse {
    /// Reads the body after the response header.
    pub fn decode(d: &mut Decoder<'_>, version: i16) -> Result<Self, DecodeError> {
        check_version("DescribeConfigsResponse", version, MIN_VERSION, MAX_VERSION)?;
        let flexible = version >= FIRST_FLEXIBLE_VERSION;
        let throttle_time_ms = d.i32("throttle_time_ms")?;
        let n = d.array_len_flex("results", 8, flexible)?;
        let mut results = Vec::with_capacity(n);
        for _ in 0..n {
            let error_code = d.i16("error_code")?;
            let error_message = d.nullable_string_flex("error_message", flexible)?;
            let resource_type = d.i8("resource_type")?;
            let resource_name = d.string_flex("resource_name", flexible)?;
            let m = d.array_len_flex("configs", 6, flexible)?;
            let mut configs = Vec::with_capacity(m);
            for _ in 0..m {
                let name = d.string_flex("config name", flexible)?;
                let value = d.nullable_string_flex("config value", flexible)?;
                let read_only = d.bool("read_only")?;
                let config_source = d.i8("config_source")?;
                let is_sensitive = d.bool("is_sensitive")?;
                let synonyms = d.array_len_flex("synonyms", 4, flexible)?;
                for _ in 0..synonyms {
                    d.string_flex("synonym name", flexible)?;
                    d.nullable_string_flex("synonym value", flexible)?;
                    d.i8("synonym source")?;
                    d.skip_tagged_fields_flex(flexible)?;
                }
                if version >= 3 {
                    d.i8("config_type")?;
                    d.nullable_string_flex("documentation", flexible)?;
                }
                d.skip_tagged_fields_flex(flexible)?;
                configs.push(ConfigEntry { name, value, read_only, config_source, is_sensitive });
            }
            d.skip_tagged_fields_flex(flexible)?;
            results.push(DescribeConfigsResult { error_code, error_message, resource_type, resource_name, configs });
        }
        d.skip_tagged_fields_flex(flexible)?;
        Ok(DescribeConfigsResponse { throttle_time_ms, results })
    }

    /// Writes the body (tests and mock brokers), with no synonyms, type 0 and no documentation.
    pub fn encode(&self, buf: &mut Vec<u8>, version: i16) {
        assert!((MIN_VERSION..=MAX_VERSION).contains(&version), "DescribeConfigs v{version}");
        let flexible = version >= FIRST_FLEXIBLE_VERSION;
        buf.put_i32(self.throttle_time_ms);
        buf.put_array_len_flex(self.results.len(), flexible);
        for r in &self.results {
            buf.put_i16(r.error_code);
            buf.put_nullable_string_flex(r.error_message.as_deref(), flexible);
            buf.put_i8(r.resource_type);
            buf.put_string_flex(&r.resource_name, flexible);
            buf.put_array_len_flex(r.configs.len(), flexible);
            for c in &r.configs {
                buf.put_string_flex(&c.name, flexible);
                buf.put_nullable_string_flex(c.value.as_deref(), flexible);
                buf.put_bool(c.read_only);
                buf.put_i8(c.config_source);
                buf.put_bool(c.is_sensitive);
                buf.put_array_len_flex(0, flexible);
                if version >= 3 {
                    buf.put_i8(0);
                    buf.put_nullable_string_flex(None, flexible);
                }
                buf.put_tagged_fields_flex(flexible);
            }
            buf.put_tagged_fields_flex(flexible);
        }
        buf.put_tagged_fields_flex(flexible);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_and_response_round_trip_at_every_version() {
        for v in MIN_VERSION..=MAX_VERSION {
            let req = DescribeConfigsRequest {
                resources: vec![
                    DescribeConfigsResource { resource_type: RESOURCE_TOPIC, resource_name: "t".into(), configuration_keys: Some(vec!["min.insync.replicas".into()]) },
                    DescribeConfigsResource { resource_type: RESOURCE_BROKER, resource_name: "1".into(), configuration_keys: None },
                ],
                include_synonyms: true,
                include_documentation: v >= 3,
            };
            let mut buf = Vec::new();
            req.encode(&mut buf, v);
            let mut d = Decoder::new(&buf);
            assert_eq!(DescribeConfigsRequest::decode(&mut d, v).unwrap(), req, "v{v}");
            assert!(d.is_empty());
            let resp = DescribeConfigsResponse {
                throttle_time_ms: 2,
                results: vec![DescribeConfigsResult {
                    error_code: 0,
                    error_message: None,
                    resource_type: RESOURCE_TOPIC,
                    resource_name: "t".into(),
                    configs: vec![
                        ConfigEntry { name: "min.insync.replicas".into(), value: Some("2".into()), read_only: false, config_source: 1, is_sensitive: false },
                        ConfigEntry { name: "secret".into(), value: None, read_only: true, config_source: 5, is_sensitive: true },
                    ],
                }],
            };
            let mut buf = Vec::new();
            resp.encode(&mut buf, v);
            let mut d = Decoder::new(&buf);
            assert_eq!(DescribeConfigsResponse::decode(&mut d, v).unwrap(), resp, "v{v}");
            assert!(d.is_empty());
            for cut in 0..buf.len() {
                assert!(DescribeConfigsResponse::decode(&mut Decoder::new(&buf[..cut]), v).is_err(), "v{v} cut at {cut}");
            }
        }
    }
}
