// Helper for scripts/kafka, run against a real broker with Kafka's own Java client.
//
// Commands (all print diagnostics to stderr, results to stdout):
//   probe BOOTSTRAP EXPECTED_BROKERS TIMEOUT_S
//       Waits until EXPECTED_BROKERS brokers are registered and a probe topic can be
//       created (replicated to all of them) and deleted. Exit 0 when ready, 1 on timeout.
//   await-node BOOTSTRAP NODE_ID TIMEOUT_S
//       Waits until NODE_ID is a registered broker again and is back in the ISR of every
//       partition it replicates. Exit 0 when in sync, 1 on timeout.
//   consume BOOTSTRAP TOPIC MAX TIMEOUT_S ISOLATION
//       Reads TOPIC from the beginning (all partitions assigned, no consumer group) and
//       prints one JSON object per record. Stops after MAX records (MAX < 0: when the end
//       offsets seen at start are reached) or after TIMEOUT_S seconds without new records.
//
// Compiled once by scripts/kafka into the cache, keyed by a hash of this file and the
// Kafka version, so every later call costs one JVM start and nothing more.

import java.io.BufferedOutputStream;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ListTopicsOptions;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.TopicPartitionInfo;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

public final class KafkaHarnessTool {
    private KafkaHarnessTool() {}

    public static void main(String[] args) throws Exception {
        if (args.length == 0) {
            usage();
        }
        int rc;
        switch (args[0]) {
            case "probe":
                requireArgs(args, 4);
                rc = probe(args[1], Integer.parseInt(args[2]), Integer.parseInt(args[3]));
                break;
            case "await-node":
                requireArgs(args, 4);
                rc = awaitNode(args[1], Integer.parseInt(args[2]), Integer.parseInt(args[3]));
                break;
            case "consume":
                requireArgs(args, 6);
                rc = consume(args[1], args[2], Long.parseLong(args[3]), Integer.parseInt(args[4]), args[5]);
                break;
            default:
                usage();
                return;
        }
        System.exit(rc);
    }

    private static void usage() {
        System.err.println("usage: KafkaHarnessTool probe|await-node|consume ... (called by scripts/kafka)");
        System.exit(2);
    }

    private static void requireArgs(String[] args, int n) {
        if (args.length != n) {
            usage();
        }
    }

