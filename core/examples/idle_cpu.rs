//! How much CPU an idle producer uses: connect, send one record, then sit idle and read the
//! process's CPU time from /proc. A measurement for bench/, not a test.
//!   RAFKA_BOOTSTRAP=127.0.0.1:19092 cargo run --release -p rafka-core --example idle_cpu -- TOPIC [SECONDS]

use std::time::Duration;

fn cpu_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap().split_whitespace().collect();
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let topic = args.get(1).expect("usage: idle_cpu TOPIC [SECONDS]");
    let secs: u64 = args.get(2).map_or(10, |s| s.parse().unwrap());
    let mut c = rafka_core::Config::new();
    c.set("bootstrap.servers", &std::env::var("RAFKA_BOOTSTRAP").expect("RAFKA_BOOTSTRAP")).unwrap();
    let p = rafka_core::Producer::new(c).unwrap();
    p.send(&rafka_core::ProducerRecord::new(topic).value(b"x")).unwrap().wait().unwrap();
    let hz = 100.0; // USER_HZ on Linux
    let before = cpu_ticks();
    std::thread::sleep(Duration::from_secs(secs));
    let used = (cpu_ticks() - before) as f64 / hz;
    println!("idle producer: {used:.3} s CPU over {secs} s ({:.3}%)", used / secs as f64 * 100.0);
}
