package io.rafka.internal;

import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.TrustManagerFactory;

import org.apache.kafka.common.config.ConfigException;

/**
 * What rafka does with the Java client's producer keys that neither go to the engine as they are
 * nor are run by the Java side (serializers, stores, providers, interceptors, partitioner classes,
 * OAUTHBEARER login): accepted and ignored (with the reason, checked where KafkaProducer checks the
 * value), refused naming the feature rafka lacks, or engine features not there yet, which are passed
 * to the engine when the value asks for something other than what rafka does anyway. docs/java.md
 * has the same table for users.
 */
final class JavaKeys {
    private JavaKeys() {}

    /** Keys of features rafka does not have: a ConfigException naming the feature, whatever the value (null/blank is unset). */
    static final Map<String, String> UNSUPPORTED = Map.of(
            "sasl.login.class", "custom Login classes (for OAUTHBEARER use sasl.login.callback.handler.class)",
            "sasl.client.callback.handler.class", "SASL client callback handlers (rafka's PLAIN and SCRAM take the credentials from sasl.jaas.config or sasl.username/sasl.password)",
            "ssl.engine.factory.class", "custom SslEngineFactory classes (rafka's TLS is rustls, not a JSSE SSLEngine)",
            "ssl.provider", "choosing a JSSE provider for TLS (rafka's TLS is rustls with the ring crypto provider)");

    /** Kerberos settings: read by GSSAPI only. */
    static boolean isKerberos(String key) {
        return key.startsWith("sasl.kerberos.");
    }

    /**
     * Engine features not in rafka's engine yet: {key -> feature}. The value is passed to the engine
     * unless it asks for exactly what rafka does anyway (see {@link #matchesRafka}); an engine that
     * does not know the key yet answers "unknown configuration key", which {@link #explain} turns
     * into an error naming the feature.
     */
    static final Map<String, String> ENGINE_PENDING = Map.of(
            "ssl.cipher.suites", "choosing TLS cipher suites (rafka uses rustls's default suites)",
            "ssl.enabled.protocols", "restricting TLS versions (rafka negotiates TLSv1.2 or TLSv1.3)",
            "ssl.protocol", "restricting TLS versions (rafka negotiates TLSv1.2 or TLSv1.3)",
            "socket.connection.setup.timeout.max.ms", "a connection setup timeout that grows after failures (rafka keeps socket.connection.setup.timeout.ms for every attempt)",
            "metadata.recovery.strategy", "metadata.recovery.strategy=none (rafka always may go back to the bootstrap servers for metadata)",
            "partitioner.availability.timeout.ms", "partitioner.availability.timeout.ms (keyless records avoiding partitions whose leader takes no data for that long)");

    /** Accepted and ignored, whatever the (valid) value: {key -> why it changes nothing in rafka}. */
    static final Map<String, String> IGNORED = Map.ofEntries(
            Map.entry("metrics.num.samples", "tunes the Java client's metrics sampling; rafka's metrics() are read from the engine when asked"),
            Map.entry("metrics.sample.window.ms", "tunes the Java client's metrics sampling; rafka's metrics() are read from the engine when asked"),
            Map.entry("metrics.recording.level", "selects which Java client sensors record; rafka has no sensors"),
            Map.entry("enable.metrics.push", "KIP-714 telemetry push; rafka pushes no client telemetry"),
            Map.entry("metadata.recovery.rebootstrap.trigger.ms", "rafka's metadata requests may go to any bootstrap server whenever no broker connection is ready, so there is no rebootstrap to trigger"),
            Map.entry("ssl.keymanager.algorithm", "selects the JSSE KeyManagerFactory; rafka presents the key store's one private key and chain itself (the algorithm is still checked to exist)"),
            Map.entry("ssl.trustmanager.algorithm", "selects the JSSE TrustManagerFactory; rafka verifies the broker's chain against the trust store's certificates with rustls's PKIX verifier (the algorithm is still checked to exist)"),
            Map.entry("ssl.secure.random.implementation", "the SecureRandom of the JSSE SSLContext; rafka's TLS draws randomness from the OS (the algorithm is still checked to exist)"));

