package io.rafka;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Properties;

import org.apache.kafka.common.config.ConfigException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * KafkaProducer's TLS settings in their PEM forms against a sasl_ssl broker of this class's own
 * (scripts/kafka up --security sasl_ssl: a test CA in STATE/tls, the listener advertised as localhost).
 */
public class SaslSslTest {
    static SecureBroker broker;

    @BeforeAll
    static void start() throws Exception {
        broker = SecureBroker.start("/tmp/rafka-java-sasl-ssl", 19770, "sasl_ssl");
    }

    @AfterAll
    static void stop() throws Exception {
        if (broker != null) {
            broker.close();
        }
    }

    static Properties scram256() {
        Properties p = broker.config("SASL_SSL");
        p.put("sasl.mechanism", "SCRAM-SHA-256");
        p.put("sasl.jaas.config", SaslTest.SCRAM + " required username=\"bob\" password=\"bob-secret\";");
        return p;
    }

    @Test
    void pemTruststoreLocationAndKeystoreLocationWorkOverSaslSsl(@TempDir Path dir) throws Exception {
        // Java's PEM key store file: the private key and the certificate chain in one file.
        Path keystore = dir.resolve("client-keystore.pem");
        Path tls = broker.caPem().getParent();
        Files.writeString(keystore, Files.readString(tls.resolve("client.key")) + Files.readString(tls.resolve("client.pem")));
        Properties p = scram256();
        p.put("ssl.truststore.type", "PEM");
        p.put("ssl.truststore.location", broker.caPem().toString());
        p.put("ssl.keystore.type", "PEM");
        p.put("ssl.keystore.location", keystore.toString());
        SaslTest.sendAndReadBack(broker, p, "sasl-ssl-pem-location");
    }

    @Test
    void pemTruststoreCertificatesTextWorksOverSaslSsl() throws Exception {
        Properties p = scram256();
        p.put("ssl.truststore.type", "PEM");
        p.put("ssl.truststore.certificates", Files.readString(broker.caPem()));
        SaslTest.sendAndReadBack(broker, p, "sasl-ssl-pem-text");
    }

    @Test
    void javaStoreThatIsNotThereIsAConfigExceptionNamingTheFile() {
        // JKS (Java's default type) and PKCS12 stores are read on the Java side (JvmServiceTest runs them on a TLS broker).
        Properties p = scram256();
        p.put("ssl.truststore.location", "/etc/kafka/truststore.jks");
        p.put("ssl.truststore.password", "changeit");
        ConfigException e = assertThrows(ConfigException.class, () -> new RafkaProducer<String, String>(p).close());
        assertTrue(e.getMessage().contains("/etc/kafka/truststore.jks") && e.getMessage().contains("no such file"), e.getMessage());
        p.put("ssl.truststore.type", "PKCS12");
        e = assertThrows(ConfigException.class, () -> new RafkaProducer<String, String>(p).close());
        assertTrue(e.getMessage().contains("no such file"), e.getMessage());
    }
}
