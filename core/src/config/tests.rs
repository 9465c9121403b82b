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

mod every_key {
    use super::*;

    fn base() -> Config {
        let mut c = Config::new();
        c.set("bootstrap.servers", "127.0.0.1:9092").unwrap();
        c
    }

    /// librdkafka's producer-relevant keys (CONFIGURATION.md of the current release: global
    /// properties marked `*` or `P`, topic properties marked `P`).
    const LIBRDKAFKA: &[&str] = &[
        "builtin.features", "client.id", "metadata.broker.list", "bootstrap.servers", "message.max.bytes", "message.copy.max.bytes", "receive.message.max.bytes",
        "max.in.flight.requests.per.connection", "max.in.flight", "metadata.recovery.strategy", "metadata.recovery.rebootstrap.trigger.ms",
        "topic.metadata.refresh.interval.ms", "metadata.max.age.ms", "topic.metadata.refresh.fast.interval.ms", "topic.metadata.refresh.fast.cnt",
        "topic.metadata.refresh.sparse", "topic.metadata.propagation.max.ms", "topic.blacklist", "debug", "socket.timeout.ms", "socket.blocking.max.ms",
        "socket.send.buffer.bytes", "socket.receive.buffer.bytes", "socket.keepalive.enable", "socket.nagle.disable", "socket.max.fails", "broker.address.ttl",
        "broker.address.family", "socket.connection.setup.timeout.ms", "connections.max.idle.ms", "reconnect.backoff.jitter.ms", "reconnect.backoff.ms",
        "reconnect.backoff.max.ms", "statistics.interval.ms", "enabled_events", "error_cb", "throttle_cb", "stats_cb", "log_cb", "log_level", "log.queue",
        "log.thread.name", "enable.random.seed", "log.connection.close", "background_event_cb", "socket_cb", "connect_cb", "closesocket_cb", "open_cb",
        "resolve_cb", "opaque", "default_topic_conf", "internal.termination.signal", "api.version.request", "api.version.request.timeout.ms",
        "api.version.fallback.ms", "broker.version.fallback", "allow.auto.create.topics", "security.protocol", "ssl.cipher.suites", "ssl.curves.list",
        "ssl.sigalgs.list", "ssl.key.location", "ssl.key.password", "ssl.key.pem", "ssl_key", "ssl.certificate.location", "ssl.certificate.pem",
        "ssl_certificate", "ssl.ca.location", "https.ca.location", "https.ca.pem", "ssl.ca.pem", "ssl_ca", "ssl.ca.certificate.stores", "ssl.crl.location",
        "ssl.keystore.location", "ssl.keystore.password", "ssl.providers", "ssl.engine.location", "ssl.engine.id", "ssl_engine_callback_data",
        "enable.ssl.certificate.verification", "ssl.endpoint.identification.algorithm", "ssl.certificate.verify_cb", "sasl.mechanisms", "sasl.mechanism",
        "sasl.kerberos.service.name", "sasl.kerberos.principal", "sasl.kerberos.kinit.cmd", "sasl.kerberos.keytab", "sasl.kerberos.min.time.before.relogin",
        "sasl.username", "sasl.password", "sasl.oauthbearer.config", "enable.sasl.oauthbearer.unsecure.jwt", "oauthbearer_token_refresh_cb",
        "sasl.oauthbearer.method", "sasl.oauthbearer.client.id", "sasl.oauthbearer.client.credentials.client.id",
        "sasl.oauthbearer.client.credentials.client.secret", "sasl.oauthbearer.client.secret", "sasl.oauthbearer.scope", "sasl.oauthbearer.extensions",
        "sasl.oauthbearer.token.endpoint.url", "sasl.oauthbearer.grant.type", "sasl.oauthbearer.assertion.algorithm",
        "sasl.oauthbearer.assertion.private.key.file", "sasl.oauthbearer.assertion.private.key.passphrase", "sasl.oauthbearer.assertion.private.key.pem",
        "sasl.oauthbearer.assertion.file", "sasl.oauthbearer.assertion.claim.aud", "sasl.oauthbearer.assertion.claim.exp.seconds",
        "sasl.oauthbearer.assertion.claim.iss", "sasl.oauthbearer.assertion.claim.jti.include", "sasl.oauthbearer.assertion.claim.nbf.seconds",
        "sasl.oauthbearer.assertion.claim.sub", "sasl.oauthbearer.assertion.jwt.template.file", "sasl.oauthbearer.metadata.authentication.type",
        "plugin.library.paths", "interceptors", "client.rack", "transactional.id", "transaction.timeout.ms", "enable.idempotence",
        "enable.gapless.guarantee", "queue.buffering.max.messages", "queue.buffering.max.kbytes", "queue.buffering.max.ms", "linger.ms",
        "message.send.max.retries", "retries", "retry.backoff.ms", "retry.backoff.max.ms", "queue.buffering.backpressure.threshold", "compression.codec",
        "compression.type", "batch.num.messages", "batch.size", "delivery.report.only.error", "dr_cb", "dr_msg_cb", "sticky.partitioning.linger.ms",
        "client.dns.lookup", "enable.metrics.push",
        // Topic properties.
        "request.required.acks", "acks", "request.timeout.ms", "message.timeout.ms", "delivery.timeout.ms", "queuing.strategy", "produce.offset.report",
        "partitioner", "partitioner_cb", "msg_order_cmp", "compression.level",
    ];

