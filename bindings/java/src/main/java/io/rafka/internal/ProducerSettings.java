package io.rafka.internal;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

import io.rafka.RafkaProducer;
import io.rafka.SpoolRecoveredCallback;
import org.apache.kafka.clients.producer.Partitioner;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerInterceptor;
import org.apache.kafka.common.Configurable;
import org.apache.kafka.common.config.ConfigException;
import org.apache.kafka.common.config.SaslConfigs;
import org.apache.kafka.common.config.SecurityConfig;
import org.apache.kafka.common.config.SslConfigs;
import org.apache.kafka.common.config.types.Password;
import org.apache.kafka.common.metrics.JmxReporter;
import org.apache.kafka.common.metrics.MetricsReporter;
import org.apache.kafka.common.serialization.Serializer;
import org.apache.kafka.common.utils.SecurityUtils;
import org.apache.kafka.common.utils.Utils;

/**
 * Splits a KafkaProducer configuration into what the Java side handles (serializers, config
 * providers, Java key and trust stores, interceptors, partitioner classes, the OAUTHBEARER login,
 * and keys it accepts and ignores or refuses on purpose: {@link JavaKeys}) and the string pairs the
 * engine checks (rafka-core's config.rs, which rejects unknown keys and bad values; the binding
 * turns that into a {@link ConfigException}).
 */
public final class ProducerSettings {
    /** The settings as given, with {@code ${provider:path:key}} variables resolved ({@code config.providers}). */
    public final Map<String, Object> originals;
    /** Engine settings; for each, the user's key it passes on as it is, or null for one made here. */
    private final List<String> engineKeys;
    private final List<String> engineValues;
    private final List<String> engineSources;
    /** Keys a plugin (serializer, interceptor, partitioner) read while being configured. */
    private final Set<String> readByPlugins = ConcurrentHashMap.newKeySet();
    public final String clientId;
    /** {@code transactional.id}, or null when unset or blank (a producer without transactions). */
    public final String transactionalId;
    /** {@code enable.idempotence} is not {@code false}. */
    public final boolean idempotent;
    /** {@code partitioner.class} when it names a {@link Partitioner} class (run on the Java side), else null. */
    final Class<?> partitionerClass;
    /** {@code interceptor.classes}, in order. */
    final List<Class<?>> interceptorClasses;
    /** {@code metric.reporters}, in order. */
    final List<Class<?>> reporterClasses;
    /** {@code spool.recovered.callback.class}, or null. */
    final Class<?> spoolRecoveredClass;

