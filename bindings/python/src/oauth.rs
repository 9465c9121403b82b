//! confluent-kafka's `oauth_cb`: an OAUTHBEARER token from Python. The engine asks for a token
//! on its I/O thread, which must never wait for the GIL, so the callback runs on the
//! application's thread (when the producer is created, then from `poll()`/`flush()` once 80% of
//! the token's lifetime has passed, as librdkafka schedules it) and the engine reads the cached
//! answer.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use pyo3::prelude::*;

/// After a failed callback, the next try waits this long (librdkafka's interval).
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(10);

pub(crate) struct OAuthCallback {
    /// `None` once the garbage collector cleared the producer.
    cb: Mutex<Option<PyObject>>,
    /// `sasl.oauthbearer.config`, passed to the callback as is.
    config: String,
    /// The current token, or why there is none.
    token: Arc<Mutex<Result<String, String>>>,
    refresh_at: Mutex<Instant>,
}

impl OAuthCallback {
    /// Asks `cb` for the first token at once.
    pub(crate) fn new(py: Python<'_>, cb: PyObject, config: String) -> OAuthCallback {
        let o = OAuthCallback { cb: Mutex::new(Some(cb)), config, token: Arc::new(Mutex::new(Err("oauth_cb has not run yet".into()))), refresh_at: Mutex::new(Instant::now()) };
        o.refresh(py);
        o
    }

    /// The engine's token provider: the cached token, without Python.
    pub(crate) fn provider(&self) -> impl Fn() -> Result<String, String> + Send + Sync + 'static {
        let token = self.token.clone();
        move || token.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// For the producer's `__traverse__`.
    pub(crate) fn traverse(&self, visit: &pyo3::PyVisit<'_>) -> Result<(), pyo3::PyTraverseError> {
        // Never held across anything that allocates (so never while the collector runs): the
        // lock cannot block here, and every pass sees the callback that is there.
        if let Some(cb) = self.cb.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            visit.call(cb)?;
        }
        Ok(())
    }

    /// For the producer's `__clear__`.
    pub(crate) fn clear(&self, _py: Python<'_>) {
        let cb = self.cb.lock().unwrap_or_else(|e| e.into_inner()).take();
        drop(cb);
    }

    /// Runs the callback again when its token is due for refresh (cheap otherwise).
    pub(crate) fn maybe_refresh(&self, py: Python<'_>) {
        if Instant::now() >= *self.refresh_at.lock().unwrap_or_else(|e| e.into_inner()) {
            self.refresh(py);
        }
    }

    fn refresh(&self, py: Python<'_>) {
        let (answer, next) = match self.call(py) {
            Ok((token, expiry)) => {
                let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs_f64();
                let lifetime = (expiry - now).max(0.0);
                // Refresh at 80% of the lifetime; a token that is already expired is retried soon.
                let wait = if lifetime > 0.0 { Duration::from_secs_f64(lifetime * 0.8) } else { RETRY_AFTER_FAILURE };
                (Ok(token), wait)
            }
            Err(why) => {
                log::warn!("{why}");
                (Err(why), RETRY_AFTER_FAILURE)
            }
        };
        *self.token.lock().unwrap_or_else(|e| e.into_inner()) = answer;
        *self.refresh_at.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now() + next;
    }

    /// `oauth_cb(config)` must return `(token, expiry)` (expiry in seconds since the epoch),
    /// optionally followed by a principal and extensions, which rafka does not use.
    fn call(&self, py: Python<'_>) -> Result<(String, f64), String> {
        let cb = self.cb.lock().unwrap_or_else(|e| e.into_inner()).as_ref().map(|c| c.clone_ref(py));
        let cb = cb.ok_or_else(|| "oauth_cb is gone (the producer is being collected)".to_string())?;
        let r = cb.call1(py, (self.config.as_str(),)).map_err(|e| format!("oauth_cb raised {}", e.value(py)))?;
        let r = r.bind(py);
        let bad = || "oauth_cb must return (token: str, expiry: float seconds since the epoch[, principal, extensions])".to_string();
        let token: String = r.get_item(0).and_then(|t| t.extract()).map_err(|_| bad())?;
        let expiry: f64 = r.get_item(1).and_then(|t| t.extract()).map_err(|_| bad())?;
        if token.is_empty() {
            return Err("oauth_cb returned an empty token".into());
        }
        Ok((token, expiry))
    }
}
