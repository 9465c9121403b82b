package io.rafka.internal;

import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.TrustManagerFactory;

import org.apache.kafka.common.config.ConfigException;

/**
 * What rafka does with the Java client's producer keys that neither go to the engine as they are
 * nor are run by the Java side (serializers, stores, providers, interceptors, partitioner classes,
 * OAUTHBEARER login): accepted and ignored (with the reason, checked where KafkaProducer checks the
 * value) or refused naming the feature rafka lacks. docs/java.md has the same table for users.
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

    /** Accepted and ignored, whatever the (valid) value: {key -> why it changes nothing in rafka}. */
    static final Map<String, String> IGNORED = Map.ofEntries(
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
     * {@code ssl.enabled.protocols} as the JVM would use it: without TLSv1, TLSv1.1 and SSLv3,
     * which the JDK disables ({@code jdk.tls.disabledAlgorithms}) and so never offers. A list of
     * only those is passed as it is (the engine refuses it).
     */
    static String jdkEnabledProtocols(String text) {
        List<String> versions = new ArrayList<>(list(text));
        versions.removeAll(List.of("TLSv1", "TLSv1.1", "SSLv3"));
        return versions.isEmpty() ? text : String.join(",", versions);
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
}
