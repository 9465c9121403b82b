package io.rafka.internal;

import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

import org.apache.kafka.common.config.AbstractConfig;
import org.apache.kafka.common.config.ConfigException;
import org.apache.kafka.common.config.ConfigTransformer;
import org.apache.kafka.common.config.provider.ConfigProvider;
import org.apache.kafka.common.utils.Utils;

/**
 * {@code config.providers}: resolves {@code ${provider:[path:]key}} in string values, as
 * KafkaProducer's configuration does when it is made. Providers are named by
 * {@code config.providers=name[,name...]}, their classes by {@code config.providers.NAME.class},
 * their settings by {@code config.providers.NAME.param.*}; the system property
 * {@code org.apache.kafka.automatic.config.providers}, when set, lists the provider classes allowed.
 * Each provider is configured, asked once, and closed; values are not reloaded (nor are they in
 * KafkaProducer).
 */
final class ConfigProviders {
    static final String PREFIX = AbstractConfig.CONFIG_PROVIDERS_CONFIG + ".";

    private ConfigProviders() {}

    /** True for {@code config.providers} and the {@code config.providers.*} keys that configure the providers. */
    static boolean isProviderKey(String key) {
        return key.equals(AbstractConfig.CONFIG_PROVIDERS_CONFIG) || key.startsWith(PREFIX);
    }

    /** {@code originals} with its variables resolved; the same map when no provider is set. */
    static Map<String, Object> resolve(Map<String, Object> originals) {
        Object names = originals.get(AbstractConfig.CONFIG_PROVIDERS_CONFIG);
        String list = names == null ? "" : ProducerSettings.asString(AbstractConfig.CONFIG_PROVIDERS_CONFIG, names);
        if (list.isBlank()) {
            return originals;
        }
        Set<String> allowed = allowedClasses();
        Map<String, ConfigProvider> providers = new LinkedHashMap<>();
        try {
            for (String raw : list.split(",")) {
                String name = raw.trim();
                if (name.isEmpty() || providers.containsKey(name)) {
                    continue;
                }
                String classKey = PREFIX + name + ".class";
                Object type = originals.get(classKey);
                if (type == null) {
                    // KafkaProducer skips a named provider without a class; its variables then stay as written.
                    continue;
                }
                String className = ProducerSettings.asString(classKey, type);
                if (allowed != null && !allowed.contains(className)) {
                    throw new ConfigException(className + " is not allowed. Update System property '"
                            + AbstractConfig.AUTOMATIC_CONFIG_PROVIDERS_PROPERTY + "' to allow " + className);
                }
                ConfigProvider provider;
                try {
                    provider = Utils.newInstance(className, ConfigProvider.class);
                } catch (ClassNotFoundException e) {
                    throw new ConfigException(classKey, className, "Could not load config provider class or one of its dependencies");
                } catch (RuntimeException e) {
                    throw new ConfigException(classKey, className, "cannot make the config provider: " + e);
                }
                providers.put(name, provider);
                provider.configure(params(originals, PREFIX + name + ".param."));
            }
            if (providers.isEmpty()) {
                return originals;
            }
            Map<String, String> strings = new HashMap<>();
            originals.forEach((k, v) -> {
                if (v instanceof String && !isProviderKey(k)) {
                    strings.put(k, (String) v);
                }
            });
            Map<String, Object> resolved = new HashMap<>(originals);
            resolved.putAll(new ConfigTransformer(providers).transform(strings).data());
            return resolved;
        } finally {
            providers.values().forEach(p -> Utils.closeQuietly(p, "config provider"));
        }
    }

    private static Set<String> allowedClasses() {
        String property = System.getProperty(AbstractConfig.AUTOMATIC_CONFIG_PROVIDERS_PROPERTY);
        return property == null ? null : Arrays.stream(property.split(",")).map(String::trim).collect(Collectors.toSet());
    }

    private static Map<String, Object> params(Map<String, Object> originals, String prefix) {
        Map<String, Object> out = new HashMap<>();
        originals.forEach((k, v) -> {
            if (k.startsWith(prefix) && k.length() > prefix.length()) {
                out.put(k.substring(prefix.length()), v);
            }
        });
        return out;
    }
}
