package io.rafka.internal;

import java.io.ByteArrayOutputStream;
import java.math.BigInteger;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.interfaces.ECPrivateKey;
import java.security.interfaces.ECPublicKey;
import java.util.Arrays;

/**
 * A private key's PKCS#8 encoding as the engine's TLS library (rustls with ring) reads it. RSA and
 * Ed25519 keys are taken as the JDK encodes them. For EC keys ring requires the public key inside
 * the ECPrivateKey structure (RFC 5915's optional {@code [1] publicKey}), which the JDK leaves out:
 * it is added here from the certificate's public key.
 */
final class Pkcs8 {
    private Pkcs8() {}

    static byte[] forRustls(PrivateKey key, PublicKey certificateKey) {
        byte[] der = key.getEncoded();
        if (!(key instanceof ECPrivateKey) || !(certificateKey instanceof ECPublicKey)) {
            return der;
        }
        // PrivateKeyInfo ::= SEQUENCE { version INTEGER, algorithm AlgorithmIdentifier, privateKey OCTET STRING }
        int[] info = header(der, 0, 0x30);
        int at = info[0];
        int[] version = header(der, at, 0x02);
        at = version[0] + version[1];
        int[] algorithm = header(der, at, 0x30);
        byte[] algorithmDer = Arrays.copyOfRange(der, at, algorithm[0] + algorithm[1]);
        at = algorithm[0] + algorithm[1];
        int[] octets = header(der, at, 0x04);
        // ECPrivateKey ::= SEQUENCE { version 1, privateKey OCTET STRING, [0] parameters OPTIONAL, [1] publicKey OPTIONAL }
        int[] ec = header(der, octets[0], 0x30);
        int end = ec[0] + ec[1];
        int p = ec[0];
        while (p < end) {
            int[] field = header(der, p, -1);
            if ((der[p] & 0xff) == 0xa1) {
                return der; // the public key is there already
            }
            p = field[0] + field[1];
        }
        ECPublicKey pub = (ECPublicKey) certificateKey;
        int size = (pub.getParams().getCurve().getField().getFieldSize() + 7) / 8;
        byte[] point = new byte[1 + 2 * size];
        point[0] = 4; // uncompressed
        fixed(pub.getW().getAffineX(), point, 1, size);
        fixed(pub.getW().getAffineY(), point, 1 + size, size);
        byte[] d = new byte[size];
        fixed(((ECPrivateKey) key).getS(), d, 0, size);
        byte[] bitString = new byte[point.length + 1]; // no unused bits
        System.arraycopy(point, 0, bitString, 1, point.length);
        byte[] ecPrivateKey = tlv(0x30, concat(tlv(0x02, new byte[] {1}), tlv(0x04, d), tlv(0xa1, tlv(0x03, bitString))));
        return tlv(0x30, concat(tlv(0x02, new byte[] {0}), algorithmDer, tlv(0x04, ecPrivateKey)));
    }

    /** {content start, content length} of the DER element at {@code at}, checking its tag unless {@code tag < 0}. */
    private static int[] header(byte[] der, int at, int tag) {
        if (at + 2 > der.length || (tag >= 0 && (der[at] & 0xff) != tag)) {
            throw new IllegalArgumentException("unexpected PKCS#8 structure");
        }
        int len = der[at + 1] & 0xff;
        int start = at + 2;
        if (len >= 0x80) {
            int n = len & 0x7f;
            len = 0;
            for (int i = 0; i < n; i++) {
                len = (len << 8) | (der[start + i] & 0xff);
            }
            start += n;
        }
        if (start + len > der.length) {
            throw new IllegalArgumentException("truncated PKCS#8 structure");
        }
        return new int[] {start, len};
    }

    private static void fixed(BigInteger n, byte[] out, int at, int size) {
        byte[] b = n.toByteArray();
        int skip = Math.max(0, b.length - size);
        System.arraycopy(b, skip, out, at + size - (b.length - skip), b.length - skip);
    }

    private static byte[] tlv(int tag, byte[] content) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(tag);
        int len = content.length;
        if (len < 0x80) {
            out.write(len);
        } else if (len < 0x100) {
            out.write(0x81);
            out.write(len);
        } else {
            out.write(0x82);
            out.write(len >> 8);
            out.write(len & 0xff);
        }
        out.writeBytes(content);
        return out.toByteArray();
    }

    private static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] p : parts) {
            out.writeBytes(p);
        }
        return out.toByteArray();
    }
}
