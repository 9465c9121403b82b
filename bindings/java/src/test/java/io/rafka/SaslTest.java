package io.rafka;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import javax.security.auth.callback.Callback;
import javax.security.auth.login.AppConfigurationEntry;

import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.config.ConfigException;
import org.apache.kafka.common.errors.AuthenticationException;
import org.apache.kafka.common.errors.SaslAuthenticationException;
import org.apache.kafka.common.security.auth.AuthenticateCallbackHandler;
import org.apache.kafka.common.security.oauthbearer.OAuthBearerToken;
import org.apache.kafka.common.security.oauthbearer.OAuthBearerTokenCallback;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * KafkaProducer's SASL settings against a broker of this class's own (scripts/kafka up --security
 * sasl_plaintext): users alice/alice-secret and bob/bob-secret, OAUTHBEARER with Kafka's unsecured
 * JWT validator.
 */
public class SaslTest {
    static final String SCRAM = "org.apache.kafka.common.security.scram.ScramLoginModule";
    static final String OAUTH = "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule";
    /** An authentication failure must be reported in seconds, not after a delivery timeout. */
    static final long FAST_MS = 15_000;

    static SecureBroker broker;

    @BeforeAll
    static void start() throws Exception {
        broker = SecureBroker.start("/tmp/rafka-java-sasl", 19760, "sasl_plaintext");
    }

    @AfterAll
    static void stop() throws Exception {
        if (broker != null) {
            broker.close();
        }
    }

    static Properties sasl(String mechanism, String jaas) {
        Properties p = broker.config("SASL_PLAINTEXT");
        p.put("sasl.mechanism", mechanism);
        p.put("sasl.jaas.config", jaas);
        return p;
    }

    /** Sends five records, waits for each, and reads them back with Kafka's consumer. */
    static void sendAndReadBack(Properties config, String prefix) throws Exception {
        sendAndReadBack(broker, config, prefix);
    }

    static void sendAndReadBack(SecureBroker broker, Properties config, String prefix) throws Exception {
        String topic = broker.createTopic(prefix);
        List<String> sent = new ArrayList<>();
        try (Producer<String, String> producer = new RafkaProducer<>(config)) {
            List<Future<RecordMetadata>> futures = new ArrayList<>();
            for (int i = 0; i < 5; i++) {
                sent.add(prefix + "-" + i);
                futures.add(producer.send(new ProducerRecord<>(topic, "k" + i, prefix + "-" + i)));
            }
            for (Future<RecordMetadata> f : futures) {
                f.get(60, TimeUnit.SECONDS);
            }
        }
        List<String> read = broker.values(topic, sent.size());
        assertEquals(Set.copyOf(sent), Set.copyOf(read));
    }

    /** The send's failure, which must come within FAST_MS. */
    static Throwable sendFailure(Properties config) throws Exception {
        String topic = broker.createTopic("sasl-fail");
        try (Producer<String, String> producer = new RafkaProducer<>(config)) {
            long start = System.nanoTime();
            ExecutionException e = assertThrows(ExecutionException.class,
                    () -> producer.send(new ProducerRecord<>(topic, "k", "v")).get(60, TimeUnit.SECONDS));
            long ms = (System.nanoTime() - start) / 1_000_000;
            assertTrue(ms < FAST_MS, "the failure took " + ms + " ms: " + e.getCause());
            return e.getCause();
        }
    }

    @Test
    void scramSha512FromJaasConfigSendsAndReadsBack() throws Exception {
        sendAndReadBack(sasl("SCRAM-SHA-512", SCRAM + " required username=\"alice\" password=\"alice-secret\";"), "sasl-scram512");
    }

    @Test
    void wrongScramPasswordFailsFastWithSaslAuthenticationException() throws Exception {
        Throwable cause = sendFailure(sasl("SCRAM-SHA-512", SCRAM + " required username=\"alice\" password=\"not-the-password\";"));
        assertInstanceOf(SaslAuthenticationException.class, cause);
        assertTrue(!cause.getMessage().contains("not-the-password"), cause.getMessage());
    }

    @Test
    void oauthbearerWithDefaultUnsecuredLoginHandlerSendsAndReadsBack() throws Exception {
        sendAndReadBack(sasl("OAUTHBEARER", OAUTH + " required unsecuredLoginStringClaim_sub=\"alice\";"), "sasl-oauth-default");
    }

    /** Gives unsecured JWTs for bob, valid for {@code lifetimeMs} option of the JAAS entry. */
    public static class BobTokens implements AuthenticateCallbackHandler {
        static final AtomicInteger CALLS = new AtomicInteger();
        static final AtomicInteger CLOSED = new AtomicInteger();
        long lifetimeMs;

        @Override
        public void configure(Map<String, ?> configs, String mechanism, List<AppConfigurationEntry> entries) {
            assertEquals("OAUTHBEARER", mechanism);
            lifetimeMs = Long.parseLong((String) entries.get(0).getOptions().get("lifetimeMs"));
        }