    /// `ProducerConfig.configNames()` of kafka-clients 4.3.1 (ProducerConfig, SslConfigs,
    /// SaslConfigs, and the common client keys).
    const JAVA: &[&str] = &[
        "acks", "batch.size", "bootstrap.servers", "buffer.memory", "client.dns.lookup", "client.id", "compression.gzip.level", "compression.lz4.level",
        "compression.type", "compression.zstd.level", "config.providers", "connections.max.idle.ms", "delivery.timeout.ms", "enable.idempotence",
        "enable.metrics.push", "interceptor.classes", "key.serializer", "linger.ms", "max.block.ms", "max.in.flight.requests.per.connection",
        "max.request.size", "metadata.max.age.ms", "metadata.max.idle.ms", "metadata.recovery.rebootstrap.trigger.ms", "metadata.recovery.strategy",
        "metric.reporters", "metrics.num.samples", "metrics.recording.level", "metrics.sample.window.ms", "partitioner.adaptive.partitioning.enable",
        "partitioner.availability.timeout.ms", "partitioner.class", "partitioner.ignore.keys", "receive.buffer.bytes", "reconnect.backoff.max.ms",
        "reconnect.backoff.ms", "request.timeout.ms", "retries", "retry.backoff.max.ms", "retry.backoff.ms", "sasl.client.callback.handler.class",
        "sasl.jaas.config", "sasl.kerberos.kinit.cmd", "sasl.kerberos.min.time.before.relogin", "sasl.kerberos.service.name",
        "sasl.kerberos.ticket.renew.jitter", "sasl.kerberos.ticket.renew.window.factor", "sasl.login.callback.handler.class", "sasl.login.class",
        "sasl.login.connect.timeout.ms", "sasl.login.read.timeout.ms", "sasl.login.refresh.buffer.seconds", "sasl.login.refresh.min.period.seconds",
        "sasl.login.refresh.window.factor", "sasl.login.refresh.window.jitter", "sasl.login.retry.backoff.max.ms", "sasl.login.retry.backoff.ms",
        "sasl.mechanism", "sasl.oauthbearer.assertion.algorithm", "sasl.oauthbearer.assertion.claim.aud", "sasl.oauthbearer.assertion.claim.exp.seconds",
        "sasl.oauthbearer.assertion.claim.iss", "sasl.oauthbearer.assertion.claim.jti.include", "sasl.oauthbearer.assertion.claim.nbf.seconds",
        "sasl.oauthbearer.assertion.claim.sub", "sasl.oauthbearer.assertion.file", "sasl.oauthbearer.assertion.private.key.file",
        "sasl.oauthbearer.assertion.private.key.passphrase", "sasl.oauthbearer.assertion.template.file", "sasl.oauthbearer.client.credentials.client.id",
        "sasl.oauthbearer.client.credentials.client.secret", "sasl.oauthbearer.clock.skew.seconds", "sasl.oauthbearer.expected.audience",
        "sasl.oauthbearer.expected.issuer", "sasl.oauthbearer.header.urlencode", "sasl.oauthbearer.jwks.endpoint.refresh.ms",
        "sasl.oauthbearer.jwks.endpoint.retry.backoff.max.ms", "sasl.oauthbearer.jwks.endpoint.retry.backoff.ms", "sasl.oauthbearer.jwks.endpoint.url",
        "sasl.oauthbearer.jwt.retriever.class", "sasl.oauthbearer.jwt.validator.class", "sasl.oauthbearer.scope", "sasl.oauthbearer.scope.claim.name",
        "sasl.oauthbearer.sub.claim.name", "sasl.oauthbearer.token.endpoint.url", "security.protocol", "security.providers", "send.buffer.bytes",
        "socket.connection.setup.timeout.max.ms", "socket.connection.setup.timeout.ms", "ssl.cipher.suites", "ssl.enabled.protocols",
        "ssl.endpoint.identification.algorithm", "ssl.engine.factory.class", "ssl.key.password", "ssl.keymanager.algorithm",
        "ssl.keystore.certificate.chain", "ssl.keystore.key", "ssl.keystore.location", "ssl.keystore.password", "ssl.keystore.type", "ssl.protocol",
        "ssl.provider", "ssl.secure.random.implementation", "ssl.trustmanager.algorithm", "ssl.truststore.certificates", "ssl.truststore.location",
        "ssl.truststore.password", "ssl.truststore.type", "transaction.timeout.ms", "transaction.two.phase.commit.enable", "transactional.id",
        "value.serializer",
    ];

