use super::*;

mod keys {
    use super::*;

    fn base() -> Config {
        let mut c = Config::new();
        c.set("bootstrap.servers", "127.0.0.1:9092").unwrap();
        c
    }

    #[test]
    fn defaults_are_the_java_4x_defaults() {
        let c = base().build().unwrap();
        assert_eq!(c.acks, Acks::All);
        assert!(c.enable_idempotence);
        assert_eq!(c.batch_size, 16384);
        assert_eq!(c.linger, Duration::from_millis(5));
        assert_eq!(c.buffer_memory, 33_554_432);
        assert_eq!(c.max_block, Duration::from_secs(60));
        assert_eq!(c.delivery_timeout, Duration::from_secs(120));
        assert_eq!(c.request_timeout, Duration::from_secs(30));
        assert_eq!(c.retries, i32::MAX as u32);
        assert_eq!((c.retry_backoff, c.retry_backoff_max), (Duration::from_millis(100), Duration::from_secs(1)));
        assert_eq!(c.max_in_flight, 5);
        assert_eq!(c.max_request_size, 1_048_576);
        assert_eq!(c.connections_max_idle, Duration::from_secs(540));
        assert_eq!(c.metadata_max_age, Duration::from_secs(300));
    }

    #[test]
    fn librdkafka_names_set_the_same_settings() {
        let mut c = Config::new();
        c.set("metadata.broker.list", "a:1,[::1]:2").unwrap();
        c.set("queue.buffering.max.ms", "20").unwrap();
        c.set("message.timeout.ms", "60000").unwrap();
        c.set("request.required.acks", "1").unwrap();
        c.set("queue.buffering.max.kbytes", "1024").unwrap();
        c.set("message.max.bytes", "2000000").unwrap();
        c.set("max.in.flight", "3").unwrap();
        let p = c.build().unwrap();
        assert_eq!(p.bootstrap_servers, vec![("a".to_string(), 1), ("::1".to_string(), 2)]);
        assert_eq!(p.linger, Duration::from_millis(20));
        assert_eq!(p.delivery_timeout, Duration::from_secs(60));
        assert_eq!(p.acks, Acks::Leader);
        assert_eq!(p.buffer_memory, 1024 * 1024);
        assert_eq!(p.max_request_size, 2_000_000);
        assert_eq!(p.max_in_flight, 3);
        assert_eq!(c.get("linger.ms").as_deref(), Some("20"));
        assert_eq!(c.get("buffer.memory").as_deref(), Some("1048576"));
    }

    #[test]
    fn unknown_key_names_the_key_and_the_closest_known_one() {
        let e = base().set("linger.mss", "5").unwrap_err();
        assert_eq!(e, ConfigError::Unknown { key: "linger.mss".into(), suggestion: Some("linger.ms".into()) });
        assert!(e.to_string().contains("'linger.mss'") && e.to_string().contains("'linger.ms'"));
        let e = base().set("completely.different", "5").unwrap_err();
        assert_eq!(e, ConfigError::Unknown { key: "completely.different".into(), suggestion: None });
    }

    #[test]
    fn bad_values_name_key_value_and_what_is_expected() {
        let e = base().set("acks", "2").unwrap_err().to_string();
        assert!(e.contains("'acks'") && e.contains("'2'") && e.contains("all, -1, 0, 1"), "{e}");
        let e = base().set("batch.size", "-5").unwrap_err().to_string();
        assert!(e.contains("batch.size") && e.contains("integer from 1"), "{e}");
        let e = base().set("enable.idempotence", "yes").unwrap_err().to_string();
        assert!(e.contains("true or false"), "{e}");
        let e = base().set("bootstrap.servers", "localhost").unwrap_err().to_string();
        assert!(e.contains("no port"), "{e}");
        let e = base().set("compression.type", "brotli").unwrap_err().to_string();
        assert!(e.contains("none, gzip, snappy, lz4, zstd"), "{e}");
        let e = base().set("security.protocol", "SASL_TLS").unwrap_err().to_string();
        assert!(e.contains("one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL"), "{e}");
    }

