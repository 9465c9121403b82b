//! Python arguments to engine records: `Parsed` (one record's parts, borrowing the Python
//! objects) and the checks that name the argument at fault.

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString, PyTuple};
use rafka_core::ProducerRecord;

use crate::buffers::{self, Data};

/// One record parsed from Python arguments; its data borrows the Python objects, which the
/// caller keeps alive.
pub(crate) struct Parsed<'py> {
    pub(crate) partition: i32,
    pub(crate) timestamp: i64,
    pub(crate) key: Data<'py>,
    pub(crate) value: Data<'py>,
    pub(crate) headers: Vec<(&'py str, Data<'py>)>,
    pub(crate) callback: Option<PyObject>,
    /// `produce(..., timeout=)`: the record's own delivery deadline.
    pub(crate) deadline: Option<std::time::Instant>,
}

impl Parsed<'_> {
    pub(crate) fn record<'a>(&'a self, topic: &'a str) -> ProducerRecord<'a> {
        ProducerRecord {
            topic,
            partition: ProducerRecord::partition_from_i32(self.partition),
            key: self.key.slice(),
            value: self.value.slice(),
            headers: if self.headers.is_empty() { Vec::new() } else { self.headers.iter().map(|(k, v)| (*k, v.slice())).collect() },
            timestamp: (self.timestamp != 0).then_some(self.timestamp),
            deadline: self.deadline,
        }
    }
}

const HEADERS_TYPE: &str = "must be a dict or a list of (str, bytes) tuples";

pub(crate) fn parse_headers<'py>(h: Option<&Bound<'py, PyAny>>, keep: &mut Vec<Bound<'py, PyAny>>, what: &dyn Fn() -> String) -> PyResult<Vec<(&'py str, Data<'py>)>> {
    let Some(h) = h.filter(|h| !h.is_none()) else { return Ok(Vec::new()) };
    let items: Vec<Bound<'py, PyAny>> = if let Ok(d) = h.downcast::<PyDict>() {
        d.items().iter().collect()
    } else if let Ok(l) = h.try_iter() {
        l.collect::<PyResult<_>>()?
    } else {
        return Err(PyTypeError::new_err(format!("{} {HEADERS_TYPE}", what())));
    };
    let mut out = Vec::with_capacity(items.len());
    for it in items {
        let (k, v): (Bound<'py, PyAny>, Bound<'py, PyAny>) =
            it.extract().map_err(|_| PyTypeError::new_err(format!("{} {HEADERS_TYPE}", what())))?;
        let ks = k.downcast::<PyString>().map_err(|_| PyTypeError::new_err(format!("{} keys must be str", what())))?;
        let kb = buffers::str_bytes(ks)?;
        // SAFETY: UTF-8 cached in a str that `keep` holds for 'py.
        let kstr: &'py str = unsafe { std::str::from_utf8_unchecked(std::slice::from_raw_parts(kb.as_ptr(), kb.len())) };
        let data = buffers::extract(Some(&v), &|| format!("{} value", what()))?;
        keep.push(k);
        keep.push(v);
        out.push((kstr, data));
    }
    Ok(out)
}

pub(crate) fn check_callback(cb: &Option<PyObject>, py: Python<'_>, name: &str) -> PyResult<()> {
    match cb {
        Some(cb) if !cb.bind(py).is_callable() => Err(PyTypeError::new_err(format!("{name} must be callable"))),
        _ => Ok(()),
    }
}

pub(crate) fn int_arg<T: for<'a> FromPyObject<'a>>(v: Option<&Bound<'_, PyAny>>, default: T, what: &dyn Fn() -> String) -> PyResult<T> {
    match v {
        None => Ok(default),
        Some(v) if v.is_none() => Ok(default),
        Some(v) => v.extract().map_err(|_| PyTypeError::new_err(format!("{} must be int", what()))),
    }
}

pub(crate) fn topic_str<'py>(topic: &Bound<'py, PyAny>) -> PyResult<&'py str> {
    let s = topic.downcast::<PyString>().map_err(|_| PyTypeError::new_err("topic must be str"))?;
    let b = buffers::str_bytes(s)?;
    // SAFETY: UTF-8 cached in the str, which the caller holds for the call.
    Ok(unsafe { std::str::from_utf8_unchecked(std::slice::from_raw_parts(b.as_ptr(), b.len())) })
}

/// One item of `produce_batch`'s list (`messages[i]`): a dict as confluent-kafka's
/// `produce_batch` takes (`value`, `key`, `partition`, `timestamp`, `headers`, `callback`), a
/// `(key, value)` tuple or a bare value. `keep` holds the objects the record borrows.
pub(crate) fn parse_item<'py>(
    py: Python<'py>,
    item: &Bound<'py, PyAny>,
    i: usize,
    partition: i32,
    default: Option<&PyObject>,
    keep: &mut Vec<Bound<'py, PyAny>>,
) -> PyResult<Parsed<'py>> {
    let what = |f: &str| format!("messages[{i}] {f}");
    if let Ok(d) = item.downcast::<PyDict>() {
        let get = |f: &str| -> PyResult<Option<Bound<'py, PyAny>>> { d.get_item(f) };
        let (v, k, part, ts, h, cb) = (get("value")?, get("key")?, get("partition")?, get("timestamp")?, get("headers")?, get("callback")?);
        let cb = match cb.filter(|c| !c.is_none()) {
            Some(c) => Some(c.unbind()),
            None => default.map(|c| c.clone_ref(py)),
        };
        check_callback(&cb, py, &what("callback"))?;
        let p = Parsed {
            partition: int_arg(part.as_ref(), partition, &|| what("partition"))?,
            timestamp: int_arg(ts.as_ref(), 0, &|| what("timestamp"))?,
            value: buffers::extract(v.as_ref(), &|| what("value"))?,
            key: buffers::extract(k.as_ref(), &|| what("key"))?,
            headers: parse_headers(h.as_ref(), keep, &|| what("headers"))?,
            callback: cb,
            deadline: None,
        };
        keep.extend([v, k, h].into_iter().flatten());
        Ok(p)
    } else if let Ok(t) = item.downcast::<PyTuple>() {
        if t.len() != 2 {
            return Err(PyTypeError::new_err(format!("messages[{i}]: a tuple must be (key, value)")));
        }
        let (k, v) = (t.get_item(0)?, t.get_item(1)?);
        let p = Parsed {
            partition,
            timestamp: 0,
            key: buffers::extract(Some(&k), &|| what("key"))?,
            value: buffers::extract(Some(&v), &|| what("value"))?,
            headers: Vec::new(),
            callback: default.map(|c| c.clone_ref(py)),
            deadline: None,
        };
        keep.push(k);
        keep.push(v);
        Ok(p)
    } else {
        Ok(Parsed {
            partition,
            timestamp: 0,
            key: Data::None,
            value: buffers::extract(Some(item), &|| format!("messages[{i}]"))?,
            headers: Vec::new(),
            callback: default.map(|c| c.clone_ref(py)),
            deadline: None,
        })
    }
}