    private static Admin admin(String bootstrap) {
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "5000");
        p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "10000");
        p.put(AdminClientConfig.RECONNECT_BACKOFF_MAX_MS_CONFIG, "500");
        p.put(AdminClientConfig.RETRY_BACKOFF_MS_CONFIG, "100");
        return Admin.create(p);
    }

    private static String rootMessage(Throwable t) {
        Throwable c = t;
        while ((c instanceof ExecutionException) && c.getCause() != null) {
            c = c.getCause();
        }
        return c.getClass().getSimpleName() + ": " + c.getMessage();
    }

    private static void pause(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    // ---- probe -------------------------------------------------------------------------

    private static int probe(String bootstrap, int expectedBrokers, int timeoutS) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(timeoutS);
        String topic = "__rafka_probe_" + ProcessHandle.current().pid();
        String last = "no answer yet";
        try (Admin admin = admin(bootstrap)) {
            while (System.nanoTime() < deadline) {
                try {
                    int brokers = admin.describeCluster().nodes().get(5, TimeUnit.SECONDS).size();
                    if (brokers < expectedBrokers) {
                        last = brokers + " of " + expectedBrokers + " brokers registered";
                        pause(200);
                        continue;
                    }
                    NewTopic t = new NewTopic(topic, 1, (short) expectedBrokers);
                    admin.createTopics(Collections.singleton(t)).all().get(10, TimeUnit.SECONDS);
                    admin.deleteTopics(Collections.singleton(topic)).all().get(10, TimeUnit.SECONDS);
                    return 0;
                } catch (Exception e) {
                    last = rootMessage(e);
                    // A previous attempt may have created the topic before timing out.
                    try {
                        admin.deleteTopics(Collections.singleton(topic)).all().get(5, TimeUnit.SECONDS);
                    } catch (Exception ignored) {
                        // absent or not deletable yet; the next round tries again
                    }
                    pause(300);
                }
            }
        }
        System.err.println("probe: cluster at " + bootstrap + " not ready after " + timeoutS + " s: " + last);
        return 1;
    }

    // ---- await-node --------------------------------------------------------------------

    private static int awaitNode(String bootstrap, int nodeId, int timeoutS) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(timeoutS);
        String last = "no answer yet";
        try (Admin admin = admin(bootstrap)) {
            while (System.nanoTime() < deadline) {
                try {
                    boolean registered = false;
                    for (Node n : admin.describeCluster().nodes().get(5, TimeUnit.SECONDS)) {
                        registered |= n.id() == nodeId;
                    }
                    if (!registered) {
                        last = "broker " + nodeId + " not registered";
                        pause(200);
                        continue;
                    }
                    Set<String> names = admin.listTopics(new ListTopicsOptions().listInternal(true))
                            .names().get(5, TimeUnit.SECONDS);
                    Map<String, TopicDescription> topics = names.isEmpty()
                            ? Collections.emptyMap()
                            : admin.describeTopics(names).allTopicNames().get(10, TimeUnit.SECONDS);
                    String lagging = null;
                    for (TopicDescription d : topics.values()) {
                        for (TopicPartitionInfo p : d.partitions()) {
                            boolean replica = p.replicas().stream().anyMatch(n -> n.id() == nodeId);
                            boolean inIsr = p.isr().stream().anyMatch(n -> n.id() == nodeId);
                            if (replica && !inIsr) {
                                lagging = d.name() + "-" + p.partition();
                                break;
                            }
                        }
                        if (lagging != null) {
                            break;
                        }
                    }
                    if (lagging == null) {
                        return 0;
                    }
                    last = "broker " + nodeId + " not yet in the ISR of " + lagging;
                    pause(300);
                } catch (Exception e) {
                    // Topics deleted between list and describe, or a request racing the restart.
                    last = rootMessage(e);
                    pause(300);
                }
            }
        }
        System.err.println("await-node: broker " + nodeId + " not back after " + timeoutS + " s: " + last);
        return 1;
    }

    // ---- consume -----------------------------------------------------------------------

    private static int consume(String bootstrap, String topic, long max, int timeoutS, String isolation) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, isolation);
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, "2000");
        p.put(ConsumerConfig.RECONNECT_BACKOFF_MAX_MS_CONFIG, "500");

        PrintStream out = new PrintStream(
                new BufferedOutputStream(new FileOutputStream(FileDescriptor.out), 1 << 16),
                false, StandardCharsets.UTF_8);
        long count = 0;
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(p)) {
            List<PartitionInfo> infos;
            try {
                infos = consumer.partitionsFor(topic, Duration.ofSeconds(Math.max(timeoutS, 5)));
            } catch (Exception e) {
                System.err.println("consume: cannot read metadata of topic '" + topic + "' from "
                        + bootstrap + ": " + rootMessage(e));
                return 1;
            }
            if (infos == null || infos.isEmpty()) {
                System.err.println("consume: topic '" + topic + "' does not exist on " + bootstrap);
                return 1;
            }
            List<TopicPartition> parts = new ArrayList<>();
            for (PartitionInfo info : infos) {
                parts.add(new TopicPartition(topic, info.partition()));
            }
            consumer.assign(parts);
            consumer.seekToBeginning(parts);
            Map<TopicPartition, Long> end = new HashMap<>(consumer.endOffsets(parts, Duration.ofSeconds(30)));

            long idleLimit = TimeUnit.SECONDS.toNanos(timeoutS);
            long lastProgress = System.nanoTime();
            StringBuilder sb = new StringBuilder(256);
            while (true) {
                if (max >= 0 && count >= max) {
                    break;
                }
                if (max < 0 && reachedEnd(consumer, end)) {
                    break;
                }
                if (System.nanoTime() - lastProgress > idleLimit) {
                    System.err.println("consume: no new records for " + timeoutS + " s, stopping");
                    break;
                }
                ConsumerRecords<byte[], byte[]> records = consumer.poll(Duration.ofMillis(200));
                if (!records.isEmpty()) {
                    lastProgress = System.nanoTime();
                }
                for (ConsumerRecord<byte[], byte[]> r : records) {
                    if (max >= 0 && count >= max) {
                        break;
                    }
                    sb.setLength(0);
                    appendRecord(sb, r);
                    out.append(sb).append('\n');
                    count++;
                }
            }
        } finally {
            out.flush();
        }
        System.err.println("consume: " + count + " records from " + topic);
        return 0;
    }

    private static boolean reachedEnd(KafkaConsumer<byte[], byte[]> consumer, Map<TopicPartition, Long> end) {
        for (Map.Entry<TopicPartition, Long> e : end.entrySet()) {
            if (consumer.position(e.getKey(), Duration.ofSeconds(30)) < e.getValue()) {
                return false;
            }
        }
        return true;
    }

    // ---- JSON --------------------------------------------------------------------------

    private static void appendRecord(StringBuilder sb, ConsumerRecord<byte[], byte[]> r) {
        sb.append("{\"partition\":").append(r.partition());
        sb.append(",\"offset\":").append(r.offset());
        sb.append(",\"timestamp\":").append(r.timestamp());
        sb.append(",\"timestamp_type\":");
        appendString(sb, r.timestampType().name);
        appendBytesField(sb, "key", r.key());
        appendBytesField(sb, "value", r.value());
        sb.append(",\"headers\":[");
        boolean first = true;
        for (Header h : r.headers()) {
            sb.append(first ? "{" : ",{");
            first = false;
            sb.append("\"key\":");
            appendString(sb, h.key());
            appendBytesField(sb, "value", h.value());
            sb.append('}');
        }
        sb.append("]}");
    }

    /** Appends `,"name":...` and, for bytes that are not valid UTF-8, `,"name_encoding":"base64"`. */
    private static void appendBytesField(StringBuilder sb, String name, byte[] bytes) {
        sb.append(",\"").append(name).append("\":");
        if (bytes == null) {
            sb.append("null");
            return;
        }
        String text = decodeUtf8(bytes);
        if (text != null) {
            appendString(sb, text);
        } else {
            sb.append('"').append(Base64.getEncoder().encodeToString(bytes)).append('"');
            sb.append(",\"").append(name).append("_encoding\":\"base64\"");
        }
    }

    /** Strict decode: returns null for malformed input instead of substituting U+FFFD. */
    private static String decodeUtf8(byte[] bytes) {
        try {
            return StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(bytes))
                    .toString();
        } catch (CharacterCodingException e) {
            return null;
        }
    }

    private static final char[] HEX = "0123456789abcdef".toCharArray();

    private static void appendString(StringBuilder sb, String s) {
        sb.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"': sb.append("\\\""); break;
                case '\\': sb.append("\\\\"); break;
                case '\n': sb.append("\\n"); break;
                case '\r': sb.append("\\r"); break;
                case '\t': sb.append("\\t"); break;
                case '\b': sb.append("\\b"); break;
                case '\f': sb.append("\\f"); break;
                default:
                    if (c < 0x20) {
                        sb.append("\\u00").append(HEX[c >> 4]).append(HEX[c & 0xf]);
                    } else {
                        sb.append(c);
                    }
            }
        }
        sb.append('"');
    }
}
