//! Keys, values and header values from Python objects, copied at most once: into the engine's
//! encoded record.
//!
//! `bytes` and `str` are immutable, so their memory is borrowed as is (a `str`'s UTF-8 form is
//! cached in the object by CPython). Any other buffer-protocol object (`bytearray`, `memoryview`,
//! `array`, numpy arrays, ...) is exported with `PyObject_GetBuffer` and borrowed while the GIL
//! is held; only when the GIL must be released around the send (the engine may wait for the
//! topic's metadata) is a writable buffer copied first, since another thread could change it.
//!
//! The functions below are declared here rather than taken from pyo3's ffi module because pyo3
//! hides them under `abi3-py38`: they joined the limited API later (3.10 and 3.11), but CPython
//! has exported them with these signatures, and `Py_buffer` with this layout, since 3.3.
use std::ffi::{c_char, c_int, c_void};

use pyo3::exceptions::PyTypeError;
use pyo3::ffi::{PyObject, Py_ssize_t};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};

#[repr(C)]
pub struct PyBufferRaw {
    buf: *mut c_void,
    obj: *mut PyObject,
    len: Py_ssize_t,
    itemsize: Py_ssize_t,
    readonly: c_int,
    ndim: c_int,
    format: *mut c_char,
    shape: *mut Py_ssize_t,
    strides: *mut Py_ssize_t,
    suboffsets: *mut Py_ssize_t,
    internal: *mut c_void,
}

extern "C" {
    fn PyObject_GetBuffer(obj: *mut PyObject, view: *mut PyBufferRaw, flags: c_int) -> c_int;
    fn PyBuffer_Release(view: *mut PyBufferRaw);
    fn PyUnicode_AsUTF8AndSize(obj: *mut PyObject, size: *mut Py_ssize_t) -> *const c_char;
}

/// `PyBUF_SIMPLE`: a contiguous run of bytes, or an error.
const PYBUF_SIMPLE: c_int = 0;

/// An exported buffer, released on drop (with the GIL held: it lives inside a GIL-bound call).
pub struct Export(Box<PyBufferRaw>);

impl Drop for Export {
    fn drop(&mut self) {
        // SAFETY: obtained from a successful PyObject_GetBuffer; released once.
        unsafe { PyBuffer_Release(&mut *self.0) }
    }
}

/// A key, value or header value ready for the engine. The `Export`s are held for their drop.
#[allow(dead_code)]
pub enum Data<'py> {
    None,
    /// Memory owned by an immutable Python object (`bytes`, `str`, a read-only export) that the
    /// caller keeps alive.
    Frozen(&'py [u8], Option<Export>),
    /// A writable export: valid only while the GIL is held.
    Mutable(&'py [u8], Export),
    /// A copy (a non-contiguous buffer).
    Owned(Vec<u8>),
}

impl Data<'_> {
    pub fn slice(&self) -> Option<&[u8]> {
        match self {
            Data::None => None,
            Data::Frozen(s, _) | Data::Mutable(s, _) => Some(s),
            Data::Owned(v) => Some(v),
        }
    }
}

/// The UTF-8 form of a `str`, borrowed from the object.
pub fn str_bytes<'py>(s: &Bound<'py, PyString>) -> PyResult<&'py [u8]> {
    let mut len: Py_ssize_t = 0;
    // SAFETY: `s` is a str; the returned memory is cached in it and lives as long as it does
    // (the caller holds a reference for 'py).
    let p = unsafe { PyUnicode_AsUTF8AndSize(s.as_ptr(), &mut len) };
    if p.is_null() {
        return Err(PyErr::fetch(s.py()));
    }
    Ok(unsafe { std::slice::from_raw_parts(p as *const u8, len as usize) })
}

/// Reads `obj` as bytes; `arg` names the argument in the `TypeError`.
pub fn extract<'py>(obj: Option<&Bound<'py, PyAny>>, arg: &dyn Fn() -> String) -> PyResult<Data<'py>> {
    let obj = match obj {
        None => return Ok(Data::None),
        Some(o) if o.is_none() => return Ok(Data::None),
        Some(o) => o,
    };
    if let Ok(b) = obj.downcast::<PyBytes>() {
        // SAFETY of the lifetime: `obj` is borrowed for 'py by the caller, and bytes are immutable.
        let s: &'py [u8] = unsafe { std::slice::from_raw_parts(b.as_bytes().as_ptr(), b.as_bytes().len()) };
        return Ok(Data::Frozen(s, None));
    }
    if let Ok(s) = obj.downcast::<PyString>() {
        let s: &'py [u8] = str_bytes(s).map(|b| unsafe { std::slice::from_raw_parts(b.as_ptr(), b.len()) })?;
        return Ok(Data::Frozen(s, None));
    }
    let mut view = Box::new(PyBufferRaw {
        buf: std::ptr::null_mut(),
        obj: std::ptr::null_mut(),
        len: 0,
        itemsize: 0,
        readonly: 0,
        ndim: 0,
        format: std::ptr::null_mut(),
        shape: std::ptr::null_mut(),
        strides: std::ptr::null_mut(),
        suboffsets: std::ptr::null_mut(),
        internal: std::ptr::null_mut(),
    });
    // SAFETY: a valid object and a zeroed view; on success the view is released by `Export`.
    if unsafe { PyObject_GetBuffer(obj.as_ptr(), &mut *view, PYBUF_SIMPLE) } == 0 {
        let s: &'py [u8] = if view.len == 0 {
            &[]
        } else {
            // SAFETY: a simple export is `len` contiguous bytes at `buf`, valid until release.
            unsafe { std::slice::from_raw_parts(view.buf as *const u8, view.len as usize) }
        };
        let readonly = view.readonly != 0;
        let export = Export(view);
        return Ok(if readonly { Data::Frozen(s, Some(export)) } else { Data::Mutable(s, export) });
    }
    let py = obj.py();
    let not_simple = PyErr::take(py);
    // A buffer that is not contiguous (a strided memoryview, say): one copy through memoryview.
    if not_simple.as_ref().is_some_and(|e| e.is_instance_of::<pyo3::exceptions::PyBufferError>(py)) {
        let copy = py.import("builtins")?.getattr("memoryview")?.call1((obj,))?.call_method0("tobytes")?;
        return Ok(Data::Owned(copy.downcast::<PyBytes>()?.as_bytes().to_vec()));
    }
    Err(PyTypeError::new_err(format!(
        "{} must be bytes, bytearray, memoryview (or another buffer), str or None, not {}",
        arg(),
        obj.get_type().name()?
    )))
}
