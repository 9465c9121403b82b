package io.rafka.internal;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

import javax.security.auth.callback.Callback;
import javax.security.auth.login.AppConfigurationEntry;

import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.config.ConfigException;
import org.apache.kafka.common.config.SaslConfigs;
import org.apache.kafka.common.config.types.Password;
import org.apache.kafka.common.security.JaasContext;
import org.apache.kafka.common.security.auth.AuthenticateCallbackHandler;
import org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule;
import org.apache.kafka.common.security.oauthbearer.OAuthBearerToken;
import org.apache.kafka.common.security.oauthbearer.OAuthBearerTokenCallback;
import org.apache.kafka.common.security.oauthbearer.internals.unsecured.OAuthBearerUnsecuredLoginCallbackHandler;

/**
 * OAUTHBEARER tokens from a login callback handler, as KafkaProducer gets them: the handler named by
 * {@code sasl.login.callback.handler.class} (default: kafka-clients' unsecured handler, which builds
 * a token from the {@code unsecuredLogin*} options of {@code sasl.jaas.config}) is configured with the
 * producer's settings, the mechanism and the JAAS entries, and asked with an
 * {@link OAuthBearerTokenCallback}.
 *
 * <p>The engine asks for a token on its I/O thread each time a connection authenticates, through
 * {@link #currentToken()}, which only reads the cached token. A daemon thread
 * ({@code rafka-oauthbearer-refresh}) fetches the first token and a new one at
 * {@code sasl.login.refresh.window.factor} (+ up to {@code sasl.login.refresh.window.jitter}) of each
 * token's lifetime, retrying failures after {@code sasl.login.retry.backoff.ms}, doubling up to
 * {@code sasl.login.retry.backoff.max.ms}.
 */