    #[test]
    fn every_key_of_librdkafka_and_the_java_client_is_in_the_table() {
        let missing: Vec<&&str> = LIBRDKAFKA.iter().chain(JAVA).filter(|k| find_key(k).is_none()).collect();
        assert!(missing.is_empty(), "keys with no row: {missing:?}");
        for k in LIBRDKAFKA.iter().chain(JAVA) {
            if let Err(e) = base().set(k, "x") {
                assert!(!matches!(e, ConfigError::Unknown { .. }), "{k}: {e}");
            }
        }
    }

    #[test]
    fn no_effect_keys_are_accepted_with_any_value() {
        for k in KEYS.iter().filter(|k| matches!(k.kind, Kind::NoEffect(_))) {
            base().set(k.name, "whatever").unwrap_or_else(|e| panic!("{}: {e}", k.name));
        }
        let mut c = base();
        c.set("api.version.request", "false").unwrap().set("message.copy.max.bytes", "65535").unwrap();
        c.build().unwrap();
    }

    #[test]
    fn keys_of_missing_features_name_the_feature() {
        for (key, feature) in [
            ("transaction.two.phase.commit.enable", "two-phase commit"),
            ("sasl.kerberos.keytab", "GSSAPI (Kerberos)"),
            ("sasl.kerberos.service.name", "GSSAPI (Kerberos)"),
            ("sasl.oauthbearer.token.endpoint.url", "OIDC token endpoint"),
            ("sasl.oauthbearer.method", "OIDC"),
            ("error_cb", "rafka_conf_set_error_cb"),
            ("key.serializer", "Java binding"),
            ("dr_msg_cb", "C API"),
        ] {
            let e = base().set(key, "1").unwrap_err();
            assert!(matches!(e, ConfigError::Unsupported { .. }), "{key}: {e:?}");
            let text = e.to_string();
            assert!(text.contains(key) && text.contains(feature) && !text.contains("unknown"), "{key}: {text}");
        }
    }

