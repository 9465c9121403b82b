// librafka.so carries a versioned soname, so programs linked today keep finding an ABI-compatible
// library after upgrades (librafka.so.0 -> librafka.so.0.1.0).
fn main() {
    let major = std::env::var("CARGO_PKG_VERSION_MAJOR").unwrap_or_else(|_| "0".into());
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,librafka.so.{major}");
    }
}