public final class OAuthBearerTokens implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger("io.rafka");

    private final AuthenticateCallbackHandler handler;
    private final String handlerName;
    private final double windowFactor;
    private final double windowJitter;
    private final long backoffMs;
    private final long backoffMaxMs;
    private final ScheduledExecutorService refresher;

    /** The current token and its expiry, replaced together. */
    private record Current(String value, long expiresAtMs) {}

    private volatile Current current;
    /** Why the last fetch failed (null after a success). Never contains a token. */
    private volatile String lastError;
    private long nextBackoffMs;

    /**
     * Tokens for a producer whose settings choose OAUTHBEARER without rafka's static
     * {@code sasl.oauthbearer.token}; null otherwise. Fetches the first token before returning; a
     * failure there is kept (the engine reports it as an authentication error) and retried.
     */
    static OAuthBearerTokens forSettings(Map<String, Object> originals) {
        Object mechanism = originals.getOrDefault(SaslConfigs.SASL_MECHANISM, originals.get("sasl.mechanisms"));
        if (mechanism == null || !OAuthBearerLoginModule.OAUTHBEARER_MECHANISM.equals(mechanism.toString().trim())
                || originals.get("sasl.oauthbearer.token") != null) {
            return null;
        }
        Map<String, Object> parsed = parse(originals);
        Password jaas = (Password) parsed.get(SaslConfigs.SASL_JAAS_CONFIG);
        List<AppConfigurationEntry> entries;
        try {
            entries = JaasContext.loadClientContext(parsed).configurationEntries();
        } catch (IllegalArgumentException | SecurityException e) {
            throw new ConfigException(SaslConfigs.SASL_JAAS_CONFIG, jaas == null ? null : "[hidden]",
                    "OAUTHBEARER needs an OAuthBearerLoginModule entry (or rafka's sasl.oauthbearer.token): " + e.getMessage());
        }
        Class<?> type = (Class<?>) parsed.get(SaslConfigs.SASL_LOGIN_CALLBACK_HANDLER_CLASS);
        if (type == null) {
            type = OAuthBearerUnsecuredLoginCallbackHandler.class;
        }
        if (!AuthenticateCallbackHandler.class.isAssignableFrom(type)) {
            throw new ConfigException(SaslConfigs.SASL_LOGIN_CALLBACK_HANDLER_CLASS, type.getName(),
                    "not an " + AuthenticateCallbackHandler.class.getName());
        }
        AuthenticateCallbackHandler handler;
        try {
            handler = (AuthenticateCallbackHandler) type.getDeclaredConstructor().newInstance();
        } catch (ReflectiveOperationException e) {
            throw new ConfigException(SaslConfigs.SASL_LOGIN_CALLBACK_HANDLER_CLASS, type.getName(), "cannot instantiate it: " + e);
        }
        try {
            handler.configure(parsed, OAuthBearerLoginModule.OAUTHBEARER_MECHANISM, entries);
        } catch (RuntimeException e) {
            closeHandler(handler);
            throw new KafkaException("Failed to configure the SASL login callback handler " + type.getName(), e);
        }
        OAuthBearerTokens tokens = new OAuthBearerTokens(handler, type.getName(), parsed);
        tokens.refresh();
        return tokens;
    }

    /**
     * The settings as KafkaProducer hands them to the handler: parsed by ProducerConfig's definitions
     * (typed values and defaults). Serializers are not the handler's business; placeholders stand in
     * for them when they are passed to the constructor instead.
     */
    private static Map<String, Object> parse(Map<String, Object> originals) {
        Map<String, Object> copy = new HashMap<>(originals);
        copy.putIfAbsent(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, org.apache.kafka.common.serialization.ByteArraySerializer.class);
        copy.putIfAbsent(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, org.apache.kafka.common.serialization.ByteArraySerializer.class);
        Map<String, Object> parsed = new HashMap<>(ProducerConfig.configDef().parse(copy));
        // Keys that are not KafkaProducer's (rafka's own) are passed on as given, as KafkaProducer
        // passes unknown keys to plugins.
        originals.forEach(parsed::putIfAbsent);
        return parsed;
    }

    private OAuthBearerTokens(AuthenticateCallbackHandler handler, String handlerName, Map<String, Object> parsed) {
        this.handler = handler;
        this.handlerName = handlerName;
        this.windowFactor = (Double) parsed.get(SaslConfigs.SASL_LOGIN_REFRESH_WINDOW_FACTOR);
        this.windowJitter = (Double) parsed.get(SaslConfigs.SASL_LOGIN_REFRESH_WINDOW_JITTER);
        this.backoffMs = Math.max(1, (Long) parsed.get(SaslConfigs.SASL_LOGIN_RETRY_BACKOFF_MS));
        this.backoffMaxMs = Math.max(backoffMs, (Long) parsed.get(SaslConfigs.SASL_LOGIN_RETRY_BACKOFF_MAX_MS));
        this.nextBackoffMs = backoffMs;
        ScheduledThreadPoolExecutor executor = new ScheduledThreadPoolExecutor(1, r -> {
            Thread t = new Thread(r, "rafka-oauthbearer-refresh");
            t.setDaemon(true);
            return t;
        });
        executor.setExecuteExistingDelayedTasksAfterShutdownPolicy(false);
        this.refresher = executor;
    }

    /**
     * Called by the engine's I/O thread (through JNI): the cached token. Throws IllegalStateException
     * with the reason when there is none that is still valid; the message never contains a token.
     */
    public String currentToken() {
        Current c = current;
        if (c != null && System.currentTimeMillis() < c.expiresAtMs) {
            return c.value;
        }
        String why = lastError;
        if (c != null) {
            throw new IllegalStateException("the OAUTHBEARER token from " + handlerName + " expired and no new one was obtained"
                    + (why == null ? "" : ": " + why));
        }
        throw new IllegalStateException("no OAUTHBEARER token from " + handlerName + (why == null ? " yet" : ": " + why));
    }

    /** Asks the handler for a token now; schedules the next refresh, or a retry on failure. */
    private synchronized void refresh() {
        if (refresher.isShutdown()) {
            return;
        }
        long delayMs;
        try {
            OAuthBearerToken token = fetch();
            long now = System.currentTimeMillis();
            current = new Current(token.value(), token.lifetimeMs());
            lastError = null;
            nextBackoffMs = backoffMs;
            double fraction = windowFactor + ThreadLocalRandom.current().nextDouble() * windowJitter;
            delayMs = Math.max(1000, (long) ((token.lifetimeMs() - now) * fraction));
        } catch (Exception | LinkageError e) {
            // LinkageError: e.g. the unsecured handler without Jackson on the class path.
            lastError = "the login callback handler failed: " + e;
            LOG.log(System.Logger.Level.WARNING, "rafka: OAUTHBEARER token refresh failed, retrying in " + nextBackoffMs + " ms: " + e);
            delayMs = nextBackoffMs;
            nextBackoffMs = Math.min(backoffMaxMs, nextBackoffMs * 2);
        }
        try {
            refresher.schedule(this::refresh, delayMs, TimeUnit.MILLISECONDS);
        } catch (java.util.concurrent.RejectedExecutionException closed) {
            // close() ran meanwhile.
        }
    }

    private OAuthBearerToken fetch() throws Exception {
        OAuthBearerTokenCallback callback = new OAuthBearerTokenCallback();
        handler.handle(new Callback[] {callback});
        OAuthBearerToken token = callback.token();
        if (token == null) {
            throw new KafkaException("no token (error code " + callback.errorCode() + (callback.errorDescription() == null ? "" : ", "
                    + callback.errorDescription()) + ")");
        }
        return token;
    }

    private static void closeHandler(AuthenticateCallbackHandler handler) {
        try {
            handler.close();
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "rafka: closing the SASL login callback handler failed: " + e);
        }
    }

    /** Stops refreshing and closes the handler. */
    @Override
    public void close() {
        refresher.shutdownNow();
        synchronized (this) {
            closeHandler(handler);
        }
    }
}
