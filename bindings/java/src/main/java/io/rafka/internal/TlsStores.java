package io.rafka.internal;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.Key;
import java.security.KeyStore;
import java.security.KeyStoreException;
import java.security.PrivateKey;
import java.security.UnrecoverableKeyException;
import java.security.cert.Certificate;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collections;
import java.util.List;
import java.util.Map;

import org.apache.kafka.common.config.ConfigException;
import org.apache.kafka.common.config.SslConfigs;

/**
 * Java's trust and key stores for the engine, which takes PEM: a {@code ssl.truststore.type} /
 * {@code ssl.keystore.type} other than PEM (JKS, Java's default; PKCS12; any type the JDK or a
 * provider from {@code security.providers} knows) is read here with {@link KeyStore} and its password,
 * and handed over as PEM text ({@code ssl.truststore.certificates}, {@code ssl.keystore.key} +
 * {@code ssl.keystore.certificate.chain}), in memory: nothing is written to disk. PEM stores go to
 * the engine as they are.
 */
final class TlsStores {
    private TlsStores() {}

    static boolean isPem(Object type) {
        return type != null && type.toString().trim().equalsIgnoreCase("PEM");
    }

    /** The type as KafkaProducer reads it: unset or blank means JKS. */
    private static String type(Map<String, Object> originals, String key) {
        Object t = originals.get(key);
        String s = t == null ? "" : t.toString().trim();
        return s.isEmpty() ? "JKS" : s;
    }

    /**
     * Adds the engine settings for the trust store (when its type is not PEM and a location is
     * set) and the key store (likewise) to {@code keys}/{@code values}. Returns the keys it handled,
     * which the caller does not pass on.
     */
    static List<String> toEngine(Map<String, Object> originals, List<String> keys, List<String> values) {
        List<String> handled = new ArrayList<>();
        Object protocol = originals.get("security.protocol");
        boolean tls = protocol != null && protocol.toString().trim().toUpperCase().endsWith("SSL");
        String trustType = type(originals, SslConfigs.SSL_TRUSTSTORE_TYPE_CONFIG);
        if (!isPem(trustType)) {
            handled.addAll(List.of(SslConfigs.SSL_TRUSTSTORE_TYPE_CONFIG, SslConfigs.SSL_TRUSTSTORE_LOCATION_CONFIG, SslConfigs.SSL_TRUSTSTORE_PASSWORD_CONFIG));
            Object location = originals.get(SslConfigs.SSL_TRUSTSTORE_LOCATION_CONFIG);
            // Without TLS, KafkaProducer does not open the stores either.
            if (tls && location != null && !location.toString().isBlank()) {
                if (originals.get(SslConfigs.SSL_TRUSTSTORE_CERTIFICATES_CONFIG) != null) {
                    throw new ConfigException(SslConfigs.SSL_TRUSTSTORE_CERTIFICATES_CONFIG, "[hidden]",
                            "set either ssl.truststore.location or ssl.truststore.certificates, not both");
                }
                KeyStore store = load(originals, trustType, SslConfigs.SSL_TRUSTSTORE_LOCATION_CONFIG, SslConfigs.SSL_TRUSTSTORE_PASSWORD_CONFIG);
                keys.add(SslConfigs.SSL_TRUSTSTORE_CERTIFICATES_CONFIG);
                values.add(trustedCertificates(store, location.toString().trim()));
            }
        } else if (originals.get(SslConfigs.SSL_TRUSTSTORE_PASSWORD_CONFIG) != null) {
            throw new ConfigException(SslConfigs.SSL_TRUSTSTORE_PASSWORD_CONFIG, "[hidden]", "a PEM trust store has no password (ssl.truststore.type=PEM)");
        }
        String keyType = type(originals, SslConfigs.SSL_KEYSTORE_TYPE_CONFIG);
        if (!isPem(keyType)) {
            handled.addAll(List.of(SslConfigs.SSL_KEYSTORE_TYPE_CONFIG, SslConfigs.SSL_KEYSTORE_LOCATION_CONFIG, SslConfigs.SSL_KEYSTORE_PASSWORD_CONFIG));
            Object location = originals.get(SslConfigs.SSL_KEYSTORE_LOCATION_CONFIG);
            if (tls && location != null && !location.toString().isBlank()) {
                if (originals.get(SslConfigs.SSL_KEYSTORE_KEY_CONFIG) != null || originals.get(SslConfigs.SSL_KEYSTORE_CERTIFICATE_CHAIN_CONFIG) != null) {
                    throw new ConfigException(SslConfigs.SSL_KEYSTORE_LOCATION_CONFIG, location,
                            "set either ssl.keystore.location or ssl.keystore.key and ssl.keystore.certificate.chain, not both");
                }
                KeyStore store = load(originals, keyType, SslConfigs.SSL_KEYSTORE_LOCATION_CONFIG, SslConfigs.SSL_KEYSTORE_PASSWORD_CONFIG);
                String[] keyAndChain = privateKeyAndChain(store, originals, location.toString().trim());
                keys.add(SslConfigs.SSL_KEYSTORE_KEY_CONFIG);
                values.add(keyAndChain[0]);
                keys.add(SslConfigs.SSL_KEYSTORE_CERTIFICATE_CHAIN_CONFIG);
                values.add(keyAndChain[1]);
                // The key is handed over decrypted: the engine needs no password for it.
                handled.add(SslConfigs.SSL_KEY_PASSWORD_CONFIG);
            }
        } else if (originals.get(SslConfigs.SSL_KEYSTORE_PASSWORD_CONFIG) != null) {
            throw new ConfigException(SslConfigs.SSL_KEYSTORE_PASSWORD_CONFIG, "[hidden]",
                    "a PEM key store has no store password (ssl.keystore.type=PEM); an encrypted PEM key takes ssl.key.password");
        }
        return handled;
    }