    #[test]
    fn small_message_timeout_caps_the_request_timeout() {
        let mut c = base();
        c.set("message.timeout.ms", "3000").unwrap();
        let p = c.build().unwrap();
        assert_eq!(p.delivery_timeout, Duration::from_millis(3000));
        assert_eq!(p.request_timeout, Duration::from_millis(3000 - 5), "message.timeout.ms - linger.ms");
        let mut c = base();
        c.set("message.timeout.ms", "5").unwrap();
        let e = c.build().unwrap_err().to_string();
        assert!(e.contains("message.timeout.ms (5)") && e.contains("linger.ms (5, the default)"), "{e}");
        let mut c = base();
        c.set("message.timeout.ms", "0").unwrap();
        assert!(c.build().unwrap().delivery_timeout >= Duration::from_secs(86400 * 24), "0: no limit");
    }

    #[test]
    fn a_refused_timeout_combination_names_the_keys_as_set() {
        let mut c = base();
        c.set("delivery.timeout.ms", "3000").unwrap();
        c.set("socket.timeout.ms", "5000").unwrap();
        c.set("queue.buffering.max.ms", "10").unwrap();
        let e = c.build().unwrap_err().to_string();
        assert!(e.contains("delivery.timeout.ms (3000)") && e.contains("queue.buffering.max.ms (10)") && e.contains("socket.timeout.ms (5000)"), "{e}");
        let mut c = base();
        c.set("delivery.timeout.ms", "3000").unwrap();
        let e = c.build().unwrap_err().to_string();
        assert!(e.contains("linger.ms (5, the default)") && e.contains("request.timeout.ms (30000, the default)"), "{e}");
        // Left at its default, delivery.timeout.ms grows to fit (Java).
        let mut c = base();
        c.set("request.timeout.ms", "200000").unwrap();
        assert_eq!(c.build().unwrap().delivery_timeout, Duration::from_millis(200_005));
    }

    #[test]
    fn new_settings_reach_the_typed_config() {
        let mut c = base();
        for (k, v) in [
            ("queue.buffering.max.messages", "7"),
            ("delivery.report.only.error", "true"),
            ("socket.keepalive.enable", "true"),
            ("socket.nagle.disable", "false"),
            ("broker.address.family", "v4"),
            ("metadata.recovery.strategy", "none"),
            ("partitioner.availability.timeout.ms", "250"),
            ("sticky.partitioning.linger.ms", "20"),
            ("metadata.max.idle.ms", "6000"),
            ("client.rack", "use1-az1"),
            ("partitioner", "fnv1a_random"),
            ("socket.send.buffer.bytes", "0"),
        ] {
            c.set(k, v).unwrap();
        }
        let p = c.build().unwrap();
        assert_eq!(p.queue_buffering_max_messages, 7);
        assert!(p.delivery_report_only_error && p.socket_keepalive && !p.socket_nodelay && !p.metadata_rebootstrap);
        assert_eq!(p.broker_address_family, AddressFamily::V4);
        assert_eq!(p.partitioner_availability_timeout, Duration::from_millis(250));
        assert_eq!(p.sticky_linger, Some(Duration::from_millis(20)));
        assert_eq!(p.metadata_max_idle, Duration::from_secs(6));
        assert_eq!(p.client_rack, "use1-az1");
        assert_eq!(p.partitioner, PartitionerKind::Fnv1aRandom);
        assert_eq!(p.send_buffer_bytes, 0);
        let d = base().build().unwrap();
        assert_eq!(d.queue_buffering_max_messages, 0, "no limit unless set (Java)");
        assert!(d.socket_nodelay && !d.socket_keepalive && d.metadata_rebootstrap);
        let e = base().set("broker.address.family", "ipx").unwrap_err().to_string();
        assert!(e.contains("any, v4, v6"), "{e}");
    }

