//! ApiVersions (key 18): which versions of each API the broker speaks. The first request on
//! every connection.
//!
//! Versions 0-2 have an empty request body; v3 is flexible and adds the client software name and
//! version; v4 changes nothing on the wire (it only lets the broker report features whose
//! minimum version is 0). The response header is always v0, even for flexible versions.
//!
//! # When the broker does not know our version
//! A broker answers an ApiVersions request newer than it supports with `UNSUPPORTED_VERSION`
//! (35) in the **v0** body format, listing in `api_keys` the ApiVersions range it does support
//! (KIP-511). [`ApiVersionsResponse::decode`] detects that error code and reads the body as v0
//! whatever version was asked, so the caller gets a normal response with
//! `error_code == 35`. The caller then takes `version_range(API_KEY_API_VERSIONS)`, picks
//! `min(their max, our MAX_VERSION)` (v0 if the range is missing), and sends a new ApiVersions
//! request at that version on the same connection.

use super::check_version;
use crate::protocol::primitives::{DecodeError, Decoder, WireWrite};

pub const MIN_VERSION: i16 = 0;
pub const MAX_VERSION: i16 = 4;
pub const FIRST_FLEXIBLE_VERSION: i16 = 3;

const UNSUPPORTED_VERSION: i16 = 35;

/// The request. The software name/version are sent from v3 on; Kafka requires them to match
/// `[a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ApiVersionsRequest {
    pub client_software_name: String,
    pub client_software_version: String,
}

impl ApiVersionsRequest {
    /// Appends the body after [`super::begin_request`]. Panics on a version outside
    /// `MIN_VERSION..=MAX_VERSION` (a negotiation bug, not a network input).
    pub fn encode(&self, buf: &mut Vec<u8>, version: i16) {
        assert!(
            (MIN_VERSION..=MAX_VERSION).contains(&version),
            "ApiVersions v{version}"
        );
        if version >= 3 {
            buf.put_compact_string(&self.client_software_name);
            buf.put_compact_string(&self.client_software_version);
            buf.put_empty_tagged_fields();
        }
    }

    /// Reads a request body (tests and mock brokers).
    pub fn decode(d: &mut Decoder<'_>, version: i16) -> Result<Self, DecodeError> {
        check_version("ApiVersionsRequest", version, MIN_VERSION, MAX_VERSION)?;
        let mut r = ApiVersionsRequest::default();
        if version >= 3 {
            r.client_software_name = d.compact_string("client_software_name")?;
            r.client_software_version = d.compact_string("client_software_version")?;
            d.skip_tagged_fields()?;
        }
        Ok(r)
    }
}

/// One API's supported range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiVersionRange {
    pub api_key: i16,
    pub min_version: i16,
    pub max_version: i16,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ApiVersionsResponse {
    pub error_code: i16,
    pub api_keys: Vec<ApiVersionRange>,
    /// 0 before v1.
    pub throttle_time_ms: i32,
    /// v3+ (tagged field 2): the cluster-wide feature levels the controller finalized, such as
    /// `transaction.version` (2 on Kafka 4.x clusters that use KIP-890's new protocol).
    pub finalized_features: Vec<FinalizedFeature>,
}

/// A finalized feature: its name and the range of levels in force.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FinalizedFeature {
    pub name: String,
    pub max_version_level: i16,
    pub min_version_level: i16,
}

impl ApiVersionsResponse {
    /// The broker's `(min, max)` for `api_key`, if it supports the API at all.
    pub fn version_range(&self, api_key: i16) -> Option<(i16, i16)> {
        self.api_keys
            .iter()
            .find(|r| r.api_key == api_key)
            .map(|r| (r.min_version, r.max_version))
    }

    /// The finalized level of feature `name` (its max level), if the broker reported one.
    pub fn finalized_level(&self, name: &str) -> Option<i16> {
        self.finalized_features.iter().find(|f| f.name == name).map(|f| f.max_version_level)
    }

    /// The highest version both sides speak, given our `(min, max)`; `None` if the ranges don't
    /// overlap or the broker lacks the API.
    pub fn negotiate(&self, api_key: i16, ours: (i16, i16)) -> Option<i16> {
        let (min, max) = self.version_range(api_key)?;
        let v = max.min(ours.1);
        (v >= min.max(ours.0)).then_some(v)
    }

    /// Reads the body (after the v0 response header) of a response to a request sent at
    /// `version`. An `UNSUPPORTED_VERSION` answer is read in the v0 format the broker uses for
    /// it; see the module docs for the retry. `d` should hold exactly the body (the rest of the
    /// frame), which is what tells the two formats apart.
    pub fn decode(d: &mut Decoder<'_>, version: i16) -> Result<Self, DecodeError> {
        check_version("ApiVersionsResponse", version, MIN_VERSION, MAX_VERSION)?;
        let mut peek = d.clone();
        let error_code = peek.i16("error_code")?;
        if error_code == UNSUPPORTED_VERSION && version > 0 {
            let mut v0 = d.clone();
            // Taken only when the v0 reading consumes the whole body; otherwise the broker did
            // answer in the requested format and the normal path below reads it.
            if let Ok(r) = Self::decode_at(&mut v0, 0) {
                if v0.is_empty() {
                    *d = v0;
                    return Ok(r);
                }
            }
        }
        Self::decode_at(d, version)
    }

