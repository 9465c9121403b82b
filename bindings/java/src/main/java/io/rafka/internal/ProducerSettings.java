package io.rafka.internal;

import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;

import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.config.ConfigException;
import org.apache.kafka.common.config.SaslConfigs;
import org.apache.kafka.common.config.SslConfigs;
import org.apache.kafka.common.config.types.Password;
import org.apache.kafka.common.serialization.Serializer;

/**
 * Splits a KafkaProducer configuration into what the Java side handles (serializers, and keys it
 * accepts and ignores on purpose) and the string pairs the engine checks (rafka-core's config.rs,
 * which rejects unknown keys and bad values; the binding turns that into a {@link ConfigException}).
 */
public final class ProducerSettings {
    /**
     * KafkaProducer keys that rafka accepts and ignores: they only tune the Java client's own metrics
     * machinery or transactions (which need transactional.id, rejected below). See docs/java.md.
     */
    static final Set<String> IGNORED = Set.of(
            ProducerConfig.METRIC_REPORTER_CLASSES_CONFIG,
            ProducerConfig.METRICS_NUM_SAMPLES_CONFIG,
            ProducerConfig.METRICS_SAMPLE_WINDOW_MS_CONFIG,
            ProducerConfig.METRICS_RECORDING_LEVEL_CONFIG,
            ProducerConfig.ENABLE_METRICS_PUSH_CONFIG,
            ProducerConfig.TRANSACTION_TIMEOUT_CONFIG);

    public final Map<String, Object> originals;
    public final String[] engineKeys;
    public final String[] engineValues;
    public final String clientId;

    public ProducerSettings(Map<?, ?> configs) {
        Map<String, Object> originals = new HashMap<>();
        for (Map.Entry<?, ?> e : configs.entrySet()) {
            if (!(e.getKey() instanceof String)) {
                throw new ConfigException("Key '" + e.getKey() + "' is not a string.");
            }
            originals.put((String) e.getKey(), e.getValue());
        }
        this.originals = originals;
        Object mechanism = originals.getOrDefault(SaslConfigs.SASL_MECHANISM, originals.get("sasl.mechanisms"));
        boolean oauthbearer = mechanism != null && mechanism.toString().trim().equals("OAUTHBEARER");
        List<String> keys = new ArrayList<>();
        List<String> values = new ArrayList<>();
        for (Map.Entry<String, Object> e : originals.entrySet()) {
            String key = e.getKey();
            Object value = e.getValue();
            if (value == null || IGNORED.contains(key) || key.equals(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG)
                    || key.equals(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG)) {
                continue;
            }
            String text = asString(key, value);
            if (key.equals(ProducerConfig.INTERCEPTOR_CLASSES_CONFIG)) {
                if (!text.isBlank()) {
                    throw new ConfigException(key, value, "rafka does not run producer interceptors yet");
                }
                continue;
            }
            if (key.equals(ProducerConfig.TRANSACTIONAL_ID_CONFIG)) {
                throw new ConfigException(key, value, "rafka has no transactions yet");
            }
            if (key.equals(SaslConfigs.SASL_LOGIN_CLASS)) {
                throw new ConfigException(key, value, "rafka does not run custom Login classes; for OAUTHBEARER, use sasl.login.callback.handler.class");
            }
            if (isLoginSetting(key)) {
                if (!oauthbearer) {
                    throw new ConfigException(key, value, "rafka runs login callback handlers and their settings for sasl.mechanism=OAUTHBEARER only");
                }
                continue;
            }
            if (key.equals(SslConfigs.SSL_TRUSTSTORE_LOCATION_CONFIG)) {
                requirePem(originals, SslConfigs.SSL_TRUSTSTORE_TYPE_CONFIG, key, value);
                keys.add("ssl.ca.location");
                values.add(text);
                continue;
            }
            if (key.equals(SslConfigs.SSL_KEYSTORE_LOCATION_CONFIG)) {
                // A PEM key store file holds the private key and the certificate chain.
                requirePem(originals, SslConfigs.SSL_KEYSTORE_TYPE_CONFIG, key, value);
                keys.add("ssl.certificate.location");
                values.add(text);
                keys.add("ssl.key.location");
                values.add(text);
                continue;
            }
            keys.add(key);
            values.add(text);
        }
        this.engineKeys = keys.toArray(new String[0]);
        this.engineValues = values.toArray(new String[0]);
        Object id = originals.get(ProducerConfig.CLIENT_ID_CONFIG);
        this.clientId = id == null ? "rafka" : id.toString();
    }