    #[test]
    fn metadata_refresh_interval_minus_one_turns_periodic_refresh_off() {
        let mut c = base();
        c.set("topic.metadata.refresh.interval.ms", "-1").unwrap();
        assert_eq!(c.build().unwrap().metadata_max_age, Duration::MAX);
        let mut c = base();
        c.set("topic.metadata.refresh.interval.ms", "60000").unwrap();
        assert_eq!(c.build().unwrap().metadata_max_age, Duration::from_secs(60));
        assert!(base().set("metadata.max.age.ms", "-1").is_err(), "Java's key keeps its minimum");
    }

    #[test]
    fn debug_and_log_level_give_the_producers_level() {
        use log::LevelFilter as L;
        let level = |pairs: &[(&str, &str)]| {
            let mut c = base();
            for (k, v) in pairs {
                c.set(k, v).unwrap();
            }
            c.build().unwrap().log_level
        };
        assert_eq!(level(&[]), None);
        assert_eq!(level(&[("log_level", "3")]), Some(L::Error));
        assert_eq!(level(&[("log_level", "4")]), Some(L::Warn));
        assert_eq!(level(&[("log_level", "6")]), Some(L::Info));
        assert_eq!(level(&[("log_level", "7")]), Some(L::Debug));
        assert_eq!(level(&[("debug", "broker,topic,msg")]), Some(L::Debug));
        assert_eq!(level(&[("debug", "all"), ("log_level", "3")]), Some(L::Trace));
        assert_eq!(level(&[("debug", "")]), None);
        let e = base().set("debug", "broker,bogus").unwrap_err().to_string();
        assert!(e.contains("'bogus' is not one"), "{e}");
        assert!(base().set("log_level", "8").is_err());
    }

    #[test]
    fn tls_versions_and_cipher_suites_are_checked_by_name() {
        for v in ["TLSv1.2", "TLSv1.3", "TLSv1.2,TLSv1.3", "TLS"] {
            base().set("ssl.enabled.protocols", v).unwrap();
        }
        for v in ["TLSv1.1", "TLSv1", "SSLv3"] {
            let e = base().set("ssl.protocol", v).unwrap_err().to_string();
            assert!(e.contains("rafka supports TLS 1.2 and 1.3") && e.contains(v), "{e}");
        }
        base().set("ssl.cipher.suites", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,TLS_AES_256_GCM_SHA384").unwrap();
        base().set("ssl.cipher.suites", "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305").unwrap();
        let e = base().set("ssl.cipher.suites", "ECDHE-RSA-AES128-GCM-SHA256:DES-CBC3-SHA:TLS_RSA_WITH_AES_128_CBC_SHA").unwrap_err().to_string();
        assert!(e.contains("not supported: DES-CBC3-SHA, TLS_RSA_WITH_AES_128_CBC_SHA"), "{e}");
    }

    #[test]
    fn config_doc_table_matches_the_key_table() {
        let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/configuration.md")).unwrap();
        let (begin, end) = ("<!-- key table: generated by render_key_table() -->\n", "<!-- end of key table -->");
        let from = doc.find(begin).expect("docs/configuration.md has the key table markers") + begin.len();
        let to = doc[from..].find(end).expect("end marker") + from;
        let want = render_key_table();
        if doc[from..to] != want {
            if std::env::var_os("RAFKA_WRITE_DOCS").is_some() {
                std::fs::write(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/configuration.md"), format!("{}{want}{}", &doc[..from], &doc[to..])).unwrap();
            }
            panic!("docs/configuration.md's key table differs from the engine's; regenerate it with RAFKA_WRITE_DOCS=1 cargo test -p rafka-core config_doc");
        }
    }
}