        @Override
        public void handle(Callback[] callbacks) {
            CALLS.incrementAndGet();
            long now = System.currentTimeMillis();
            String jwt = SecureBroker.unsecuredJwt("bob", now, now + lifetimeMs);
            ((OAuthBearerTokenCallback) callbacks[0]).token(new OAuthBearerToken() {
                @Override
                public String value() {
                    return jwt;
                }

                @Override
                public Set<String> scope() {
                    return Set.of();
                }

                @Override
                public long lifetimeMs() {
                    return now + lifetimeMs;
                }

                @Override
                public String principalName() {
                    return "bob";
                }

                @Override
                public Long startTimeMs() {
                    return now;
                }
            });
        }

        @Override
        public void close() {
            CLOSED.incrementAndGet();
        }
    }

    @Test
    void customLoginCallbackHandlerIsAskedForTheTokenThatAuthenticates() throws Exception {
        int before = BobTokens.CALLS.get();
        Properties p = sasl("OAUTHBEARER", OAUTH + " required lifetimeMs=\"3600000\";");
        p.put("sasl.login.callback.handler.class", BobTokens.class.getName());
        sendAndReadBack(p, "sasl-oauth-custom");
        assertTrue(BobTokens.CALLS.get() > before, "the handler was not asked for a token");
    }

    @Test
    void shortLivedTokensAreRefreshedInTheBackgroundUntilClose() throws Exception {
        Properties p = sasl("OAUTHBEARER", OAUTH + " required lifetimeMs=\"1500\";");
        p.put("sasl.login.callback.handler.class", BobTokens.class.getName());
        p.put("sasl.login.refresh.window.jitter", "0");
        int closedBefore = BobTokens.CLOSED.get();
        String topic = broker.createTopic("sasl-oauth-refresh");
        int calls;
        try (Producer<String, String> producer = new RafkaProducer<>(p)) {
            int start = BobTokens.CALLS.get();
            producer.send(new ProducerRecord<>(topic, "k", "v")).get(60, TimeUnit.SECONDS);
            Thread.sleep(3_000);
            // A refresh at 80% of 1.5 s, with a floor of 1 s: at least two in three seconds.
            calls = BobTokens.CALLS.get() - start;
            assertTrue(calls >= 2, "refreshed " + calls + " times in 3 s");
        }
        assertEquals(closedBefore + 1, BobTokens.CLOSED.get(), "close() closes the handler");
        int afterClose = BobTokens.CALLS.get();
        Thread.sleep(1_500);
        assertEquals(afterClose, BobTokens.CALLS.get(), "no refresh after close()");
    }

    /** A handler whose token endpoint is down. */
    public static class FailingTokens implements AuthenticateCallbackHandler {
        @Override
        public void configure(Map<String, ?> configs, String mechanism, List<AppConfigurationEntry> entries) {}

        @Override
        public void handle(Callback[] callbacks) throws IOException {
            throw new IOException("token endpoint unreachable");
        }

        @Override
        public void close() {}
    }

    @Test
    void throwingLoginCallbackHandlerFailsTheSendFastWithAnAuthenticationError() throws Exception {
        Properties p = sasl("OAUTHBEARER", OAUTH + " required;");
        p.put("sasl.login.callback.handler.class", FailingTokens.class.getName());
        Throwable cause = sendFailure(p);
        assertInstanceOf(AuthenticationException.class, cause);
        assertTrue(cause.getMessage().contains("token endpoint unreachable"), cause.getMessage());
    }

    @Test
    void oauthbearerWithoutJaasConfigIsAConfigException() {
        Properties p = broker.config("SASL_PLAINTEXT");
        p.put("sasl.mechanism", "OAUTHBEARER");
        assertThrows(ConfigException.class, () -> new RafkaProducer<String, String>(p).close());
    }

    @Test
    void loginHandlerWithAnotherMechanismIsAConfigException() {
        Properties p = sasl("SCRAM-SHA-512", SCRAM + " required username=\"alice\" password=\"alice-secret\";");
        p.put("sasl.login.callback.handler.class", BobTokens.class.getName());
        ConfigException e = assertThrows(ConfigException.class, () -> new RafkaProducer<String, String>(p).close());
        assertTrue(e.getMessage().contains("OAUTHBEARER"), e.getMessage());
    }

    @Test
    void customLoginClassIsAConfigException() {
        Properties p = sasl("OAUTHBEARER", OAUTH + " required unsecuredLoginStringClaim_sub=\"alice\";");
        p.put("sasl.login.class", "com.example.MyLogin");
        ConfigException e = assertThrows(ConfigException.class, () -> new RafkaProducer<String, String>(p).close());
        assertTrue(e.getMessage().contains("sasl.login.class"), e.getMessage());
    }
}
