package io.rafka;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every Java-client configuration of tests/config-corpus ({@code *-java.properties}, loaded with
 * {@link Properties#load} as a service loads its file) builds a RafkaProducer and, unless it is marked
 * construct-only, sends one record to the broker in RAFKA_BOOTSTRAP that Kafka's own consumer reads
 * back. See tests/config-corpus/README.md.
 */
class ConfigCorpusTest {
    static final String CA_PEM = "/etc/ssl/certs/ca-certificates.crt";

    static Path corpus() {
        return Path.of(System.getProperty("rafka.root", "../..")).resolve("tests/config-corpus");
    }

    static Stream<String> javaFiles() throws IOException {
        try (Stream<Path> files = Files.list(corpus())) {
            return files.map(f -> f.getFileName().toString()).filter(n -> n.endsWith("-java.properties")).sorted().toList().stream();
        }
    }

    @Test
    void theCorpusHasJavaFilesOfEachKind() throws IOException {
        List<String> names = javaFiles().toList();
        assertTrue(names.size() >= 4, names.toString());
        assertTrue(names.stream().anyMatch(n -> text(n).contains("# construct-only:")), "some are construct-only");
        assertTrue(names.stream().anyMatch(n -> !text(n).contains("# construct-only:")), "some send a record");
    }

    @ParameterizedTest
    @MethodSource("javaFiles")
    void corpusConfigurationBuildsAProducerThatDelivers(String name) throws Exception {
        String text = text(name);
        Properties props = new Properties();
        props.load(new StringReader(text.replace("@CA_PEM@", CA_PEM)));
        if (text.contains("# construct-only:")) {
            // Security settings the test broker has no listener for: every key accepted, the files read.
            // These guides' fragments name no serializers: the service passes them to the constructor.
            try (Producer<String, String> p = new RafkaProducer<>(props, new StringSerializer(), new StringSerializer())) {
                assertFalse(p.metrics().isEmpty());
            }
            return;
        }
        props.put("bootstrap.servers", Broker.bootstrap());
        boolean bytes = props.getProperty("value.serializer", "").endsWith("ByteArraySerializer");
        Object key = bytes ? "k".getBytes(StandardCharsets.UTF_8) : "k";
        Object value = bytes ? name.getBytes(StandardCharsets.UTF_8) : name;
        String topic = Broker.createTopic("java-corpus", 1);
        RecordMetadata md;
        try (Producer<Object, Object> p = new RafkaProducer<>(props)) {
            md = p.send(new ProducerRecord<>(topic, key, value)).get(30, TimeUnit.SECONDS);
        }
        assertEquals(0, md.offset());
        List<String> records = Broker.consume(topic, 1);
        assertEquals(1, records.size());
        assertTrue(records.get(0).contains("\"value\":\"" + name + "\""), records.get(0));
    }

    static String text(String name) {
        try {
            return Files.readString(corpus().resolve(name));
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