    /**
     * KafkaProducer's settings of the login machinery ({@code sasl.login.*}, and the
     * {@code sasl.oauthbearer.*} ones its OAuth handlers read), which the Java side hands to the
     * login callback handler ({@link OAuthBearerTokens}) instead of to the engine. rafka's own
     * {@code sasl.oauthbearer.token} is not one of them; a misspelt key is not either and reaches the
     * engine, which rejects it.
     */
    static boolean isLoginSetting(String key) {
        return (key.startsWith("sasl.login.") || key.startsWith("sasl.oauthbearer.")) && ProducerConfig.configNames().contains(key);
    }

    /** Java's key and trust stores default to JKS; rafka reads PEM files only. */
    private static void requirePem(Map<String, Object> originals, String typeKey, String key, Object value) {
        Object type = originals.get(typeKey);
        if (type == null || !type.toString().trim().equalsIgnoreCase("PEM")) {
            throw new ConfigException(key, value, "rafka reads PEM files only: set " + typeKey + "=PEM (a JKS or PKCS12 store is not supported; "
                    + "convert it to PEM, e.g. with keytool -exportcert -rfc and openssl pkcs12)");
        }
    }

    public static Map<Object, Object> fromProperties(Properties properties) {
        Map<Object, Object> map = new HashMap<>();
        for (String name : properties.stringPropertyNames()) {
            map.put(name, properties.getProperty(name));
        }
        // Non-string values (e.g. a Class or an Integer put() directly) are kept as they are.
        for (Map.Entry<Object, Object> e : properties.entrySet()) {
            map.putIfAbsent(e.getKey(), e.getValue());
        }
        return map;
    }

    /** Values as KafkaProducer accepts them: strings, numbers, booleans, lists, classes, passwords. */
    static String asString(String key, Object value) {
        if (value instanceof String) {
            return ((String) value).trim();
        }
        if (value instanceof Class) {
            return ((Class<?>) value).getName();
        }
        if (value instanceof Password) {
            return ((Password) value).value();
        }
        if (value instanceof Collection) {
            StringBuilder sb = new StringBuilder();
            for (Object item : (Collection<?>) value) {
                if (sb.length() > 0) {
                    sb.append(',');
                }
                sb.append(item instanceof Class ? ((Class<?>) item).getName() : String.valueOf(item));
            }
            return sb.toString();
        }
        if (value instanceof Number || value instanceof Boolean) {
            return value.toString();
        }
        throw new ConfigException(key, value, "expected a string, a number, a boolean, a list or a class");
    }

    /**
     * The OAUTHBEARER token source when the settings choose OAUTHBEARER without rafka's static
     * {@code sasl.oauthbearer.token}, else null. The caller closes it.
     */
    public OAuthBearerTokens oauthBearerTokens() {
        return OAuthBearerTokens.forSettings(originals);
    }

    /** The serializer given, or one made from the class named by {@code key} and configured. */
    public <T> Serializer<T> serializer(Serializer<T> given, String key, boolean isKey) {
        if (given != null) {
            return given;
        }
        Object value = originals.get(key);
        if (value == null) {
            throw new ConfigException("Missing required configuration \"" + key + "\" which has no default value.");
        }
        Class<?> type;
        try {
            if (value instanceof Class) {
                type = (Class<?>) value;
            } else {
                ClassLoader loader = Thread.currentThread().getContextClassLoader();
                type = Class.forName(asString(key, value), true, loader != null ? loader : ProducerSettings.class.getClassLoader());
            }
        } catch (ClassNotFoundException e) {
            throw new ConfigException(key, value, "Class " + value + " could not be found.");
        }
        if (!Serializer.class.isAssignableFrom(type)) {
            throw new ConfigException(key, value, type.getName() + " is not an instance of " + Serializer.class.getName());
        }
        Serializer<T> s;
        try {
            @SuppressWarnings("unchecked")
            Serializer<T> made = (Serializer<T>) type.getDeclaredConstructor().newInstance();
            s = made;
        } catch (ReflectiveOperationException e) {
            throw new ConfigException(key, value, "cannot instantiate " + type.getName() + ": " + e);
        }
        s.configure(originals, isKey);
        return s;
    }
}
