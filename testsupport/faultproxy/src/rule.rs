//! Faults and the rules that select where they apply, plus their one-line text form (the
//! control socket's language, and `Rule::parse` for tests that prefer text).

use std::fmt;
use std::time::Duration;

/// Which frames of a connection a fault acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Client to broker.
    Requests,
    /// Broker to client.
    Responses,
    Both,
}

impl Direction {
    pub(crate) fn includes(self, d: Direction) -> bool {
        self == Direction::Both || self == d
    }
}

/// What happens to a connection after [`Fault::DropResponse`] swallowed a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterDrop {
    /// Close both sides (FIN): the client sees the connection end with a request unanswered.
    Close,
    /// Keep the connection open and forward nothing more while the rule exists: only the
    /// client's `request.timeout.ms` notices.
    Stall,
}

/// How a refused connection looks to the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The listening socket is closed while the rule is in force, so `connect()` fails with
    /// ECONNREFUSED (nothing listens on the port). Attempts cannot be counted in this mode.
    Closed,
    /// Each connection is accepted and at once reset (SO_LINGER 0, RST), so attempts are
    /// counted ([`crate::BrokerStats::refused`]): what a test of reconnect backoff needs.
    Reset,
}

/// One fault. Frame-level faults act on whole Kafka frames (`[size][header][body]`) and match
/// the response of a request by its correlation id, so per-API rules see responses too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Forward each matching frame `delay` after it arrived, as over a slow link: frames that
    /// arrive together leave together (in order), so requests pipelined on a connection are
    /// not delayed one after another.
    Latency {
        delay: Duration,
        direction: Direction,
    },
    /// Stop forwarding in both directions at the first matching frame, keeping both sockets open
    /// (no FIN, no RST). The connection stays stalled while the rule exists; once it is removed
    /// the held frames are delivered, as TCP delivers them when a partition heals.
    BlackHole,
    /// Swallow a matching response (the broker has handled the request: a lost acknowledgement),
    /// then close or stall the connection, since later responses would arrive out of order.
    DropResponse { then: AfterDrop },
    /// Forward the first half of a matching frame, then close both sides (FIN).
    CutMidFrame { direction: Direction },
    /// Forward matching frames at no more than `bytes_per_sec` per connection and direction.
    Throttle {
        bytes_per_sec: u64,
        direction: Direction,
    },
    /// Replace the body of a matching response with random bytes, keeping its size and
    /// correlation id, so the client matches it to its request and then has to decode garbage.
    Garble,
    /// Cut the body of a matching response to half, with a size prefix that agrees, so the
    /// frame is well formed but its message ends early.
    Truncate,
    /// Refuse new connections to the broker (existing ones are untouched).
    RefuseConnections { how: Refusal },
    /// Answer a Produce request with `code` for each of its partitions, without the broker
    /// seeing it: nothing is stored, as when a broker's log directory fails
    /// (KAFKA_STORAGE_ERROR, 56) or a partition lacks in-sync replicas (NOT_ENOUGH_REPLICAS, 19).
    /// Acts on Produce requests only. The answer keeps its place among the connection's
    /// responses: the broker is sent an ApiVersions request with the same correlation id in the
    /// Produce request's place, and its response is replaced by the error.
    ProduceError { code: i16 },
}

/// A fault and where it applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// Node id of the broker; `None` for every broker. A listener learns its broker's id from
    /// the Metadata responses it rewrites, or is given it by [`crate::Builder::broker`].
    pub broker: Option<i32>,
    /// API key (0 Produce, 3 Metadata, 18 ApiVersions, ...); `None` for every API. Ignored by
    /// [`Fault::RefuseConnections`].
    pub api: Option<i16>,
    pub fault: Fault,
    /// How many frames (for `RefuseConnections` in `Reset` mode: connections) the rule acts on
    /// before it is spent; `None` for no limit. A spent rule still holds the connections it
    /// stalled until it is removed.
    pub times: Option<u64>,
}

impl Rule {
    pub fn new(fault: Fault) -> Rule {
        let times = matches!(fault, Fault::DropResponse { .. }).then_some(1);
        Rule {
            broker: None,
            api: None,
            fault,
            times,
        }
    }
    pub fn broker(mut self, node_id: i32) -> Rule {
        self.broker = Some(node_id);
        self
    }
    pub fn api(mut self, api_key: i16) -> Rule {
        self.api = Some(api_key);
        self
    }
    pub fn times(mut self, n: u64) -> Rule {
        self.times = Some(n);
        self
    }
    pub fn unlimited(mut self) -> Rule {
        self.times = None;
        self
    }