    #[test]
    fn explicit_idempotence_conflicts_fail_as_in_java() {
        let mut c = base();
        c.set("enable.idempotence", "true").unwrap().set("acks", "1").unwrap();
        assert!(matches!(c.build(), Err(ConfigError::Conflict(m)) if m.contains("acks=all")));
        let mut c = base();
        c.set("enable.idempotence", "true").unwrap().set("max.in.flight.requests.per.connection", "6").unwrap();
        assert!(matches!(c.build(), Err(ConfigError::Conflict(m)) if m.contains("<= 5")));
        let mut c = base();
        c.set("enable.idempotence", "true").unwrap().set("retries", "0").unwrap();
        assert!(matches!(c.build(), Err(ConfigError::Conflict(m)) if m.contains("retries")));
    }

    #[test]
    fn idempotence_left_at_default_turns_off_quietly_when_ruled_out() {
        let mut c = base();
        c.set("acks", "1").unwrap();
        assert!(!c.build().unwrap().enable_idempotence);
        let mut c = base();
        c.set("max.in.flight.requests.per.connection", "10").unwrap();
        assert!(!c.build().unwrap().enable_idempotence);
    }

    #[test]
    fn delivery_timeout_shorter_than_linger_plus_request_timeout_is_a_conflict() {
        let mut c = base();
        c.set("delivery.timeout.ms", "1000").unwrap().set("linger.ms", "500").unwrap().set("request.timeout.ms", "600").unwrap();
        let e = c.build().unwrap_err().to_string();
        assert!(e.contains("delivery.timeout.ms (1000)") && e.contains("1100"), "{e}");
    }

    #[test]
    fn missing_bootstrap_servers_is_an_error() {
        let e = Config::new().build().unwrap_err().to_string();
        assert!(e.contains("bootstrap.servers") && e.contains("required"), "{e}");
    }
}


mod compression_tests {
    use super::*;

    fn with(pairs: &[(&str, &str)]) -> Result<ProducerConfig, ConfigError> {
        let mut c = Config::new();
        c.set("bootstrap.servers", "127.0.0.1:9092").unwrap();
        for (k, v) in pairs {
            c.set(k, v)?;
        }
        c.build()
    }

    #[test]
    fn every_codec_is_accepted_under_both_names() {
        for codec in Codec::ALL {
            assert_eq!(with(&[("compression.type", codec.name())]).unwrap().compression.codec, codec);
            assert_eq!(with(&[("compression.codec", &codec.name().to_uppercase())]).unwrap().compression.codec, codec);
        }
        let e = with(&[("compression.type", "brotli")]).unwrap_err().to_string();
        assert!(e.contains("'brotli'") && e.contains("one of none, gzip, snappy, lz4, zstd"), "{e}");
    }

    #[test]
    fn levels_default_to_the_java_defaults() {
        let level = |codec| with(&[("compression.type", codec)]).unwrap().compression.level;
        assert_eq!(level("gzip"), -1);
        assert_eq!(level("lz4"), 9);
        assert_eq!(level("zstd"), 3);
    }

    #[test]
    fn java_level_keys_set_the_level_of_their_codec() {
        let c = with(&[("compression.type", "zstd"), ("compression.zstd.level", "-5"), ("compression.gzip.level", "9")]).unwrap();
        assert_eq!(c.compression, Compression { codec: Codec::Zstd, level: -5 });
        let c = with(&[("compression.type", "gzip"), ("compression.gzip.level", "1")]).unwrap();
        assert_eq!(c.compression.level, 1);
        let c = with(&[("compression.type", "lz4"), ("compression.lz4.level", "17")]).unwrap();
        assert_eq!(c.compression.level, 17);
    }

    #[test]
    fn out_of_range_levels_name_the_key_the_value_and_the_range() {
        for (key, value, range) in [
            ("compression.gzip.level", "0", "from 1 to 9, or -1"),
            ("compression.gzip.level", "10", "from 1 to 9, or -1"),
            ("compression.lz4.level", "0", "from 1 to 17"),
            ("compression.lz4.level", "18", "from 1 to 17"),
            ("compression.zstd.level", "23", "to 22"),
            ("compression.zstd.level", "-999999999", "to 22"),
        ] {
            let e = with(&[(key, value)]).unwrap_err().to_string();
            assert!(e.contains(key) && e.contains(&format!("'{value}'")) && e.contains(range), "{e}");
        }
    }