    public ProducerSettings(Map<?, ?> configs) {
        Map<String, Object> given = new HashMap<>();
        for (Map.Entry<?, ?> e : configs.entrySet()) {
            if (!(e.getKey() instanceof String)) {
                throw new ConfigException("Key '" + e.getKey() + "' is not a string.");
            }
            given.put((String) e.getKey(), e.getValue());
        }
        Map<String, Object> originals = ConfigProviders.resolve(given);
        this.originals = originals;
        Object providers = originals.get(SecurityConfig.SECURITY_PROVIDERS_CONFIG);
        if (providers != null && !asString(SecurityConfig.SECURITY_PROVIDERS_CONFIG, providers).isBlank()) {
            // As KafkaProducer's TLS and SASL setup does: registers the providers with the JVM, before the stores are read.
            SecurityUtils.addConfiguredSecurityProviders(Map.of(SecurityConfig.SECURITY_PROVIDERS_CONFIG, asString(SecurityConfig.SECURITY_PROVIDERS_CONFIG, providers)));
        }
        Object mechanism = originals.getOrDefault(SaslConfigs.SASL_MECHANISM, originals.get("sasl.mechanisms"));
        boolean oauthbearer = mechanism != null && mechanism.toString().trim().equals("OAUTHBEARER");
        List<String> keys = new ArrayList<>();
        List<String> values = new ArrayList<>();
        Set<String> storeKeys = new HashSet<>(TlsStores.toEngine(originals, keys, values));
        List<String> sources = new ArrayList<>(Collections.nCopies(keys.size(), (String) null));
        Class<?> partitioner = null;
        List<Class<?>> interceptors = List.of();
        List<Class<?>> reporters = List.of();
        Class<?> spoolRecovered = null;
        for (Map.Entry<String, Object> e : originals.entrySet()) {
            String key = e.getKey();
            Object value = e.getValue();
            if (value == null || storeKeys.contains(key) || ConfigProviders.isProviderKey(key)
                    || key.equals(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG) || key.equals(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG)
                    || key.equals(SecurityConfig.SECURITY_PROVIDERS_CONFIG)) {
                continue;
            }
            String text = asString(key, value);
            if (JavaKeys.consume(key, value, text, originals)) {
                continue;
            }
            if (key.equals(ProducerConfig.INTERCEPTOR_CLASSES_CONFIG)) {
                interceptors = classes(key, value, ProducerInterceptor.class);
                continue;
            }
            if (key.equals(ProducerConfig.METRIC_REPORTER_CLASSES_CONFIG)) {
                reporters = classes(key, value, MetricsReporter.class);
                continue;
            }
            if (key.equals(RafkaProducer.SPOOL_RECOVERED_CALLBACK_CLASS_CONFIG)) {
                List<Class<?>> named = classes(key, value, SpoolRecoveredCallback.class);
                if (named.size() > 1) {
                    throw new ConfigException(key, value, "names one class implementing " + SpoolRecoveredCallback.class.getName() + ", not " + named.size());
                }
                spoolRecovered = named.isEmpty() ? null : named.get(0);
                continue;
            }
            if (key.startsWith(ProducerMetrics.CONTEXT_PREFIX) || ProducerMetrics.KEYS.contains(key)) {
                continue; // the metrics registry's settings and its reporters' context labels
            }
            if (key.equals(ProducerConfig.PARTITIONER_CLASS_CONFIG)) {
                partitioner = partitionerClass(value, text);
                if (partitioner != null) {
                    continue;
                }
                // A name the engine knows (murmur2, consistent_random, ... or the built-in partitioner's).
            }
            if (isLoginSetting(key)) {
                if (!oauthbearer) {
                    throw new ConfigException(key, value, "rafka runs login callback handlers and their settings for sasl.mechanism=OAUTHBEARER only");
                }
                continue;
            }
            if (key.equals(SslConfigs.SSL_CIPHER_SUITES_CONFIG) && text.isBlank()) {
                continue; // an empty list: KafkaProducer's default suites, as unset
            }
            if (key.equals(SslConfigs.SSL_ENABLED_PROTOCOLS_CONFIG)) {
                text = JavaKeys.jdkEnabledProtocols(text);
            }
            if (key.equals(SslConfigs.SSL_TRUSTSTORE_LOCATION_CONFIG)) {
                // ssl.truststore.type=PEM (other types are read by TlsStores): a PEM file of CA certificates.
                keys.add("ssl.ca.location");
                values.add(text);
                sources.add(null);
                continue;
            }
            if (key.equals(SslConfigs.SSL_KEYSTORE_LOCATION_CONFIG)) {
                // ssl.keystore.type=PEM: one file holding the private key and the certificate chain.
                keys.add("ssl.certificate.location");
                values.add(text);
                keys.add("ssl.key.location");
                values.add(text);
                sources.add(null);
                sources.add(null);
                continue;
            }
            keys.add(key);
            values.add(text);
            sources.add(key);
        }
        this.partitionerClass = partitioner;
        this.interceptorClasses = interceptors;
        this.spoolRecoveredClass = spoolRecovered;
        // KafkaProducer's default metric.reporters is JmxReporter; set (even empty), the list given.
        this.reporterClasses = originals.containsKey(ProducerConfig.METRIC_REPORTER_CLASSES_CONFIG) ? reporters : List.of(JmxReporter.class);
        this.engineKeys = keys;
        this.engineValues = values;
        this.engineSources = sources;
        Object id = originals.get(ProducerConfig.CLIENT_ID_CONFIG);
        this.clientId = id == null ? "rafka" : id.toString();
        Object idempotence = originals.get(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG);
        this.idempotent = idempotence == null || !idempotence.toString().trim().equalsIgnoreCase("false");
        Object txnId = originals.get(ProducerConfig.TRANSACTIONAL_ID_CONFIG);
        this.transactionalId = txnId == null || txnId.toString().isBlank() ? null : txnId.toString();
    }

    /** The {@code partitioner.class} partitioner, made and configured; null when the engine partitions. */
    public JavaPartitioner partitioner() {
        return JavaPartitioner.create(partitionerClass, pluginConfigs());
    }

    /**
     * The recovered-records callback made from {@code spool.recovered.callback.class} (configured
     * when it is {@link Configurable}); null when the key is unset. {@code given}: the instance
     * passed to the constructor, which may not come with the key too.
     */
    public SpoolRecoveredCallback spoolRecoveredCallback(SpoolRecoveredCallback given) {
        if (spoolRecoveredClass == null) {
            return null;
        }
        if (given != null) {
            throw new ConfigException(RafkaProducer.SPOOL_RECOVERED_CALLBACK_CLASS_CONFIG, spoolRecoveredClass.getName(),
                    "a SpoolRecoveredCallback was also given to the constructor: give one or the other");
        }
        SpoolRecoveredCallback cb = (SpoolRecoveredCallback) Utils.newInstance(spoolRecoveredClass);
        if (cb instanceof Configurable) {
            ((Configurable) cb).configure(pluginConfigs());
        }
        return cb;
    }

