package io.rafka;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyFactory;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.spec.ECGenParameterSpec;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collections;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.config.ConfigException;
import org.apache.kafka.common.errors.RecordTooLargeException;
import org.apache.kafka.common.errors.AuthenticationException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A JVM service as it is deployed: settings from a properties file, Java key and trust stores on a
 * TLS broker that requires client certificates, a custom Partitioner and a ProducerInterceptor named
 * by class. The same service code runs with KafkaProducer and with RafkaProducer, and Kafka's own
 * consumer must read the same records back (partition, key, value, headers) with the same plugin
 * counts. The broker is this class's own (scripts/kafka up --security ssl, client auth required).
 */
public class JvmServiceTest {
    static final String STORE_PASSWORD = "store-secret";
    static final String KEY_PASSWORD = "key-secret";
    static final int ORDERS = 60;
    static final int PARTITIONS = 3;

    static SecureBroker broker;

    @BeforeAll
    static void start() throws Exception {
        broker = SecureBroker.start("/tmp/rafka-java-ssl", 19790, "ssl", "listener.name.secure.ssl.client.auth=required");
    }

    @AfterAll
    static void stop() throws Exception {
        if (broker != null) {
            broker.close();
        }
    }

    static Path tls(String name) {
        return broker.caPem().getParent().resolve(name);
    }

    static Certificate certificate(Path pem) throws Exception {
        return CertificateFactory.getInstance("X.509").generateCertificate(new ByteArrayInputStream(Files.readAllBytes(pem)));
    }

    /** The harness's client key (openssl writes PKCS#8 PEM). */
    static PrivateKey clientKey() throws Exception {
        String pem = Files.readString(tls("client.key"));
        assertTrue(pem.contains("-----BEGIN PRIVATE KEY-----"), "client.key is PKCS#8 PEM");
        String body = pem.replaceAll("-----[A-Z ]+-----", "").replaceAll("\\s", "");
        return KeyFactory.getInstance("RSA").generatePrivate(new PKCS8EncodedKeySpec(Base64.getDecoder().decode(body)));
    }

    /** A trust store of the given type holding the harness's test CA, written with java.security APIs. */
    static Path trustStore(Path dir, String type) throws Exception {
        KeyStore ks = KeyStore.getInstance(type);
        ks.load(null, null);
        ks.setCertificateEntry("rafka-test-ca", certificate(broker.caPem()));
        return store(ks, dir.resolve("truststore." + type.toLowerCase()), STORE_PASSWORD);
    }

    /** A key store with the harness's client key (its own password) and its chain (client, CA). */
    static Path keyStore(Path dir, String type) throws Exception {
        KeyStore ks = KeyStore.getInstance(type);
        ks.load(null, null);
        ks.setKeyEntry("client", clientKey(), KEY_PASSWORD.toCharArray(), new Certificate[] {certificate(tls("client.pem")), certificate(broker.caPem())});
        return store(ks, dir.resolve("keystore." + type.toLowerCase()), STORE_PASSWORD);
    }

    static Path store(KeyStore ks, Path file, String password) throws Exception {
        try (OutputStream out = Files.newOutputStream(file)) {
            ks.store(out, password.toCharArray());
        }
        return file;
    }

    /** The service's properties file, as operations would write it for KafkaProducer. */
    static Path serviceProperties(Path dir, String type, String clientId) throws Exception {
        String text = String.join("\n",
                "bootstrap.servers=" + broker.secureBootstrap,
                "client.id=" + clientId,
                "key.serializer=org.apache.kafka.common.serialization.StringSerializer",
                "value.serializer=org.apache.kafka.common.serialization.StringSerializer",
                "acks=all",
                "linger.ms=5",
                "max.block.ms=30000",
                "security.protocol=SSL",
                "ssl.truststore.type=" + type,
                "ssl.truststore.location=" + trustStore(dir, type),
                "ssl.truststore.password=" + STORE_PASSWORD,
                "ssl.keystore.type=" + type,
                "ssl.keystore.location=" + keyStore(dir, type),
                "ssl.keystore.password=" + STORE_PASSWORD,
                "ssl.key.password=" + KEY_PASSWORD,
                "ssl.endpoint.identification.algorithm=https",
                "ssl.enabled.protocols=TLSv1.2,TLSv1.3",
                "partitioner.class=io.rafka.ServicePlugins$RegionPartitioner",
                "interceptor.classes=io.rafka.ServicePlugins$AuditInterceptor",
                "audit.source=billing") + "\n";
        Path file = dir.resolve(clientId + ".properties");
        Files.writeString(file, text);
        return file;
    }