    private static char[] password(Map<String, Object> originals, String key) {
        Object p = originals.get(key);
        return p == null ? null : ProducerSettings.asString(key, p).toCharArray();
    }

    private static KeyStore load(Map<String, Object> originals, String type, String locationKey, String passwordKey) {
        String location = originals.get(locationKey).toString().trim();
        KeyStore store;
        try {
            store = KeyStore.getInstance(type);
        } catch (KeyStoreException e) {
            throw new ConfigException(locationKey.replace("location", "type"), type, "no key store type of that name in this JVM (JKS, PKCS12 or PEM, or one a security provider adds)");
        }
        try (InputStream in = Files.newInputStream(Path.of(location))) {
            store.load(in, password(originals, passwordKey));
        } catch (NoSuchFileException e) {
            throw new ConfigException(locationKey, location, "no such file");
        } catch (IOException e) {
            // KeyStore.load reports a wrong password as an IOException caused by an UnrecoverableKeyException.
            String why = e.getCause() instanceof UnrecoverableKeyException
                    ? "the " + type + " store cannot be opened with " + passwordKey + " (wrong or missing password)"
                    : "not readable as a " + type + " store: " + e.getMessage();
            throw new ConfigException(locationKey, location, why);
        } catch (GeneralSecurityException e) {
            throw new ConfigException(locationKey, location, "not readable as a " + type + " store: " + e);
        }
        return store;
    }

    /** Every certificate in the store, as the JDK's PKIX trust manager takes them: trusted entries and key entries' certificates. */
    private static String trustedCertificates(KeyStore store, String location) {
        StringBuilder pem = new StringBuilder();
        try {
            for (String alias : Collections.list(store.aliases())) {
                Certificate c = store.getCertificate(alias);
                if (c != null) {
                    appendPem(pem, "CERTIFICATE", c.getEncoded());
                }
            }
        } catch (GeneralSecurityException e) {
            throw new ConfigException(SslConfigs.SSL_TRUSTSTORE_LOCATION_CONFIG, location, "a certificate in the store is not readable: " + e);
        }
        if (pem.length() == 0) {
            throw new ConfigException(SslConfigs.SSL_TRUSTSTORE_LOCATION_CONFIG, location, "the trust store holds no certificate");
        }
        return pem.toString();
    }

    /**
     * The store's one private key (PKCS#8 PEM) and its certificate chain (PEM), unlocked with
     * ssl.key.password, else ssl.keystore.password (as KafkaProducer does).
     */
    private static String[] privateKeyAndChain(KeyStore store, Map<String, Object> originals, String location) {
        String locationKey = SslConfigs.SSL_KEYSTORE_LOCATION_CONFIG;
        char[] keyPassword = password(originals, SslConfigs.SSL_KEY_PASSWORD_CONFIG);
        if (keyPassword == null) {
            keyPassword = password(originals, SslConfigs.SSL_KEYSTORE_PASSWORD_CONFIG);
        }
        try {
            List<String> keyAliases = new ArrayList<>();
            for (String alias : Collections.list(store.aliases())) {
                if (store.isKeyEntry(alias)) {
                    keyAliases.add(alias);
                }
            }
            if (keyAliases.isEmpty()) {
                throw new ConfigException(locationKey, location, "the key store holds no private key");
            }
            if (keyAliases.size() > 1) {
                throw new ConfigException(locationKey, location, "the key store holds " + keyAliases.size() + " private keys " + keyAliases
                        + "; rafka presents one client certificate: keep one key entry in the store");
            }
            String alias = keyAliases.get(0);
            if (keyPassword == null) {
                throw new ConfigException(locationKey, location, "the private key '" + alias + "' needs a password: set ssl.key.password or ssl.keystore.password");
            }
            Key key;
            try {
                key = store.getKey(alias, keyPassword);
            } catch (UnrecoverableKeyException e) {
                throw new ConfigException(SslConfigs.SSL_KEY_PASSWORD_CONFIG, "[hidden]",
                        "neither ssl.key.password nor, when it is unset, ssl.keystore.password unlocks the private key '" + alias + "'");
            }
            if (!(key instanceof PrivateKey) || !"PKCS#8".equals(key.getFormat())) {
                throw new ConfigException(locationKey, location, "the key entry '" + alias + "' is not a private key in PKCS#8 form");
            }
            Certificate[] chain = store.getCertificateChain(alias);
            if (chain == null || chain.length == 0) {
                throw new ConfigException(locationKey, location, "the private key '" + alias + "' has no certificate chain");
            }
            StringBuilder chainPem = new StringBuilder();
            for (Certificate c : chain) {
                appendPem(chainPem, "CERTIFICATE", c.getEncoded());
            }
            StringBuilder keyPem = new StringBuilder();
            appendPem(keyPem, "PRIVATE KEY", Pkcs8.forRustls((PrivateKey) key, chain[0].getPublicKey()));
            return new String[] {keyPem.toString(), chainPem.toString()};
        } catch (GeneralSecurityException e) {
            throw new ConfigException(locationKey, location, "the key store's entries are not readable: " + e);
        }
    }

    static void appendPem(StringBuilder out, String label, byte[] der) {
        out.append("-----BEGIN ").append(label).append("-----\n");
        out.append(Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII)).encodeToString(der));
        out.append("\n-----END ").append(label).append("-----\n");
    }
}