    /** The {@code interceptor.classes} interceptors, made and configured; null when there are none. */
    public <K, V> Interceptors<K, V> interceptors() {
        return Interceptors.create(interceptorClasses, pluginConfigs());
    }

    /**
     * The producer's metrics registry with the {@code metric.reporters} reporters (made and
     * configured) started; {@code counters} reads the engine's counters (see {@link ProducerMetrics#create}).
     */
    public ProducerMetrics metrics(java.util.function.Supplier<Object[]> counters) {
        return ProducerMetrics.create(originals, reporterClasses, pluginConfigs(), clientId, counters);
    }

    /**
     * The settings KafkaProducer configures its plugins with: the originals and the client id. Like
     * KafkaProducer's, the map notes which keys the plugin reads: a key only a plugin knows (e.g. a
     * serializer's schema.registry.url) is the plugin's and is not passed to the engine.
     */
    Map<String, Object> pluginConfigs() {
        Map<String, Object> out = new HashMap<>(originals) {
            @Override
            public Object get(Object key) {
                noteRead(key);
                return super.get(key);
            }

            @Override
            public Object getOrDefault(Object key, Object defaultValue) {
                noteRead(key);
                return super.getOrDefault(key, defaultValue);
            }

            @Override
            public boolean containsKey(Object key) {
                noteRead(key);
                return super.containsKey(key);
            }
        };
        out.put(ProducerConfig.CLIENT_ID_CONFIG, clientId);
        return out;
    }

    private void noteRead(Object key) {
        if (key instanceof String) {
            readByPlugins.add((String) key);
        }
    }

    /**
     * The engine's keys, once the plugins are made: the user's keys that a plugin read and the Java
     * client does not know are left out (they are the plugin's settings). Any other key the engine
     * does not know stays in, and the engine rejects it by name.
     */
    public String[] engineKeys() {
        return engineColumn(engineKeys);
    }

    /** The values of {@link #engineKeys()}, in the same order. */
    public String[] engineValues() {
        return engineColumn(engineValues);
    }

    private String[] engineColumn(List<String> column) {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < column.size(); i++) {
            String source = engineSources.get(i);
            if (source == null || !readByPlugins.contains(source) || ProducerConfig.configNames().contains(source)) {
                out.add(column.get(i));
            }
        }
        return out.toArray(new String[0]);
    }

    /**
     * {@code partitioner.class}: a {@code Class}, or a name that loads as a class implementing
     * {@link Partitioner}, is run on the Java side; null for anything else, which the engine checks
     * (its partitioner names, the built-in partitioner's class names).
     */
    private static Class<?> partitionerClass(Object value, String text) {
        Class<?> type;
        if (value instanceof Class) {
            type = (Class<?>) value;
        } else {
            try {
                type = Class.forName(text, true, loader());
            } catch (ClassNotFoundException | LinkageError e) {
                if (text.contains(".") && !text.startsWith("org.apache.kafka.clients.producer.internals.")) {
                    throw new ConfigException(ProducerConfig.PARTITIONER_CLASS_CONFIG, value, "Class " + text + " could not be found.");
                }
                return null; // one of the engine's partitioner names
            }
        }
        if (Partitioner.class.isAssignableFrom(type)) {
            return type;
        }
        if (value instanceof Class) {
            throw new ConfigException(ProducerConfig.PARTITIONER_CLASS_CONFIG, value, type.getName() + " is not an instance of " + Partitioner.class.getName());
        }
        return null;
    }

    /** A list of classes ({@code Class}es, or names, comma-separated or in a {@code List}), each of {@code type}. */
    private static List<Class<?>> classes(String key, Object value, Class<?> type) {
        List<Class<?>> out = new ArrayList<>();
        List<?> items = value instanceof Collection ? new ArrayList<>((Collection<?>) value) : JavaKeys.list(asString(key, value));
        for (Object item : items) {
            Class<?> c;
            if (item instanceof Class) {
                c = (Class<?>) item;
            } else {
                String name = String.valueOf(item).trim();
                if (name.isEmpty()) {
                    continue;
                }
                try {
                    c = Class.forName(name, true, loader());
                } catch (ClassNotFoundException | LinkageError e) {
                    throw new ConfigException(key, value, "Class " + name + " could not be found.");
                }
            }
            if (!type.isAssignableFrom(c)) {
                throw new ConfigException(key, value, c.getName() + " is not an instance of " + type.getName());
            }
            out.add(c);
        }
        return out;
    }

    static ClassLoader loader() {
        ClassLoader loader = Thread.currentThread().getContextClassLoader();
        return loader != null ? loader : ProducerSettings.class.getClassLoader();
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
                type = Class.forName(asString(key, value), true, loader());
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
        s.configure(pluginConfigs(), isKey);
        return s;
    }
}