    /// Reads the text form: `FAULT [key=value]...` with the keys `broker=ID`, `api=NAME|KEY`,
    /// `times=N|unlimited` for every fault and
    /// - `latency ms=N [dir=requests|responses|both]` (dir defaults to responses)
    /// - `blackhole`
    /// - `drop-response [then=close|stall]` (close; times defaults to 1)
    /// - `cut [dir=requests|responses|both]` (responses)
    /// - `throttle bps=N [dir=...]` (both)
    /// - `garble`, `truncate`
    /// - `refuse [mode=closed|reset]` (closed)
    /// - `produce-error code=N` (Produce requests only)
    pub fn parse(text: &str) -> Result<Rule, String> {
        let mut words = text.split_whitespace();
        let kind = words.next().ok_or("empty rule: expected a fault name (latency, blackhole, drop-response, cut, throttle, garble, truncate, refuse, produce-error)")?;
        let mut opts: Vec<(&str, &str)> = Vec::new();
        for w in words {
            let (k, v) = w
                .split_once('=')
                .ok_or_else(|| format!("'{w}' is not key=value"))?;
            opts.push((k, v));
        }
        let mut used = vec![false; opts.len()];
        let mut get = |key: &str| -> Option<&str> {
            let i = opts.iter().position(|(k, _)| *k == key)?;
            used[i] = true;
            Some(opts[i].1)
        };
        let num = |key: &str, v: &str| {
            v.parse::<u64>()
                .map_err(|_| format!("{key}={v}: not a non-negative integer"))
        };
        let dir = |v: Option<&str>, default: Direction| match v {
            None => Ok(default),
            Some("requests") => Ok(Direction::Requests),
            Some("responses") => Ok(Direction::Responses),
            Some("both") => Ok(Direction::Both),
            Some(o) => Err(format!("dir={o}: expected requests, responses or both")),
        };
        let fault = match kind {
            "latency" => {
                let ms = get("ms").ok_or("latency needs ms=N")?;
                Fault::Latency { delay: Duration::from_millis(num("ms", ms)?), direction: dir(get("dir"), Direction::Responses)? }
            }
            "blackhole" => Fault::BlackHole,
            "drop-response" => Fault::DropResponse {
                then: match get("then") {
                    None | Some("close") => AfterDrop::Close,
                    Some("stall") => AfterDrop::Stall,
                    Some(o) => return Err(format!("then={o}: expected close or stall")),
                },
            },
            "cut" => Fault::CutMidFrame { direction: dir(get("dir"), Direction::Responses)? },
            "throttle" => {
                let bps = num("bps", get("bps").ok_or("throttle needs bps=N (bytes per second)")?)?;
                if bps == 0 {
                    return Err("throttle bps=0 would forward nothing: use blackhole".into());
                }
                Fault::Throttle { bytes_per_sec: bps, direction: dir(get("dir"), Direction::Both)? }
            }
            "garble" => Fault::Garble,
            "truncate" => Fault::Truncate,
            "refuse" => Fault::RefuseConnections {
                how: match get("mode") {
                    None | Some("closed") => Refusal::Closed,
                    Some("reset") => Refusal::Reset,
                    Some(o) => return Err(format!("mode={o}: expected closed or reset")),
                },
            },
            "produce-error" => {
                let code = get("code").ok_or("produce-error needs code=N (a Kafka error code, e.g. 56 for KAFKA_STORAGE_ERROR)")?;
                match code.parse::<i16>() {
                    Ok(c) if c != 0 => Fault::ProduceError { code: c },
                    _ => return Err(format!("code={code}: not a non-zero Kafka error code")),
                }
            }
            other => return Err(format!("unknown fault '{other}' (latency, blackhole, drop-response, cut, throttle, garble, truncate, refuse, produce-error)")),
        };
        let mut rule = Rule::new(fault);
        if let Some(b) = get("broker") {
            rule.broker = Some(
                b.parse()
                    .map_err(|_| format!("broker={b}: not a node id"))?,
            );
        }
        if let Some(a) = get("api") {
            rule.api = Some(
                api_key(a).ok_or_else(|| format!("api={a}: not an API key or a known API name"))?,
            );
        }
        match get("times") {
            None => {}
            Some("unlimited") => rule.times = None,
            Some(t) => rule.times = Some(num("times", t)?),
        }
        if let Some(i) = used.iter().position(|u| !u) {
            return Err(format!("'{}' means nothing to {kind}", opts[i].0));
        }
        Ok(rule)
    }
}

