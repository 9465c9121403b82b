//! `GilCell`: a value that only code holding the GIL reads or writes, without a lock of its own.

use pyo3::Python;

/// A value read and written only with the GIL held (a `Python` token is the proof).
pub(crate) struct GilCell<T>(pub(crate) std::cell::UnsafeCell<T>);

// SAFETY: every access takes a `Python` token, so accesses from different threads are serialised
// by the GIL. The module is declared `gil_used` (lib.rs), so a free-threaded CPython keeps the GIL
// enabled while it is loaded.
unsafe impl<T: Send> Sync for GilCell<T> {}

impl<T> GilCell<T> {
    pub(crate) fn new(v: T) -> Self {
        GilCell(std::cell::UnsafeCell::new(v))
    }

    /// The reference must not be held across anything that can release the GIL or run Python
    /// code (which may call `take`).
    pub(crate) fn get<'py>(&'py self, _py: Python<'py>) -> &'py T {
        // SAFETY: GIL held; writers (`take`) hold it too and no reference outlives a GIL release
        // (the contract above).
        unsafe { &*self.0.get() }
    }

    /// `get` where no `Python` token is at hand but the GIL is held (`__traverse__`).
    ///
    /// # Safety
    /// The caller holds the GIL, under the same contract as `get`.
    pub(crate) unsafe fn get_unchecked(&self) -> &T {
        &*self.0.get()
    }
}

impl<T> GilCell<T> {
    /// Changes the value in place; `f` must not run Python code or release the GIL.
    pub(crate) fn update<R>(&self, _py: Python<'_>, f: impl FnOnce(&mut T) -> R) -> R {
        // SAFETY: GIL held; no reference from `get` lives across code that can reach this, and
        // `f` runs no Python code that could reach `get` meanwhile.
        f(unsafe { &mut *self.0.get() })
    }
}

impl<T: Default> GilCell<T> {
    pub(crate) fn take(&self, _py: Python<'_>) -> T {
        // SAFETY: GIL held, and no reference from `get` lives across code that can reach this.
        unsafe { std::mem::take(&mut *self.0.get()) }
    }
}
