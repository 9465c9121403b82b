package io.rafka;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.config.ConfigException;
import org.apache.kafka.common.config.provider.FileConfigProvider;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code config.providers}: ${file:path:key} values resolved as KafkaProducer resolves them, against the broker in RAFKA_BOOTSTRAP. */
class ConfigProvidersTest {
    static Properties withFileProvider(Path secrets) {
        Properties p = new Properties();
        p.put("config.providers", "file");
        p.put("config.providers.file.class", FileConfigProvider.class.getName());
        p.put("bootstrap.servers", "${file:" + secrets + ":kafka.bootstrap}");
        p.put("client.id", "${file:" + secrets + ":client}");
        p.put("key.serializer", StringSerializer.class.getName());
        p.put("value.serializer", StringSerializer.class.getName());
        return p;
    }

    @Test
    void fileProviderValuesReachTheEngineAndTheRecordIsWritten(@TempDir Path dir) throws Exception {
        Path secrets = dir.resolve("kafka-secrets.properties");
        Files.writeString(secrets, "kafka.bootstrap=" + Broker.bootstrap() + "\nclient=from-a-file\nlinger=7\n");
        Properties p = withFileProvider(secrets);
        p.put("linger.ms", "${file:" + secrets + ":linger}");
        String topic = Broker.createTopic("java-config-providers", 1);
        try (Producer<String, String> producer = new RafkaProducer<>(p)) {
            producer.send(new ProducerRecord<>(topic, "k", "resolved")).get(30, TimeUnit.SECONDS);
            assertTrue(producer.metrics().keySet().stream().allMatch(m -> m.tags().get("client-id").equals("from-a-file")),
                    "client.id came from the file");
        }
        List<String> records = Broker.consume(topic, 1);
        assertEquals(1, records.size());
        assertTrue(records.get(0).contains("\"value\":\"resolved\""), records.get(0));
    }

    @Test
    void aVariableTheFileDoesNotHaveStaysAsWrittenAndTheEngineRejectsTheValue(@TempDir Path dir) throws Exception {
        Path secrets = dir.resolve("kafka-secrets.properties");
        Files.writeString(secrets, "kafka.bootstrap=" + Broker.bootstrap() + "\nclient=c\n");
        Properties p = withFileProvider(secrets);
        p.put("linger.ms", "${file:" + secrets + ":no.such.key}");
        ConfigException e = assertThrows(ConfigException.class, () -> new RafkaProducer<String, String>(p).close());
        assertTrue(e.getMessage().contains("linger.ms") && e.getMessage().contains("no.such.key"), e.getMessage());
    }

    @Test
    void aProviderClassThatDoesNotExistIsAConfigExceptionNamingIt(@TempDir Path dir) throws Exception {
        Properties p = withFileProvider(dir.resolve("x"));
        p.put("config.providers.file.class", "com.example.NoSuchProvider");
        ConfigException e = assertThrows(ConfigException.class, () -> new RafkaProducer<String, String>(p).close());
        assertTrue(e.getMessage().contains("config.providers.file.class") && e.getMessage().contains("com.example.NoSuchProvider"), e.getMessage());
    }

    @Test
    void providersTheSystemPropertyDoesNotAllowAreRefusedAsInKafkaProducer(@TempDir Path dir) throws Exception {
        Path secrets = dir.resolve("kafka-secrets.properties");
        Files.writeString(secrets, "kafka.bootstrap=" + Broker.bootstrap() + "\nclient=c\n");
        String property = "org.apache.kafka.automatic.config.providers";
        System.setProperty(property, "org.apache.kafka.common.config.provider.EnvVarConfigProvider");
        try {
            ConfigException e = assertThrows(ConfigException.class, () -> new RafkaProducer<String, String>(withFileProvider(secrets)).close());
            assertTrue(e.getMessage().contains(FileConfigProvider.class.getName() + " is not allowed"), e.getMessage());
        } finally {
            System.clearProperty(property);
        }
    }

    @Test
    void providerParamsConfigureTheProviderAndUnreadableFilesFail(@TempDir Path dir) throws Exception {
        // DirectoryConfigProvider reads one file per key from a directory; allowed.paths (a param) limits where.
        Path secrets = Files.createDirectory(dir.resolve("secrets"));
        Files.writeString(secrets.resolve("bootstrap"), Broker.bootstrap());
        Properties p = new Properties();
        p.put("config.providers", "dir");
        p.put("config.providers.dir.class", "org.apache.kafka.common.config.provider.DirectoryConfigProvider");
        p.put("config.providers.dir.param.allowed.paths", secrets.toString());
        p.put("bootstrap.servers", "${dir:" + secrets + ":bootstrap}");
        p.put("key.serializer", StringSerializer.class.getName());
        p.put("value.serializer", StringSerializer.class.getName());
        String topic = Broker.createTopic("java-config-providers-dir", 1);
        try (Producer<String, String> producer = new RafkaProducer<>(p)) {
            producer.send(new ProducerRecord<>(topic, "k", "v")).get(30, TimeUnit.SECONDS);
        }
        // A path outside allowed.paths is not read: the variable stays, and the engine rejects it.
        p.put("config.providers.dir.param.allowed.paths", Files.createDirectory(dir.resolve("elsewhere")).toString());
        ConfigException e = assertThrows(ConfigException.class, () -> new RafkaProducer<String, String>(p).close());
        assertTrue(e.getMessage().contains("bootstrap.servers"), e.getMessage());
    }
}
