//! `RAFKA_ALLOCATOR` picks the allocator librafka installs: mimalloc by default, the C library's
//! malloc with `RAFKA_ALLOCATOR=system` (which the ASan and valgrind ctests rely on to see every
//! allocation). The choice is made once per process, so each case runs in a child process (this
//! same binary, `harness = false`) that allocates 64 MiB through Rust and prints how much of it
//! glibc's heap (mallinfo2: bytes in mmapped blocks) grew by.

extern crate rafka; // links librafka's #[global_allocator]

const PROBE: &str = "RAFKA_ALLOCATOR_PROBE";
const SIZE: usize = 64 << 20;

fn glibc_mmapped() -> usize {
    // SAFETY: mallinfo2 only reads glibc's counters.
    unsafe { libc::mallinfo2().hblkhd }
}

fn probe() {
    let before = glibc_mmapped();
    let block = vec![1u8; SIZE];
    let grew = glibc_mmapped().saturating_sub(before);
    println!("{grew}");
    drop(std::hint::black_box(block));
}

fn glibc_growth(allocator: Option<&str>) -> usize {
    let mut cmd = std::process::Command::new(std::env::current_exe().unwrap());
    cmd.env(PROBE, "1").env_remove("RAFKA_ALLOCATOR");
    if let Some(a) = allocator {
        cmd.env("RAFKA_ALLOCATOR", a);
    }
    let out = cmd.output().expect("run the probe");
    assert!(out.status.success(), "probe failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().parse().expect("the probe prints a number")
}

fn main() {
    if std::env::var_os(PROBE).is_some() {
        return probe();
    }
    let system = glibc_growth(Some("system"));
    assert!(system >= SIZE, "RAFKA_ALLOCATOR=system: 64 MiB from Rust should come from glibc's heap, which grew by {system} bytes");
    println!("test rafka_allocator_system_puts_rust_allocations_in_the_c_librarys_heap ... ok");
    let default = glibc_growth(None);
    assert!(default < SIZE / 2, "by default (mimalloc) glibc's heap should not hold a 64 MiB Rust allocation, but grew by {default} bytes");
    println!("test by_default_rust_allocations_bypass_the_c_librarys_heap ... ok");
}