    #[test]
    fn librdkafka_compression_level_applies_to_the_chosen_codec() {
        let c = with(&[("compression.codec", "gzip"), ("compression.level", "9")]).unwrap();
        assert_eq!(c.compression, Compression { codec: Codec::Gzip, level: 9 });
        let c = with(&[("compression.level", "12"), ("compression.codec", "lz4")]).unwrap();
        assert_eq!(c.compression.level, 12);
        let c = with(&[("compression.codec", "zstd"), ("compression.level", "-1")]).unwrap();
        assert_eq!(c.compression.level, 3, "-1 is the codec's default");
        let c = with(&[("compression.codec", "snappy"), ("compression.level", "0")]).unwrap();
        assert_eq!(c.compression.codec, Codec::Snappy);
    }

    #[test]
    fn librdkafka_compression_level_out_of_the_codecs_range_is_an_error() {
        let e = with(&[("compression.codec", "gzip"), ("compression.level", "12")]).unwrap_err().to_string();
        assert!(e.contains("compression.level") && e.contains("'12'") && e.contains("from 1 to 9") && e.contains("gzip"), "{e}");
        let e = with(&[("compression.codec", "snappy"), ("compression.level", "3")]).unwrap_err().to_string();
        assert!(e.contains("'3'") && e.contains("snappy has no levels"), "{e}");
        let e = with(&[("compression.level", "fast")]).unwrap_err().to_string();
        assert!(e.contains("compression.level") && e.contains("an integer"), "{e}");
    }

    #[test]
    fn two_different_levels_for_the_same_codec_conflict() {
        let e = with(&[("compression.type", "zstd"), ("compression.zstd.level", "5"), ("compression.level", "7")]).unwrap_err().to_string();
        assert!(e.contains("compression.zstd.level=5") && e.contains("compression.level=7"), "{e}");
        assert!(with(&[("compression.type", "zstd"), ("compression.zstd.level", "5"), ("compression.level", "5")]).is_ok());
    }
}


mod security_tests {
    use super::*;

    fn base() -> Config {
        let mut c = Config::new();
        c.set("bootstrap.servers", "127.0.0.1:9092").unwrap();
        c
    }

    #[test]
    fn jaas_config_gives_the_credentials() {
        let mut c = base();
        c.set("security.protocol", "SASL_PLAINTEXT").unwrap();
        c.set("sasl.mechanism", "SCRAM-SHA-512").unwrap();
        c.set("sasl.jaas.config", r#"org.apache.kafka.common.security.scram.ScramLoginModule required username="alice" password="s3cr=t x";"#).unwrap();
        let s = c.build().unwrap().security.sasl.unwrap();
        assert_eq!(s.mechanism, SaslMechanism::ScramSha512);
        assert_eq!(s.username, "alice");
        assert_eq!(s.password.expose(), "s3cr=t x");
    }

    #[test]
    fn secrets_never_show_in_debug_output() {
        let mut c = base();
        c.set("security.protocol", "SASL_PLAINTEXT").unwrap();
        c.set("sasl.mechanisms", "PLAIN").unwrap();
        c.set("sasl.username", "alice").unwrap();
        c.set("sasl.password", "hunter2").unwrap();
        c.set("sasl.jaas.config", r#"x.PlainLoginModule required username="a" password="jaaspw";"#).unwrap();
        let built = c.build().unwrap();
        for text in [format!("{c:?}"), format!("{built:?}")] {
            assert!(!text.contains("hunter2") && !text.contains("jaaspw"), "{text}");
            assert!(text.contains("[redacted]"), "{text}");
        }
    }

    #[test]
    fn gssapi_is_refused_with_a_clear_error() {
        let e = base().set("sasl.mechanism", "GSSAPI").unwrap_err().to_string();
        assert!(e.contains("GSSAPI (Kerberos) is not supported"), "{e}");
        let mut c = base();
        c.set("security.protocol", "SASL_PLAINTEXT").unwrap();
        let e = c.build().unwrap_err().to_string();
        assert!(e.contains("GSSAPI, is not supported"), "{e}");
    }

    #[test]
    fn a_mechanism_without_credentials_is_a_config_error() {
        let mut c = base();
        c.set("security.protocol", "sasl_plaintext").unwrap();
        c.set("sasl.mechanism", "PLAIN").unwrap();
        assert!(c.build().unwrap_err().to_string().contains("needs a username and a password"));
    }

    #[test]
    fn unsupported_tls_forms_say_so() {
        let e = base().set("ssl.truststore.type", "JKS").unwrap_err().to_string();
        assert!(e.contains("not supported yet"), "{e}");
    }
}
