package io.rafka;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * A broker of the test's own, started with {@code scripts/kafka up --security ...} in its own state
 * dir: a PLAINTEXT listener for the tools and a secured one for the producer under test.
 */
final class SecureBroker implements AutoCloseable {
    final Path state;
    final String plainBootstrap;
    final String secureBootstrap;

    private SecureBroker(Path state, String plainBootstrap, String secureBootstrap) {
        this.state = state;
        this.plainBootstrap = plainBootstrap;
        this.secureBootstrap = secureBootstrap;
    }

    /**
     * Stops what an earlier, crashed run may have left in {@code state}, then starts a fresh broker;
     * {@code security} null: PLAINTEXT only (both bootstraps are the PLAINTEXT listener).
     */
    static SecureBroker start(String state, int port, String security, String... brokerSettings) throws IOException, InterruptedException {
        run(state, 60, "down");
        List<String> args = new ArrayList<>(List.of("up", "--port", Integer.toString(port)));
        if (security == null) {
            String out = run(state, 240, args.toArray(new String[0]));
            String plain = line(out, "bootstrap.servers=");
            return new SecureBroker(Path.of(state), plain, plain);
        }
        args.addAll(List.of("--security", security));
        for (String s : brokerSettings) {
            args.add("--set");
            args.add(s);
        }
        String out = run(state, 240, args.toArray(new String[0]));
        return new SecureBroker(Path.of(state), line(out, "bootstrap.servers="), line(out, "secure.bootstrap.servers="));
    }

    private static String line(String out, String prefix) {
        for (String l : out.split("\n")) {
            if (l.startsWith(prefix)) {
                return l.substring(prefix.length()).trim();
            }
        }
        return fail("scripts/kafka up printed no " + prefix + ":\n" + out);
    }

    private static String run(String state, int timeoutSeconds, String... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("rafka.root", "../..")).resolve("scripts/kafka").toString());
        command.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.INHERIT);
        pb.environment().put("RAFKA_KAFKA_STATE", state);
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            fail("scripts/kafka " + String.join(" ", args) + " did not finish");
        }
        assertEquals(0, p.exitValue(), "scripts/kafka " + String.join(" ", args) + " failed:\n" + out);
        return out;
    }

    @Override
    public void close() throws IOException, InterruptedException {
        run(state.toString(), 60, "down");
    }

    /** SIGSTOPs the broker: connections stay open and nothing is answered. */
    void pause() throws IOException, InterruptedException {
        run(state.toString(), 60, "pause", "1");
    }

    void resume() throws IOException, InterruptedException {
        run(state.toString(), 60, "resume", "1");
    }

    /** The test CA's certificate (ssl and sasl_ssl brokers). */
    Path caPem() {
        return state.resolve("tls/ca.pem");
    }

    String createTopic(String prefix) throws Exception {
        return createTopic(prefix, 2);
    }

    String createTopic(String prefix, int partitions) throws Exception {
        String name = prefix + "-" + UUID.randomUUID().toString().substring(0, 8);
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, plainBootstrap))) {
            admin.createTopics(List.of(new NewTopic(name, partitions, (short) 1))).all().get();
        }
        return name;
    }

    /** The values of the topic's records, read through the PLAINTEXT listener by Kafka's own consumer. */
    List<String> values(String topic, int max) throws IOException, InterruptedException {
        List<String> values = new ArrayList<>();
        for (String json : Broker.consume(topic, max, plainBootstrap)) {
            int at = json.indexOf("\"value\":\"");
            values.add(json.substring(at + 9, json.indexOf('"', at + 9)));
        }
        return values;
    }

    /** Producer settings for the secured listener, string serializers, short timeouts. */
    Properties config(String protocol) {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, secureBootstrap);
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, "30000");
        p.put("security.protocol", protocol);
        return p;
    }

    /** A token Kafka's unsecured validator accepts: {"alg":"none"}, a sub claim, iat and exp. */
    static String unsecuredJwt(String sub, long issuedAtMs, long expiresAtMs) {
        Base64.Encoder b64 = Base64.getUrlEncoder().withoutPadding();
        String header = b64.encodeToString("{\"alg\":\"none\"}".getBytes(StandardCharsets.UTF_8));
        String claims = String.format("{\"sub\":\"%s\",\"iat\":%d,\"exp\":%d}", sub, issuedAtMs / 1000, expiresAtMs / 1000);
        return header + "." + b64.encodeToString(claims.getBytes(StandardCharsets.UTF_8)) + ".";
    }
}