    /** What the service observed: per record index, "partition" or the exception's class; and the callback count. */
    record ServiceRun(List<String> outcomes, int callbacks) {}

    /**
     * The service: loads its settings, sends orders keyed "REGION:n" (every tenth keyless, every
     * seventh to an explicit partition, one whose value the interceptor chokes on, one too large for
     * max.request.size), flushes and closes. Written once, against Producer.
     */
    static ServiceRun orderService(Path settings, String topic, Function<Properties, Producer<String, String>> make) throws Exception {
        Properties props = new Properties();
        try (Reader in = Files.newBufferedReader(settings)) {
            props.load(in);
        }
        String[] regions = {"eu", "us", "ap"};
        List<Future<RecordMetadata>> futures = new ArrayList<>();
        List<String> outcomes = new ArrayList<>(Collections.nCopies(ORDERS + 1, (String) null));
        AtomicInteger callbacks = new AtomicInteger();
        try (Producer<String, String> producer = make.apply(props)) {
            for (int i = 0; i <= ORDERS; i++) {
                String key = i % 10 == 0 ? null : regions[i % 3] + ":" + i;
                Integer partition = i % 7 == 3 ? (i % PARTITIONS) : null;
                String value = i == 13 ? "boom-" + i : i == ORDERS ? "x".repeat(2_000_000) : "order-" + i;
                int n = i;
                futures.add(producer.send(new ProducerRecord<>(topic, partition, key, value), (md, e) -> {
                    callbacks.incrementAndGet();
                    outcomes.set(n, e == null ? Integer.toString(md.partition()) : e.getClass().getSimpleName());
                }));
            }
            producer.flush();
            for (int i = 0; i <= ORDERS; i++) {
                try {
                    futures.get(i).get(60, TimeUnit.SECONDS);
                } catch (ExecutionException e) {
                    assertInstanceOf(RecordTooLargeException.class, e.getCause(), "only the oversized order fails");
                    assertEquals(ORDERS, i);
                }
            }
        }
        return new ServiceRun(outcomes, callbacks.get());
    }

    static final Pattern PARTITION = Pattern.compile("\"partition\":(\\d+)");
    static final Pattern KEY = Pattern.compile("\"key\":(null|\"[^\"]*\")");
    static final Pattern VALUE = Pattern.compile("\"value\":\"([^\"]*)\"");

    /** "partition key value audit-header" per record, read back with Kafka's own consumer, sorted. */
    static List<String> readBack(String topic, int max) throws IOException, InterruptedException {
        List<String> out = new ArrayList<>();
        for (String json : Broker.consume(topic, max, broker.plainBootstrap)) {
            out.add(group(PARTITION, json) + " " + group(KEY, json) + " " + group(VALUE, json) + " " + json.contains("\"audit-source\""));
        }
        Collections.sort(out);
        return out;
    }

    static String group(Pattern p, String json) {
        Matcher m = p.matcher(json);
        assertTrue(m.find(), p + " in " + json);
        return m.group(1);
    }

