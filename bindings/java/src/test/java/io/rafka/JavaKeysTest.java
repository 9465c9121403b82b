package io.rafka;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.Provider;
import java.security.Security;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

import javax.management.MBeanServer;
import javax.management.ObjectName;

import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.config.ConfigException;
import org.apache.kafka.common.metrics.KafkaMetric;
import org.apache.kafka.common.metrics.MetricsContext;
import org.apache.kafka.common.metrics.MetricsReporter;
import org.apache.kafka.common.security.auth.SecurityProviderCreator;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;

/**
 * The Java client's producer keys (ProducerConfig, with its SSL and SASL keys): each is implemented,
 * accepted with a documented reason it changes nothing, or refused naming the feature rafka lacks.
 */
class JavaKeysTest {
    static Properties base() {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, Broker.bootstrap());
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        return p;
    }

    static void sendOne(Properties p, String prefix) throws Exception {
        String topic = Broker.createTopic(prefix, 1);
        try (Producer<String, String> producer = new RafkaProducer<>(p)) {
            producer.send(new ProducerRecord<>(topic, "k", prefix)).get(30, TimeUnit.SECONDS);
        }
        assertEquals(1, Broker.consume(topic, 1).size());
    }

    @Test
    void everyJavaClientProducerKeyIsInTheTableOfDocsJava() throws Exception {
        String doc = Files.readString(Path.of(System.getProperty("rafka.root", "../..")).resolve("docs/java.md"));
        int from = doc.indexOf("## Java client keys");
        assertTrue(from >= 0, "docs/java.md has a 'Java client keys' section");
        String table = doc.substring(from, doc.indexOf("\n## ", from + 1));
        List<String> missing = new ArrayList<>();
        for (String key : ProducerConfig.configNames()) {
            if (!table.contains("`" + key + "`")) {
                missing.add(key);
            }
        }
        assertEquals(List.of(), missing, "keys without a row in docs/java.md's table");
    }

    /** Registers a provider, as security.providers asks; it must be in the JVM once a producer is made. */
    public static final class TestProviderCreator implements SecurityProviderCreator {
        @Override
        public Provider getProvider() {
            return new Provider("RafkaTestProvider", "1.0", "a provider security.providers registers") {};
        }
    }

    @Test
    void acceptedAndIgnoredKeysConstructAProducerThatSends() throws Exception {
        Properties p = base();
        // Accepted and ignored, each for the reason docs/java.md gives.
        p.put("enable.metrics.push", "true");
        p.put("transaction.timeout.ms", "30000");
        p.put("transaction.two.phase.commit.enable", "false");
        p.put("metadata.recovery.rebootstrap.trigger.ms", "60000");
        p.put("ssl.keymanager.algorithm", "SunX509");
        p.put("ssl.trustmanager.algorithm", "PKIX");
        p.put("ssl.secure.random.implementation", "SHA1PRNG");
        // Java's defaults of keys the engine implements.
        p.put("ssl.cipher.suites", "");
        p.put("ssl.enabled.protocols", "TLSv1.2,TLSv1.3");
        p.put("ssl.protocol", "TLSv1.3");
        p.put("socket.connection.setup.timeout.ms", "10000");
        p.put("socket.connection.setup.timeout.max.ms", "10000");
        p.put("metadata.recovery.strategy", "rebootstrap");
        p.put("partitioner.availability.timeout.ms", "0");
        // Unset (blank) keys of features rafka lacks.
        p.put("ssl.provider", "");
        p.put("ssl.engine.factory.class", "");
        // Java key and trust store types without a location (PLAINTEXT: KafkaProducer opens no store either).
        p.put("ssl.truststore.type", "JKS");
        p.put("ssl.keystore.type", "PKCS12");
        // Implemented on the Java side.
        p.put("security.providers", TestProviderCreator.class.getName());
        sendOne(p, "java-keys-ignored");
        assertNotNull(Security.getProvider("RafkaTestProvider"), "security.providers registered its provider");
    }

    @Test
    void kerberosKeysAreIgnoredWithAnotherMechanismAndNameGssapiOtherwise() throws Exception {
        Properties p = base();
        p.put("sasl.mechanism", "PLAIN");
        p.put("sasl.kerberos.service.name", "kafka");
        p.put("sasl.kerberos.kinit.cmd", "/usr/bin/kinit");
        sendOne(p, "java-keys-kerberos-ignored");
        Properties q = base();
        q.put("sasl.kerberos.service.name", "kafka");
        ConfigException e = assertThrows(ConfigException.class, () -> new RafkaProducer<String, String>(q).close());
        assertTrue(e.getMessage().contains("GSSAPI (Kerberos)") && !e.getMessage().contains("unknown"), e.getMessage());
    }

    @Test
    void keysOfFeaturesRafkaLacksAreRefusedNamingTheFeature() {
        Map<String, String[]> cases = Map.of(
                "transaction.two.phase.commit.enable", new String[] {"true", "two-phase commit"},
                "sasl.login.class", new String[] {"com.example.Login", "custom Login classes"},
                "sasl.client.callback.handler.class", new String[] {"com.example.Handler", "SASL client callback handlers"},
                "ssl.engine.factory.class", new String[] {"com.example.Factory", "SslEngineFactory"},
                "ssl.provider", new String[] {"BCJSSE", "JSSE provider"});
        for (Map.Entry<String, String[]> c : cases.entrySet()) {
            Properties p = base();
            p.put(c.getKey(), c.getValue()[0]);
            ConfigException e = assertThrows(ConfigException.class, () -> new RafkaProducer<String, String>(p).close(), c.getKey());
            assertTrue(e.getMessage().contains(c.getKey()) && e.getMessage().contains(c.getValue()[1]), e.getMessage());
            assertTrue(!e.getMessage().contains("unknown configuration key"), e.getMessage());
        }
    }

    @Test
    void keysTheEngineOnceLackedAreTakenWithJavaValues() {
        Map<String, String> cases = Map.of(
                "ssl.cipher.suites", "TLS_AES_128_GCM_SHA256",
                "ssl.enabled.protocols", "TLSv1.3",
                "ssl.protocol", "TLSv1.2",
                "socket.connection.setup.timeout.max.ms", "30000",
                "metadata.recovery.strategy", "none",
                "partitioner.availability.timeout.ms", "1000");
        for (Map.Entry<String, String> c : cases.entrySet()) {
            Properties p = base();
            p.put(c.getKey(), c.getValue());
            new RafkaProducer<String, String>(p).close();
        }
        Properties bad = base();
        bad.put("metadata.recovery.strategy", "sometimes");
        ConfigException e = assertThrows(ConfigException.class, () -> new RafkaProducer<String, String>(bad).close());
        assertTrue(e.getMessage().contains("metadata.recovery.strategy"), e.getMessage());
    }

    @Test
    void tlsVersionsTheJdkDisablesAreLeftOutOfSslEnabledProtocolsAsTheJvmDoes() {
        Properties p = base();
        p.put("ssl.enabled.protocols", "TLSv1.1,TLSv1.2");
        new RafkaProducer<String, String>(p).close();
        Properties only = base();
        only.put("ssl.enabled.protocols", "TLSv1.1");
        ConfigException e = assertThrows(ConfigException.class, () -> new RafkaProducer<String, String>(only).close());
        assertTrue(e.getMessage().contains("ssl.enabled.protocols") && e.getMessage().contains("TLSv1.1"), e.getMessage());
    }

    @Test
    void badValuesOfCheckedIgnoredKeysAreConfigExceptions() {
        for (String key : List.of("ssl.keymanager.algorithm", "ssl.trustmanager.algorithm", "ssl.secure.random.implementation")) {
            Properties p = base();
            p.put(key, "NoSuchAlgorithm");
            ConfigException e = assertThrows(ConfigException.class, () -> new RafkaProducer<String, String>(p).close(), key);
            assertTrue(e.getMessage().contains(key) && e.getMessage().contains("no such algorithm"), e.getMessage());
        }
    }

    /** Records what a metrics reporter is told, per client.id. */
    public static final class RecordingReporter implements MetricsReporter {
        static final Map<String, List<String>> SEEN = new ConcurrentHashMap<>();
        static final Map<String, List<KafkaMetric>> METRICS = new ConcurrentHashMap<>();
        private String clientId;

        @Override
        public void configure(Map<String, ?> configs) {
            clientId = (String) configs.get("client.id");
            SEEN.put(clientId, new CopyOnWriteArrayList<>(List.of("configure reporter.setting=" + configs.get("reporter.setting"))));
            METRICS.put(clientId, new CopyOnWriteArrayList<>());
        }

        @Override
        public void contextChange(MetricsContext context) {
            SEEN.get(clientId).add("context " + context.contextLabels().get("_namespace") + " team=" + context.contextLabels().get("team"));
        }

        @Override
        public void init(List<KafkaMetric> metrics) {
            SEEN.get(clientId).add("init " + metrics.size());
        }

        @Override
        public void metricChange(KafkaMetric metric) {
            METRICS.get(clientId).add(metric);
        }

        @Override
        public void metricRemoval(KafkaMetric metric) {}

        @Override
        public void close() {
            SEEN.get(clientId).add("close");
        }
    }

    @Test
    void metricReportersGetTheProducersMetricsAndJmxReporterRegistersThem() throws Exception {
        Properties p = base();
        p.put("client.id", "reported");
        p.put("metric.reporters", RecordingReporter.class.getName() + ",org.apache.kafka.common.metrics.JmxReporter");
        p.put("metrics.context.team", "payments");
        p.put("reporter.setting", "x");
        MBeanServer server = ManagementFactory.getPlatformMBeanServer();
        ObjectName bean = new ObjectName("kafka.producer:type=producer-metrics,client-id=reported");
        try (Producer<String, String> producer = new RafkaProducer<>(p)) {
            assertEquals(List.of("configure reporter.setting=x", "context kafka.producer team=payments", "init 0"), RecordingReporter.SEEN.get("reported"));
            List<KafkaMetric> metrics = RecordingReporter.METRICS.get("reported");
            assertEquals(producer.metrics().keySet(), metrics.stream().map(KafkaMetric::metricName).collect(Collectors.toSet()));
            KafkaMetric total = metrics.stream().filter(m -> m.metricName().name().equals("buffer-total-bytes")).findFirst().orElseThrow();
            assertEquals(33_554_432.0, total.metricValue(), "the engine's buffer.memory, read when asked");
            assertEquals(33_554_432.0, server.getAttribute(bean, "buffer-total-bytes"), "JmxReporter registered the metric");
        }
        assertEquals("close", RecordingReporter.SEEN.get("reported").get(3));
        assertTrue(!server.isRegistered(bean), "JmxReporter unregistered the metrics at close");
    }

    /** A serializer with a setting of its own, as e.g. a schema registry serializer has. */
    public static final class PrefixSerializer extends StringSerializer {
        String prefix;

        @Override
        public void configure(Map<String, ?> configs, boolean isKey) {
            prefix = (String) configs.get("prefix.serializer.prefix");
        }

        @Override
        public byte[] serialize(String topic, String data) {
            return super.serialize(topic, prefix + data);
        }
    }

    @Test
    void aKeyOnlyAPluginReadsIsThePluginsWhileAKeyNobodyReadsIsStillAnError() throws Exception {
        Properties p = base();
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, PrefixSerializer.class.getName());
        p.put("prefix.serializer.prefix", "pfx-");
        String topic = Broker.createTopic("java-keys-plugin-setting", 1);
        try (Producer<String, String> producer = new RafkaProducer<>(p)) {
            producer.send(new ProducerRecord<>(topic, "k", "v")).get(30, TimeUnit.SECONDS);
        }
        String json = Broker.consume(topic, 1).get(0);
        assertTrue(json.contains("\"value\":\"pfx-v\""), json);

        p.put("linger.mss", "5");
        ConfigException e = assertThrows(ConfigException.class, () -> new RafkaProducer<String, String>(p).close());
        assertTrue(e.getMessage().contains("'linger.mss'"), e.getMessage());
    }

    @Test
    void everyJavaKeyIsEitherAcceptedOrRefusedWithoutUnknownKey() {
        // Each key alone, at a typical value: never "unknown configuration key".
        Map<String, String> typical = Map.ofEntries(
                Map.entry("ssl.truststore.location", "/nonexistent/truststore.jks"),
                Map.entry("ssl.keystore.location", "/nonexistent/keystore.jks"));
        for (String key : ProducerConfig.configNames()) {
            Properties p = base();
            Object def = ProducerConfig.configDef().defaultValues().get(key);
            String value = typical.getOrDefault(key, def == null ? null : defaultText(def));
            if (value == null) {
                continue; // no default and no typical value: covered by the tests above
            }
            p.put(key, value);
            try {
                new RafkaProducer<String, String>(p).close();
            } catch (ConfigException e) {
                if (e.getMessage().contains("unknown configuration key")) {
                    fail(key + "=" + value + ": " + e.getMessage());
                }
            }
        }
    }

    static String defaultText(Object def) {
        if (def instanceof List) {
            return String.join(",", ((List<?>) def).stream().map(x -> x instanceof Class ? ((Class<?>) x).getName() : x.toString()).toList());
        }
        if (def instanceof Class) {
            return ((Class<?>) def).getName();
        }
        return def.toString();
    }
}
