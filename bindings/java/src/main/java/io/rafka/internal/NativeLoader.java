package io.rafka.internal;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Locale;

/**
 * Loads librafka_jni: from the jar ({@code /native/<os>-<arch>/librafka_jni.so}, copied to a temporary
 * file because a library cannot be loaded from inside a jar), otherwise from {@code java.library.path}.
 */
final class NativeLoader {
    static final String LIBRARY = "rafka_jni";
    /** The platform whose library `mvn package` puts in the jar (the one it was built on: linux-x86_64 for releases). */
    static final String PACKAGED = "linux-x86_64";

    private NativeLoader() {}

    static synchronized void load() {
        String resource = "/native/" + platform() + "/" + System.mapLibraryName(LIBRARY);
        try (InputStream in = NativeLoader.class.getResourceAsStream(resource)) {
            if (in != null) {
                Path file = Files.createTempFile("librafka_jni-", ".so");
                file.toFile().deleteOnExit();
                Files.copy(in, file, StandardCopyOption.REPLACE_EXISTING);
                System.load(file.toAbsolutePath().toString());
                return;
            }
        } catch (IOException e) {
            throw new UnsatisfiedLinkError("cannot extract " + resource + " from the rafka jar: " + e);
        }
        try {
            System.loadLibrary(LIBRARY);
        } catch (UnsatisfiedLinkError e) {
            UnsatisfiedLinkError err = new UnsatisfiedLinkError("rafka needs its native library for "
                    + platform() + " (" + System.mapLibraryName(LIBRARY) + "): this jar carries only "
                    + PACKAGED + " and java.library.path has none. Build it on this platform with"
                    + " `cargo build --release -p rafka-jni` and pass -Djava.library.path=<dir holding it>");
            err.initCause(e);
            throw err;
        }
    }

    static String platform() {
        String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
        String arch = System.getProperty("os.arch", "").toLowerCase(Locale.ROOT);
        if (os.startsWith("linux")) {
            os = "linux";
        } else if (os.startsWith("mac")) {
            os = "darwin";
        }
        if (arch.equals("amd64") || arch.equals("x86_64")) {
            arch = "x86_64";
        } else if (arch.equals("arm64")) {
            arch = "aarch64";
        }
        return os + "-" + arch;
    }
}