    fn decode_at(d: &mut Decoder<'_>, version: i16) -> Result<Self, DecodeError> {
        let flexible = version >= FIRST_FLEXIBLE_VERSION;
        let error_code = d.i16("error_code")?;
        let n = d.array_len_flex("api_keys", 6, flexible)?;
        let mut api_keys = Vec::with_capacity(n);
        for _ in 0..n {
            api_keys.push(ApiVersionRange {
                api_key: d.i16("api_keys.api_key")?,
                min_version: d.i16("api_keys.min_version")?,
                max_version: d.i16("api_keys.max_version")?,
            });
            d.skip_tagged_fields_flex(flexible)?;
        }
        let throttle_time_ms = if version >= 1 {
            d.i32("throttle_time_ms")?
        } else {
            0
        };
        // Of the tagged fields (SupportedFeatures, FinalizedFeaturesEpoch, FinalizedFeatures,
        // ZkMigrationReady) a producer needs only the finalized features (tag 2).
        let mut finalized_features = Vec::new();
        if flexible {
            d.tagged_fields(|tag, data| {
                if tag == FINALIZED_FEATURES_TAG {
                    finalized_features = decode_finalized_features(data)?;
                }
                Ok(())
            })?;
        }
        Ok(ApiVersionsResponse {
            error_code,
            api_keys,
            throttle_time_ms,
            finalized_features,
        })
    }

    /// Writes the body (tests and mock brokers).
    pub fn encode(&self, buf: &mut Vec<u8>, version: i16) {
        assert!(
            (MIN_VERSION..=MAX_VERSION).contains(&version),
            "ApiVersions v{version}"
        );
        let flexible = version >= FIRST_FLEXIBLE_VERSION;
        buf.put_i16(self.error_code);
        buf.put_array_len_flex(self.api_keys.len(), flexible);
        for k in &self.api_keys {
            buf.put_i16(k.api_key);
            buf.put_i16(k.min_version);
            buf.put_i16(k.max_version);
            buf.put_tagged_fields_flex(flexible);
        }
        if version >= 1 {
            buf.put_i32(self.throttle_time_ms);
        }
        if flexible && !self.finalized_features.is_empty() {
            let mut field = Vec::new();
            field.put_compact_array_len(self.finalized_features.len());
            for f in &self.finalized_features {
                field.put_compact_string(&f.name);
                field.put_i16(f.max_version_level);
                field.put_i16(f.min_version_level);
                field.put_empty_tagged_fields();
            }
            buf.put_uvarint(1);
            buf.put_uvarint(FINALIZED_FEATURES_TAG);
            buf.put_uvarint(field.len() as u32);
            buf.extend_from_slice(&field);
        } else {
            buf.put_tagged_fields_flex(flexible);
        }
    }
}

const FINALIZED_FEATURES_TAG: u32 = 2;

fn decode_finalized_features(data: &[u8]) -> Result<Vec<FinalizedFeature>, DecodeError> {
    let mut d = Decoder::new(data);
    // name (1) + max (2) + min (2) + tags (1)
    let n = d.compact_array_len("finalized_features", 6)?;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let name = d.compact_string("finalized_features.name")?;
        let max_version_level = d.i16("finalized_features.max_version_level")?;
        let min_version_level = d.i16("finalized_features.min_version_level")?;
        d.skip_tagged_fields()?;
        out.push(FinalizedFeature { name, max_version_level, min_version_level });
    }
    Ok(out)
}

#[cfg(test)]
mod finalized_feature_tests {
    use super::*;

    #[test]
    fn finalized_features_round_trip_from_v3_and_are_absent_before() {
        for v in MIN_VERSION..=MAX_VERSION {
            let resp = ApiVersionsResponse {
                error_code: 0,
                api_keys: vec![ApiVersionRange { api_key: 26, min_version: 0, max_version: 5 }],
                throttle_time_ms: 0,
                finalized_features: if v >= FIRST_FLEXIBLE_VERSION {
                    vec![FinalizedFeature { name: "transaction.version".into(), max_version_level: 2, min_version_level: 2 }]
                } else {
                    vec![]
                },
            };
            let mut buf = Vec::new();
            resp.encode(&mut buf, v);
            let mut d = Decoder::new(&buf);
            let back = ApiVersionsResponse::decode(&mut d, v).unwrap();
            assert_eq!(back, resp, "v{v}");
            assert!(d.is_empty());
            let want = (v >= FIRST_FLEXIBLE_VERSION).then_some(2);
            assert_eq!(back.finalized_level("transaction.version"), want);
        }
    }

    #[test]
    fn a_truncated_finalized_features_field_is_an_error() {
        let mut field = Vec::new();
        field.put_uvarint(1_000_000);
        assert!(decode_finalized_features(&field).is_err());
    }
}