    @Test
    void jksServiceWithPartitionerAndInterceptorReadsBackTheSameWithKafkaProducerAndRafkaProducer(@TempDir Path dir) throws Exception {
        String kafkaTopic = broker.createTopic("jvm-service-kafka", PARTITIONS);
        String rafkaTopic = broker.createTopic("jvm-service-rafka", PARTITIONS);
        ServiceRun kafka = orderService(serviceProperties(dir, "JKS", "svc-kafka-jks"), kafkaTopic, KafkaProducer::new);
        ServiceRun rafka = orderService(serviceProperties(dir, "JKS", "svc-rafka-jks"), rafkaTopic, RafkaProducer::new);

        assertEquals(kafka.outcomes(), rafka.outcomes(), "partition (or error) per record");
        assertEquals(ORDERS + 1, rafka.callbacks());
        List<String> kafkaRecords = readBack(kafkaTopic, ORDERS);
        List<String> rafkaRecords = readBack(rafkaTopic, ORDERS);
        assertEquals(ORDERS, rafkaRecords.size());
        assertEquals(kafkaRecords, rafkaRecords, "partition, key, value and the interceptor's header of every record");
        assertTrue(rafkaRecords.contains("0 \"eu:3\" audited:order-3 true"), "the interceptor's record replaced the service's: " + rafkaRecords);
        assertTrue(rafkaRecords.contains("1 \"us:13\" boom-13 false"), "a throwing onSend leaves the record as it was: " + rafkaRecords);
        assertTrue(rafkaRecords.contains("2 null audited:order-20 true"), "keyless: the last available partition: " + rafkaRecords);

        ServicePlugins.Counts k = ServicePlugins.counts("svc-kafka-jks");
        ServicePlugins.Counts r = ServicePlugins.counts("svc-rafka-jks");
        for (ServicePlugins.Counts c : List.of(k, r)) {
            assertEquals(1, c.configured.get(), "interceptor configured once");
            assertEquals("billing", c.auditSource, "the interceptor read its own setting");
            assertEquals(ORDERS + 1, c.onSend.get(), "onSend per send");
            assertEquals(ORDERS, c.acked.get(), "onAcknowledgement without error per record written");
            assertEquals(1, c.failed.get(), "onAcknowledgement with the error of the oversized record");
            assertInstanceOf(RecordTooLargeException.class, c.lastFailure);
            assertEquals(1, c.closed.get(), "interceptor closed by close()");
            assertEquals(1, c.partitionerClosed.get(), "partitioner closed by close()");
            assertEquals(PARTITIONS, c.partitionCount, "the partitioner's Cluster knows the topic's partitions");
        }
        assertEquals(k.partitioned.get(), r.partitioned.get(), "the partitioner is asked for the same records");
    }

    @Test
    void pkcs12StoresWithAKeyPasswordAuthenticateToATlsBrokerRequiringClientCertificates(@TempDir Path dir) throws Exception {
        String topic = broker.createTopic("jvm-service-pkcs12", PARTITIONS);
        ServiceRun run = orderService(serviceProperties(dir, "PKCS12", "svc-rafka-pkcs12"), topic, RafkaProducer::new);
        assertEquals(ORDERS + 1, run.callbacks());
        List<String> records = readBack(topic, ORDERS);
        assertEquals(ORDERS, records.size());
        assertTrue(records.contains("0 \"eu:3\" audited:order-3 true"), records.toString());
    }

    @Test
    void withoutTheKeyStoreTheBrokerRefusesTheConnectionSoTheStoreIsWhatAuthenticates(@TempDir Path dir) throws Exception {
        Properties p = broker.config("SSL");
        p.put("ssl.truststore.location", trustStore(dir, "JKS").toString());
        p.put("ssl.truststore.password", STORE_PASSWORD);
        String topic = broker.createTopic("jvm-service-no-keystore", 1);
        try (Producer<String, String> producer = new RafkaProducer<>(p)) {
            Future<RecordMetadata> f = producer.send(new ProducerRecord<>(topic, "k", "v"));
            ExecutionException e = assertThrows(ExecutionException.class, () -> f.get(60, TimeUnit.SECONDS));
            // KafkaProducer's class here is SslAuthenticationException; rafka's error mapping gives its sibling (docs/java.md, Errors).
            assertInstanceOf(AuthenticationException.class, e.getCause(), e.getCause().toString());
            assertTrue(e.getCause().getMessage().contains("refused our client certificate"), e.getCause().getMessage());
        }
    }

