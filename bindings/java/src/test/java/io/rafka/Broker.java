package io.rafka;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;

/** The broker the tests run against ($RAFKA_BOOTSTRAP, which scripts/test exports) and its tools. */
final class Broker {
    private Broker() {}

    /** Fails, never skips, when no broker is given. */
    static String bootstrap() {
        String b = System.getenv("RAFKA_BOOTSTRAP");
        if (b == null || b.isBlank()) {
            fail("RAFKA_BOOTSTRAP is not set: run through scripts/test, or start a broker with scripts/kafka up and export it");
        }
        return b;
    }

    static String createTopic(String prefix, int partitions) throws ExecutionException, InterruptedException {
        String name = prefix + "-" + UUID.randomUUID().toString().substring(0, 8);
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap()))) {
            admin.createTopics(List.of(new NewTopic(name, partitions, (short) 1))).all().get();
        }
        return name;
    }

    /** {@code scripts/kafka consume TOPIC --max N}: one JSON object per record, from Kafka's own consumer. */
    static List<String> consume(String topic, int max) throws IOException, InterruptedException {
        return consume(topic, max, bootstrap());
    }

    /** The same from the broker at {@code bootstrap}. */
    static List<String> consume(String topic, int max, String bootstrap) throws IOException, InterruptedException {
        Path script = Path.of(System.getProperty("rafka.root", "../..")).resolve("scripts/kafka");
        Process p = new ProcessBuilder(script.toString(), "consume", topic, "--max", Integer.toString(max), "--timeout", "30",
                "--bootstrap", bootstrap)
                .redirectError(ProcessBuilder.Redirect.INHERIT)
                .start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(120, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            fail("scripts/kafka consume did not finish");
        }
        assertEquals(0, p.exitValue(), "scripts/kafka consume failed");
        List<String> lines = new ArrayList<>();
        for (String line : out.split("\n")) {
            if (!line.isBlank()) {
                lines.add(line);
            }
        }
        return lines;
    }
}