/// The API names the text form knows (Kafka's names in kebab case).
const API_NAMES: &[(&str, i16)] = &[
    ("produce", 0),
    ("fetch", 1),
    ("list-offsets", 2),
    ("metadata", 3),
    ("find-coordinator", 10),
    ("sasl-handshake", 17),
    ("api-versions", 18),
    ("init-producer-id", 22),
    ("add-partitions-to-txn", 24),
    ("add-offsets-to-txn", 25),
    ("end-txn", 26),
    ("txn-offset-commit", 28),
    ("sasl-authenticate", 36),
];

/// An API key from its number or its name (`produce`, `metadata`, `api-versions`...).
pub fn api_key(text: &str) -> Option<i16> {
    text.parse()
        .ok()
        .or_else(|| API_NAMES.iter().find(|(n, _)| *n == text).map(|(_, k)| *k))
}

fn api_name(key: i16) -> String {
    API_NAMES
        .iter()
        .find(|(_, k)| *k == key)
        .map_or_else(|| key.to_string(), |(n, _)| n.to_string())
}

impl fmt::Display for Rule {
    /// The text form [`Rule::parse`] reads.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let dir = |d: &Direction| match d {
            Direction::Requests => "requests",
            Direction::Responses => "responses",
            Direction::Both => "both",
        };
        match &self.fault {
            Fault::Latency { delay, direction } => {
                write!(f, "latency ms={} dir={}", delay.as_millis(), dir(direction))?
            }
            Fault::BlackHole => write!(f, "blackhole")?,
            Fault::DropResponse { then } => write!(
                f,
                "drop-response then={}",
                if *then == AfterDrop::Close {
                    "close"
                } else {
                    "stall"
                }
            )?,
            Fault::CutMidFrame { direction } => write!(f, "cut dir={}", dir(direction))?,
            Fault::Throttle {
                bytes_per_sec,
                direction,
            } => write!(f, "throttle bps={bytes_per_sec} dir={}", dir(direction))?,
            Fault::Garble => write!(f, "garble")?,
            Fault::Truncate => write!(f, "truncate")?,
            Fault::RefuseConnections { how } => write!(
                f,
                "refuse mode={}",
                if *how == Refusal::Closed {
                    "closed"
                } else {
                    "reset"
                }
            )?,
            Fault::ProduceError { code } => write!(f, "produce-error code={code}")?,
        }
        if let Some(b) = self.broker {
            write!(f, " broker={b}")?;
        }
        if let Some(a) = self.api {
            write!(f, " api={}", api_name(a))?;
        }
        match self.times {
            Some(t) => write!(f, " times={t}"),
            None => write!(f, " times=unlimited"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_fault_reads_back_from_its_text_form() {
        let texts = [
            "latency ms=250 dir=both broker=2 api=produce times=unlimited",
            "blackhole broker=1 times=unlimited",
            "drop-response then=stall api=produce times=1",
            "cut dir=requests api=metadata times=3",
            "throttle bps=1000 dir=responses times=unlimited",
            "garble api=produce times=2",
            "truncate broker=3 times=unlimited",
            "refuse mode=reset broker=1 times=unlimited",
            "produce-error code=56 broker=2 api=produce times=3",
        ];
        for t in texts {
            let r = Rule::parse(t).unwrap();
            assert_eq!(r.to_string(), t);
            assert_eq!(Rule::parse(&r.to_string()).unwrap(), r);
        }
        assert_eq!(
            Rule::parse("drop-response").unwrap().times,
            Some(1),
            "one lost ack unless told otherwise"
        );
        assert_eq!(Rule::parse("latency ms=5 api=18").unwrap().api, Some(18));
    }

    #[test]
    fn bad_rules_say_what_is_wrong() {
        for (text, says) in [
            ("", "empty rule"),
            ("latency", "ms=N"),
            ("latency ms=x", "ms=x"),
            ("latency ms=5 dir=up", "dir=up"),
            ("slow", "unknown fault 'slow'"),
            ("garble api=nope", "api=nope"),
            ("garble colour=red", "'colour' means nothing"),
            ("throttle bps=0", "bps=0"),
            ("refuse mode=maybe", "mode=maybe"),
            ("cut broker", "not key=value"),
            ("produce-error", "code=N"),
            ("produce-error code=0", "code=0"),
            ("produce-error code=storage", "code=storage"),
        ] {
            let e = Rule::parse(text).unwrap_err();
            assert!(e.contains(says), "{text:?}: {e}");
        }
    }
}