    @Test
    void ecKeyMadeByJavaInAJksStoreAuthenticates(@TempDir Path dir) throws Exception {
        // The JDK encodes EC keys without the public key, which the engine's TLS library needs: the
        // Java layer adds it. The key is made here, its certificate signed by the harness's CA with openssl.
        KeyPairGenerator generator = KeyPairGenerator.getInstance("EC");
        generator.initialize(new ECGenParameterSpec("secp256r1"));
        KeyPair pair = generator.generateKeyPair();
        Path key = dir.resolve("ec.key");
        Path csr = dir.resolve("ec.csr");
        Path cert = dir.resolve("ec.pem");
        Path ext = dir.resolve("ec.ext");
        Files.writeString(key, "-----BEGIN PRIVATE KEY-----\n" + Base64.getMimeEncoder().encodeToString(pair.getPrivate().getEncoded())
                + "\n-----END PRIVATE KEY-----\n");
        Files.writeString(ext, "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=clientAuth\n"); // a v3 certificate
        openssl("req", "-new", "-key", key.toString(), "-out", csr.toString(), "-subj", "/CN=rafka-ec-client");
        openssl("x509", "-req", "-in", csr.toString(), "-CA", broker.caPem().toString(), "-CAkey", tls("ca.key").toString(),
                "-CAcreateserial", "-CAserial", dir.resolve("ca.srl").toString(), "-out", cert.toString(), "-days", "1", "-extfile", ext.toString());
        KeyStore ks = KeyStore.getInstance("JKS");
        ks.load(null, null);
        ks.setKeyEntry("ec-client", pair.getPrivate(), STORE_PASSWORD.toCharArray(), new Certificate[] {certificate(cert), certificate(broker.caPem())});
        Properties p = broker.config("SSL");
        p.put("ssl.truststore.location", trustStore(dir, "JKS").toString());
        p.put("ssl.truststore.password", STORE_PASSWORD);
        p.put("ssl.keystore.location", store(ks, dir.resolve("ec.jks"), STORE_PASSWORD).toString());
        p.put("ssl.keystore.password", STORE_PASSWORD);
        String topic = broker.createTopic("jvm-service-ec", 1);
        try (Producer<String, String> producer = new RafkaProducer<>(p)) {
            assertEquals(0, producer.send(new ProducerRecord<>(topic, "k", "ec-record")).get(60, TimeUnit.SECONDS).partition());
        }
        assertEquals(List.of("ec-record"), broker.values(topic, 1));
    }

    static void openssl(String... args) throws Exception {
        List<String> command = new ArrayList<>(List.of("openssl"));
        command.addAll(List.of(args));
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "openssl finished");
        assertEquals(0, p.exitValue(), "openssl " + String.join(" ", args) + ":\n" + out);
    }

    @Test
    void wrongStorePasswordsAreConfigExceptionsNamingTheKey(@TempDir Path dir) throws Exception {
        Properties p = broker.config("SSL");
        p.put("ssl.truststore.location", trustStore(dir, "JKS").toString());
        p.put("ssl.truststore.password", "not-it");
        ConfigException e = assertThrows(ConfigException.class, () -> new RafkaProducer<String, String>(p).close());
        assertTrue(e.getMessage().contains("ssl.truststore.password"), e.getMessage());

        p.put("ssl.truststore.password", STORE_PASSWORD);
        p.put("ssl.keystore.location", keyStore(dir, "PKCS12").toString());
        p.put("ssl.keystore.type", "PKCS12");
        p.put("ssl.keystore.password", STORE_PASSWORD);
        // The key has its own password: without ssl.key.password the store password is tried, as KafkaProducer does.
        e = assertThrows(ConfigException.class, () -> new RafkaProducer<String, String>(p).close());
        assertTrue(e.getMessage().contains("ssl.key.password") && e.getMessage().contains("'client'"), e.getMessage());
        assertTrue(!e.getMessage().contains(STORE_PASSWORD), "no password in the message: " + e.getMessage());

        p.put("ssl.truststore.location", dir.resolve("missing.jks").toString());
        e = assertThrows(ConfigException.class, () -> new RafkaProducer<String, String>(p).close());
        assertTrue(e.getMessage().contains("missing.jks") && e.getMessage().contains("no such file"), e.getMessage());
    }

    @Test
    void aStoreTypeTheJvmDoesNotKnowIsAConfigException(@TempDir Path dir) throws Exception {
        Properties p = broker.config("SSL");
        p.put("ssl.truststore.type", "NOSUCHTYPE");
        p.put("ssl.truststore.location", trustStore(dir, "JKS").toString());
        ConfigException e = assertThrows(ConfigException.class, () -> new RafkaProducer<String, String>(p).close());
        assertTrue(e.getMessage().contains("ssl.truststore.type") && e.getMessage().contains("NOSUCHTYPE"), e.getMessage());
    }
}
