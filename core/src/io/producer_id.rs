//! The producer id and epoch that idempotence needs: asked for with InitProducerId when the
//! producer starts, and again (an epoch bump, KIP-360) when a partition's sequence numbers can no
//! longer go on. [`ProducerIdState`] is the state machine; the I/O thread sends its requests and
//! feeds it the answers. With `transactional.id` the transaction manager (`transaction.rs`)
//! asks for the id instead, from the transaction coordinator.
//!
//! Owned by the I/O thread alone.

use std::time::Instant;

use mio::Token;

use super::backoff;
use super::connection::{InFlight, RequestKind};
use super::IoThread;
use crate::error::{Error, LocalCode};
use crate::protocol::error_codes::KafkaCode;
use crate::protocol::messages::{self, init_producer_id};
use crate::protocol::primitives::Decoder;

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Pid {
    /// Idempotence off.
    Off,
    Needed,
    Requesting,
    Ready { id: i64, epoch: i16 },
}

pub(super) struct ProducerIdState {
    pub state: Pid,
    /// After a retriable InitProducerId error: not before this.
    retry_at: Instant,
    /// Retriable failures in a row.
    failures: u32,
    /// A partition needs a new epoch; nothing new is sent until it comes.
    pub bump_pending: bool,
    /// Producer ids or epochs granted so far (statistics `epoch_cnt`).
    pub grants: u64,
}

impl ProducerIdState {
    pub fn new(idempotent: bool) -> ProducerIdState {
        ProducerIdState { state: if idempotent { Pid::Needed } else { Pid::Off }, retry_at: Instant::now(), failures: 0, bump_pending: false, grants: 0 }
    }

    /// The id and epoch to stamp on new batches: `Some(None)` without idempotence, `None` while
    /// one is awaited.
    pub fn for_sending(&self) -> Option<Option<(i64, i16)>> {
        if self.bump_pending {
            return None;
        }
        match self.state {
            Pid::Ready { id, epoch } => Some(Some((id, epoch))),
            Pid::Off => Some(None),
            _ => None,
        }
    }

    /// Whether an InitProducerId request should go out now. An epoch bump waits until nothing
    /// is in flight: answers under the old epoch must be in first.
    fn request_due(&self, now: Instant, anything_in_flight: bool) -> bool {
        let bump = self.bump_pending && matches!(self.state, Pid::Ready { .. });
        if !(self.state == Pid::Needed || bump) || now < self.retry_at {
            return false;
        }
        !(bump && anything_in_flight)
    }

    /// When an InitProducerId request held back by its retry backoff may go (None: none is wanted
    /// or none is held back).
    fn held_back_until(&self, now: Instant) -> Option<Instant> {
        let wanted = self.state == Pid::Needed || (self.bump_pending && matches!(self.state, Pid::Ready { .. }));
        (wanted && self.retry_at > now).then_some(self.retry_at)
    }

    /// The id and epoch the request carries: the current ones for a bump (InitProducerId v3+),
    /// else none (-1, -1) for a fresh id.
    fn request_ids(&self, version: i16) -> (i64, i16) {
        match self.state {
            Pid::Ready { id, epoch } if self.bump_pending && version >= 3 => (id, epoch),
            _ => (-1, -1),
        }
    }

    /// A retriable failure: ask again after a backoff, for a fresh id (which resets sequences too).
    fn retry_later(&mut self, backoff_base: std::time::Duration, backoff_max: std::time::Duration) -> std::time::Duration {
        self.failures += 1;
        let wait = backoff(backoff_base, backoff_max, self.failures);
        self.retry_at = Instant::now() + wait;
        self.state = Pid::Needed;
        wait
    }

    /// An id was granted; true when it ends an epoch bump (every partition's sequences restart).
    pub(super) fn granted(&mut self, id: i64, epoch: i16) -> bool {
        self.failures = 0;
        self.grants += 1;
        self.state = Pid::Ready { id, epoch };
        std::mem::take(&mut self.bump_pending)
    }

    /// A request was lost with its connection: ask again.
    pub fn request_lost(&mut self) {
        if self.state == Pid::Requesting {
            self.state = Pid::Needed;
        }
    }

    /// What the status report says about it, if anything.
    pub fn describe(&self, s: &mut String) {
        if matches!(self.state, Pid::Needed | Pid::Requesting) {
            s.push_str("; waiting for a producer id (idempotence)");
        }
        if self.bump_pending {
            s.push_str("; waiting to bump the producer epoch");
        }
    }
}

impl IoThread {
    /// Sends InitProducerId when it is due; one held back by its retry backoff pulls `next` in to
    /// when it may go.
    pub(super) fn maybe_request_pid(&mut self, now: Instant, next: &mut Instant) {
        if self.txn.enabled() {
            return; // the transaction manager asks the transaction coordinator
        }
        if let Some(at) = self.pid.held_back_until(now) {
            *next = (*next).min(at);
        }
        if !self.pid.request_due(now, self.parts.any_in_flight()) {
            return;
        }
        let Some(token) = self.any_connection(now) else { return };
        self.send_init_producer_id(token, now);
    }

    fn send_init_producer_id(&mut self, token: Token, now: Instant) {
        let corr = self.net.next_correlation();
        let client_id = self.inner.config.client_id.clone();
        let c = self.net.conns.get_mut(&token).unwrap();
        let Some(v) = c.versions.init_producer_id else {
            let e = Error::local(LocalCode::Fatal, format!("broker {} does not support InitProducerId, which idempotence needs; set enable.idempotence=false", c.addr));
            self.set_fatal(e);
            return;
        };
        let (pid, epoch) = self.pid.request_ids(v);
        let buf = c.write_buffer();
        let start = buf.len();
        let frame = messages::begin_request(buf, messages::API_KEY_INIT_PRODUCER_ID, v, corr, &client_id, v >= init_producer_id::FIRST_FLEXIBLE_VERSION);
        init_producer_id::InitProducerIdRequest { transactional_id: None, transaction_timeout_ms: i32::MAX, producer_id: pid, producer_epoch: epoch }.encode(buf, v);
        messages::finish_request(buf, frame);
        let n = buf.len() - start;
        c.push_request(
            Some(InFlight { correlation_id: corr, api_key: messages::API_KEY_INIT_PRODUCER_ID, version: v, sent_at: now, kind: RequestKind::InitProducerId }),
            n,
        );
        self.pid.state = Pid::Requesting;
    }

    pub(super) fn on_init_producer_id(&mut self, version: i16, body: &[u8]) {
        let resp = match init_producer_id::InitProducerIdResponse::decode(&mut Decoder::new(body), version) {
            Ok(r) => r,
            Err(e) => {
                log::warn!("bad InitProducerId response: {e}");
                self.pid.state = Pid::Needed;
                return;
            }
        };
        let code = KafkaCode(resp.error_code);
        if !code.is_ok() {
            if code.is_retriable() {
                let cfg = &self.inner.config;
                let wait = self.pid.retry_later(cfg.retry_backoff, cfg.retry_backoff_max);
                log::info!("InitProducerId: {} (retrying in {wait:?})", code.name());
            } else {
                self.set_fatal(Error::kafka(code, "InitProducerId failed: idempotent producing is not possible"));
            }
            return;
        }
        log::info!("producer id {} epoch {}", resp.producer_id, resp.producer_epoch);
        if self.pid.granted(resp.producer_id, resp.producer_epoch) {
            for ps in self.parts.iter_mut() {
                ps.restart_sequences(resp.producer_id, resp.producer_epoch);
            }
        }
    }
}