    /** Throws for a refused key, checks ignored keys' values; true when the key is consumed here (not passed on). */
    static boolean consume(String key, Object value, String text, Map<String, Object> originals) {
        String feature = UNSUPPORTED.get(key);
        if (feature != null) {
            if (text.isBlank()) {
                return true;
            }
            throw new ConfigException(key, value, "rafka does not support " + feature);
        }
        if (isKerberos(key)) {
            Object mechanism = originals.getOrDefault("sasl.mechanism", originals.get("sasl.mechanisms"));
            String m = mechanism == null ? "GSSAPI" : mechanism.toString().trim().toUpperCase();
            if (text.isBlank() || (!m.isEmpty() && !m.equals("GSSAPI"))) {
                return true; // KafkaProducer reads it for GSSAPI only
            }
            throw new ConfigException(key, value, "rafka does not support GSSAPI (Kerberos); set sasl.mechanism to PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER");
        }
        if (key.equals("transaction.two.phase.commit.enable")) {
            if (text.equalsIgnoreCase("false")) {
                return true;
            }
            throw new ConfigException(key, value, "rafka does not support two-phase commit transactions (KIP-939) yet");
        }
        if (key.equals("transactional.id") && text.isBlank()) {
            return true; // unset: no transactions, as KafkaProducer with a null id
        }
        if (IGNORED.containsKey(key)) {
            checkAlgorithm(key, value, text);
            return true;
        }
        return false;
    }

    private static void checkAlgorithm(String key, Object value, String text) {
        if (text.isBlank()) {
            return;
        }
        try {
            switch (key) {
                case "ssl.keymanager.algorithm" -> KeyManagerFactory.getInstance(text);
                case "ssl.trustmanager.algorithm" -> TrustManagerFactory.getInstance(text);
                case "ssl.secure.random.implementation" -> SecureRandom.getInstance(text);
                default -> {
                }
            }
        } catch (NoSuchAlgorithmException e) {
            throw new ConfigException(key, value, "no such algorithm in this JVM");
        }
    }

    /**
     * True when an engine-pending key's value asks for what rafka does anyway (then it is accepted
     * and not passed on): the Java defaults of the TLS keys (TLSv1.2 and TLSv1.3, the JVM's default
     * suites), rebootstrap, a disabled availability timeout, a setup timeout that does not grow.
     */
    static boolean matchesRafka(String key, String text, Map<String, Object> originals) {
        switch (key) {
            case "ssl.cipher.suites":
                return text.isBlank();
            case "ssl.enabled.protocols":
            case "ssl.protocol":
                return tlsVersions(originals).equals(Set.of("TLSv1.2", "TLSv1.3"));
            case "socket.connection.setup.timeout.max.ms": {
                Object setup = originals.get("socket.connection.setup.timeout.ms");
                String base = setup == null ? "10000" : ProducerSettings.asString("socket.connection.setup.timeout.ms", setup);
                return text.equals(base);
            }
            case "metadata.recovery.strategy":
                return text.equalsIgnoreCase("rebootstrap");
            case "partitioner.availability.timeout.ms":
                return text.equals("0");
            default:
                return false;
        }
    }

    /** The TLS versions KafkaProducer would offer: ssl.enabled.protocols, capped by ssl.protocol=TLSv1.2. */
    private static Set<String> tlsVersions(Map<String, Object> originals) {
        Object enabled = originals.get("ssl.enabled.protocols");
        Set<String> versions = new LinkedHashSet<>(enabled == null ? List.of("TLSv1.2", "TLSv1.3") : list(ProducerSettings.asString("ssl.enabled.protocols", enabled)));
        Object protocol = originals.get("ssl.protocol");
        String p = protocol == null ? "TLSv1.3" : protocol.toString().trim();
        if (!p.equals("TLSv1.3") && !p.equals("TLS")) {
            versions.remove("TLSv1.3");
        }
        // The JDK disables TLSv1 and TLSv1.1 (jdk.tls.disabledAlgorithms), so they are never offered.
        versions.removeAll(List.of("TLSv1", "TLSv1.1", "SSLv3"));
        return versions;
    }

    static List<String> list(String text) {
        List<String> out = new ArrayList<>();
        for (String s : text.split(",")) {
            if (!s.isBlank()) {
                out.add(s.trim());
            }
        }
        return out;
    }

    /**
     * The engine's "unknown configuration key 'K'" for an engine-pending key becomes an error
     * naming the feature; anything else is returned as it is.
     */
    static RuntimeException explain(RuntimeException e, Map<String, Object> originals) {
        String message = e.getMessage();
        if (e instanceof ConfigException && message != null) {
            for (Map.Entry<String, String> p : ENGINE_PENDING.entrySet()) {
                if (message.contains("unknown configuration key '" + p.getKey() + "'")) {
                    return new ConfigException(p.getKey(), originals.get(p.getKey()), "rafka does not support " + p.getValue() + " yet");
                }
            }
        }
        return e;
    }
}
