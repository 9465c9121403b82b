//! librafka_jni: the native side of `io.rafka.RafkaProducer`.
//!
//! Every `Java_io_rafka_internal_RafkaNative_*` function below is one `static native` method of
//! `io.rafka.internal.RafkaNative`. Ownership and threads:
//!
//! - A producer lives behind a `jlong` handle: `create` boxes a `rafka_core::Producer` and returns
//!   the pointer; `free` takes it back. The Java side (`NativeHandle`) guarantees that `free` runs
//!   exactly once and that no other call uses the handle during or after it.
//! - Every entry point runs inside [`entry`]: an engine error, a JNI error or a panic becomes a
//!   pending `io.rafka.internal.NativeException(code, message)` and the function returns a
//!   default value; the Java side maps the code to a kafka-clients exception.
//! - A handle points to a [`JniProducer`]: the engine's producer and the [`Reports`] queue of its
//!   Java `InFlight`. `send` passes the record's `InFlight` slot number as the engine's opaque
//!   (nothing per record on the JVM's side: no global reference, no boxed closure). The engine's
//!   delivery thread (`rafka-delivery`) queues each report in `Reports` and, after each run of
//!   reports (`on_reports_served`), hands the queue to `InFlight.reported` in one upcall; the
//!   callbacks run there, in a Java loop. That thread attaches to the JVM once, as a daemon, on
//!   its first report and stays attached until it ends; it never returns to Java, so every local
//!   reference it creates lives in a local frame popped right after use.
//! - `spool.dir` with a `SpoolRecoveredCallback`: `create` gets the Java `SpoolRecovered` adapter
//!   and keeps a global reference to it for the producer's life; the engine's recovered-records
//!   handler runs on the delivery thread (attached as for `send`'s reports) and calls
//!   `SpoolRecovered.recovered` once per record an earlier producer left in the spool.
//! - OAUTHBEARER with a login callback handler: `create` gets the Java `OAuthBearerTokens`, which
//!   keeps the current token and refreshes it on its own thread. The engine's token provider runs
//!   on the I/O thread (`rafka-io`), which attaches to the JVM once, as a daemon, and only reads the
//!   cached token through `currentToken()`; a Java exception there becomes the provider's `Err`.
//! - The transactional calls (`initTransactions` ... `abortTransaction`) block the calling Java
//!   thread in the engine for up to `max.block.ms`; an engine error carries its flags
//!   (retriable, abortable, fatal) to `NativeException`, which `Transactions` maps to the
//!   kafka-clients exception.
/// mimalloc unless `RAFKA_ALLOCATOR=system`: see rafka-core's `alloc.rs`.
#[global_allocator]
static ALLOCATOR: rafka_core::alloc::RafkaAlloc = rafka_core::alloc::RafkaAlloc;

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::ffi::c_void;
use std::ops::Range;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use jni::objects::{GlobalRef, JByteArray, JClass, JIntArray, JLongArray, JMethodID, JObject, JObjectArray, JString};
use jni::signature::{Primitive, ReturnType};
use jni::sys::{jint, jlong, jobjectArray, jvalue, JNI_VERSION_1_8};
use jni::{JNIEnv, JavaVM};
use rafka_core::{Config, ConsumerGroupMetadata, Delivery, Error, LocalCode, OffsetAndMetadata, Producer, ProducerBuilder, ProducerRecord, TxnState};

/// What the delivery thread needs to reach Java, resolved once in `JNI_OnLoad`.
struct Java {
    vm: JavaVM,
    /// `io.rafka.internal.InFlight.reported(long[] reports, String[] messages, int n)`.
    reported: JMethodID,
    exception_class: GlobalRef,
    /// `NativeException(int code, String message, int flags)`.
    exception_ctor: JMethodID,
    /// `io.rafka.internal.OAuthBearerTokens.currentToken()`: the cached token, or an exception.
    current_token: JMethodID,
    /// `io.rafka.internal.SpoolRecovered.recovered(String topic, int partition, long offset,
    /// long timestamp, byte[] key, byte[] value, byte[][] headers, int code, String message)`.
    recovered: JMethodID,
}

static JAVA: OnceLock<Java> = OnceLock::new();

const IN_FLIGHT_CLASS: &str = "io/rafka/internal/InFlight";
const EXCEPTION_CLASS: &str = "io/rafka/internal/NativeException";
const TOKENS_CLASS: &str = "io/rafka/internal/OAuthBearerTokens";
const RECOVERED_CLASS: &str = "io/rafka/internal/SpoolRecovered";

#[no_mangle]
pub extern "system" fn JNI_OnLoad(vm: JavaVM, _reserved: *mut c_void) -> jint {
    let r = catch_unwind(AssertUnwindSafe(|| -> jni::errors::Result<()> {
        let mut env = vm.get_env()?;
        let in_flight = env.find_class(IN_FLIGHT_CLASS)?;
        let reported = env.get_method_id(&in_flight, "reported", "([J[Ljava/lang/String;I)V")?;
        let exception = env.find_class(EXCEPTION_CLASS)?;
        let exception_ctor = env.get_method_id(&exception, "<init>", "(ILjava/lang/String;I)V")?;
        let exception_class = env.new_global_ref(exception)?;
        let tokens = env.find_class(TOKENS_CLASS)?;
        let current_token = env.get_method_id(&tokens, "currentToken", "()Ljava/lang/String;")?;
        let spool_recovered = env.find_class(RECOVERED_CLASS)?;
        let recovered = env.get_method_id(&spool_recovered, "recovered", "(Ljava/lang/String;IJJ[B[B[[BILjava/lang/String;)V")?;
        let vm = env.get_java_vm()?;
        let _ = JAVA.set(Java { vm, reported, exception_class, exception_ctor, current_token, recovered });
        Ok(())
    }));
    match r {
        Ok(Ok(())) => JNI_VERSION_1_8,
        // JNI_ERR: System.load fails with an UnsatisfiedLinkError (plus any pending exception).
        _ => -1,
    }
}

/// Why an entry point failed.
enum Failure {
    Engine(Error),
    /// A JNI call failed; when it is `JavaException`, that exception is already pending.
    Jni(jni::errors::Error),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Engine(e)
    }
}

impl From<jni::errors::Error> for Failure {
    fn from(e: jni::errors::Error) -> Self {
        Failure::Jni(e)
    }
}

/// Runs an entry point's body; a failure or a panic becomes a pending Java exception.
fn entry<'local, T>(env: &mut JNIEnv<'local>, default: T, body: impl FnOnce(&mut JNIEnv<'local>) -> Result<T, Failure>) -> T {
    let failure = match catch_unwind(AssertUnwindSafe(|| body(env))) {
        Ok(Ok(v)) => return v,
        Ok(Err(Failure::Jni(jni::errors::Error::JavaException))) => return default,
        Ok(Err(Failure::Engine(e))) => (e.code().as_i32(), e.to_string(), flags(&e)),
        Ok(Err(Failure::Jni(e))) => (LocalCode::Internal as i32, format!("{}: JNI call failed: {e}", LocalCode::Internal.name()), 0),
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            (LocalCode::Internal as i32, format!("{}: rafka panicked (please report it): {what}", LocalCode::Internal.name()), 0)
        }
    };
    throw(env, failure.0, &failure.1, failure.2);
    default
}

/// `NativeException`'s flag bits (its RETRIABLE, ABORTABLE and FATAL constants).
const FLAG_RETRIABLE: jint = 1;
const FLAG_ABORTABLE: jint = 2;
const FLAG_FATAL: jint = 4;

fn flags(e: &Error) -> jint {
    let mut f = 0;
    if e.is_retriable() {
        f |= FLAG_RETRIABLE;
    }
    if e.txn_requires_abort() {
        f |= FLAG_ABORTABLE;
    }
    if e.is_fatal() {
        f |= FLAG_FATAL;
    }
    f
}

fn throw(env: &mut JNIEnv<'_>, code: i32, message: &str, flags: jint) {
    if env.exception_check().unwrap_or(false) {
        return;
    }
    let Some(java) = JAVA.get() else { return };
    let r = env.with_local_frame(4, |env| -> jni::errors::Result<()> {
        let msg = env.new_string(message)?;
        let class: &JClass<'_> = java.exception_class.as_obj().into();
        let args = [jvalue { i: code }, jvalue { l: msg.as_raw() }, jvalue { i: flags }];
        // SAFETY: the constructor id belongs to this class and takes (int, String, int).
        let ex = unsafe { env.new_object_unchecked(class, java.exception_ctor, &args) }?;
        env.throw(jni::objects::JThrowable::from(ex))
    });
    if r.is_err() && !env.exception_check().unwrap_or(false) {
        let _ = env.throw_new("java/lang/IllegalStateException", message);
    }
}

/// What a handle points to: the engine's producer and the queue of its reports for Java. The
/// producer is dropped first (its close may still queue and hand over reports).
struct JniProducer {
    producer: Producer,
    reports: Arc<Reports>,
}

/// The producer behind a handle. Zero (a freed or never-made handle) is a state error.
fn producer<'a>(handle: jlong) -> Result<&'a Producer, Failure> {
    Ok(&jni_producer(handle)?.producer)
}

fn jni_producer<'a>(handle: jlong) -> Result<&'a JniProducer, Failure> {
    if handle == 0 {
        return Err(Error::local(LocalCode::State, "the producer is closed").into());
    }
    // The engine's waits on this thread end with `_INTR` once Thread.interrupt() was called
    // (`InterruptException` in Java, as KafkaProducer's waits end).
    rafka_core::interrupt::set_interrupt_check(Some(java_thread_interrupted));
    // SAFETY: a non-zero handle came from `create` and has not been freed (see the module docs).
    Ok(unsafe { &*(handle as *const JniProducer) })
}

/// `Thread.currentThread().isInterrupted()` of the calling Java thread (which is in a native
/// method of ours, so attached); false if that cannot be asked. The flag is left as it is.
fn java_thread_interrupted() -> bool {
    let Some(java) = JAVA.get() else { return false };
    let Ok(mut env) = java.vm.get_env() else { return false };
    let r = env.with_local_frame(4, |env| -> jni::errors::Result<bool> {
        let thread = env.call_static_method("java/lang/Thread", "currentThread", "()Ljava/lang/Thread;", &[])?.l()?;
        env.call_method(&thread, "isInterrupted", "()Z", &[])?.z()
    });
    match r {
        Ok(b) => b,
        Err(_) => {
            if env.exception_check().unwrap_or(false) {
                let _ = env.exception_clear();
            }
            false
        }
    }
}

/// A Java timeout in ms, negative taken as 0; `Long.MAX_VALUE` ("forever", as `close()` passes
/// it) needs nothing special: the engine takes any `Duration`.
fn timeout(ms: jlong) -> Duration {
    Duration::from_millis(ms.max(0) as u64)
}

/// Producers made by `create` and not yet freed: what the tests check `free` against.
static LIVE: AtomicUsize = AtomicUsize::new(0);

/// `long create(String[] keys, String[] values, OAuthBearerTokens tokens, SpoolRecovered recovered, InFlight inFlight)`:
/// a producer from checked string configuration; `tokens` (or null) supplies OAUTHBEARER tokens;
/// `recovered` (or null) gets the reports of records an earlier producer left in `spool.dir`;
/// `inFlight` gets every other report, in batches.
#[no_mangle]
pub extern "system" fn Java_io_rafka_internal_RafkaNative_create<'l>(
    mut env: JNIEnv<'l>,
    _c: JClass<'l>,
    keys: JObjectArray<'l>,
    values: JObjectArray<'l>,
    tokens: JObject<'l>,
    recovered: JObject<'l>,
    in_flight: JObject<'l>,
) -> jlong {
    entry(&mut env, 0, |env| {
        let mut config = Config::new();
        let n = env.get_array_length(&keys)?;
        for i in 0..n {
            let k = JString::from(env.get_object_array_element(&keys, i)?);
            let v = JString::from(env.get_object_array_element(&values, i)?);
            let key: String = env.get_string(&k)?.into();
            let value: String = env.get_string(&v)?.into();
            config.set(&key, &value).map_err(Error::from)?;
            env.delete_local_ref(k)?;
            env.delete_local_ref(v)?;
        }
        // The partitioner metrics (rafka-partitioner-metrics) are counted with statistics off too:
        // one relaxed increment per record, next to what a JNI send costs.
        let mut builder = ProducerBuilder::new(config).count_placements(true);
        if !tokens.is_null() {
            let tokens = env.new_global_ref(&tokens)?;
            builder = builder.oauthbearer_token_provider(move || cached_token(&tokens));
        }
        if !recovered.is_null() {
            let target = env.new_global_ref(&recovered)?;
            builder = builder.spool_recovered_handler(move |d| report_recovered(&target, d));
        }
        let reports = Arc::new(Reports { target: env.new_global_ref(&in_flight)?, queue: Mutex::new(Queue::default()) });
        let (queued, suppressed, served) = (reports.clone(), reports.clone(), reports.clone());
        builder = builder
            .delivery_handler(move |d, slot| queued.push(slot, d.partition, d.offset, d.timestamp, d.error))
            // delivery.report.only.error: the record succeeded; its future completes all the same.
            .on_report_suppressed(move |slot| suppressed.push(slot, -1, -1, -1, None))
            .on_reports_served(move || served.hand_over());
        let producer = builder.build()?;
        LIVE.fetch_add(1, Ordering::SeqCst);
        Ok(Box::into_raw(Box::new(JniProducer { producer, reports })) as jlong)
    })
}

/// I/O thread: the token `OAuthBearerTokens` holds now. Its exception (no token yet, the login
/// callback handler failed, the token expired) becomes the Err, with the exception's message.
fn cached_token(tokens: &GlobalRef) -> Result<String, String> {
    let java = JAVA.get().ok_or("the JVM is not reachable from rafka-jni")?;
    let mut env = java.vm.attach_current_thread_as_daemon().map_err(|e| format!("cannot attach the I/O thread to the JVM: {e}"))?;
    if !NAMED.with(|n| n.replace(true)) {
        name_java_thread(&mut env);
    }
    let r = env.with_local_frame(4, |env| -> jni::errors::Result<Result<String, String>> {
        // SAFETY: `current_token` belongs to OAuthBearerTokens, which `tokens` is, and takes no arguments.
        let r = unsafe { env.call_method_unchecked(tokens.as_obj(), java.current_token, ReturnType::Object, &[]) };
        if env.exception_check()? {
            let thrown = env.exception_occurred()?;
            env.exception_clear()?;
            let message = env.call_method(&thrown, "getMessage", "()Ljava/lang/String;", &[]).and_then(|m| m.l());
            return Ok(Err(match message {
                Ok(m) if !m.is_null() => env.get_string(&JString::from(m))?.into(),
                _ => {
                    let _ = env.exception_clear();
                    "the OAUTHBEARER token source threw an exception".into()
                }
            }));
        }
        let token = r?.l()?;
        if token.is_null() {
            return Ok(Err("the OAUTHBEARER token source has no token".into()));
        }
        Ok(Ok(env.get_string(&JString::from(token))?.into()))
    });
    match r {
        Ok(r) => r,
        Err(e) => {
            if env.exception_check().unwrap_or(false) {
                let _ = env.exception_clear();
            }
            Err(format!("cannot read the OAUTHBEARER token from Java: {e}"))
        }
    }
}

/// Scratch capacity a thread keeps between sends (larger records get a buffer of their own).
const SCRATCH_KEEP: usize = 64 * 1024;

thread_local! {
    /// Topic, key, value and headers of the record being sent, copied out of their Java arrays.
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Appends a Java `byte[]` to `buf`; `None` for a null array.
fn append_bytes(env: &JNIEnv<'_>, array: &JByteArray<'_>, buf: &mut Vec<u8>) -> jni::errors::Result<Option<Range<usize>>> {
    if array.is_null() {
        return Ok(None);
    }
    let len = env.get_array_length(array)? as usize;
    let start = buf.len();
    buf.resize(start + len, 0);
    // SAFETY: i8 and u8 have the same layout; the slice is exactly the bytes just added.
    let dst = unsafe { std::slice::from_raw_parts_mut(buf.as_mut_ptr().add(start) as *mut i8, len) };
    env.get_byte_array_region(array, 0, dst)?;
    Ok(Some(start..start + len))
}

fn utf8<'a>(bytes: &'a [u8], what: &str) -> Result<&'a str, Failure> {
    std::str::from_utf8(bytes).map_err(|_| Error::local(LocalCode::InvalidArgument, format!("the {what} is not valid UTF-8")).into())
}

/// `void send(long handle, byte[] topicUtf8, int partition, long timestamp, byte[] key,
/// byte[] value, byte[][] headers, long timeoutNanos, int slot)`: `partition < 0` lets
/// the partitioner choose, `timestamp < 0` stamps the record now, `headers` alternates UTF-8 keys
/// and values (or is null), `timeoutNanos >= 0` gives the record a deadline of its own that far
/// from now (`RafkaProducer.send(record, timeout, callback)`). On success the record's report
/// comes back to the producer's `InFlight` with `slot` (see `Reports`); on failure none does.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub extern "system" fn Java_io_rafka_internal_RafkaNative_send<'l>(
    mut env: JNIEnv<'l>,
    _c: JClass<'l>,
    handle: jlong,
    topic: JByteArray<'l>,
    partition: jint,
    timestamp: jlong,
    key: JByteArray<'l>,
    value: JByteArray<'l>,
    headers: JObjectArray<'l>,
    timeout_nanos: jlong,
    slot: jint,
) {
    entry(&mut env, (), |env| {
        let producer = producer(handle)?;
        SCRATCH.with(|scratch| {
            let mut buf = scratch.borrow_mut();
            buf.clear();
            let topic = append_bytes(env, &topic, &mut buf)?.unwrap_or(0..0);
            let key = append_bytes(env, &key, &mut buf)?;
            let value = append_bytes(env, &value, &mut buf)?;
            let mut header_ranges = Vec::new();
            if !headers.is_null() {
                let n = env.get_array_length(&headers)?;
                for i in 0..n {
                    let element = JByteArray::from(env.get_object_array_element(&headers, i)?);
                    header_ranges.push(append_bytes(env, &element, &mut buf)?);
                    env.delete_local_ref(element)?;
                }
            }
            let bytes = &*buf;
            let mut record = ProducerRecord {
                topic: utf8(&bytes[topic], "topic")?,
                partition: ProducerRecord::partition_from_i32(partition),
                key: key.map(|r| &bytes[r]),
                value: value.map(|r| &bytes[r]),
                headers: Vec::with_capacity(header_ranges.len() / 2),
                timestamp: (timestamp >= 0).then_some(timestamp),
                deadline: (timeout_nanos >= 0).then(|| std::time::Instant::now() + std::time::Duration::from_nanos(timeout_nanos as u64)),
            };
            for pair in header_ranges.chunks(2) {
                let k = pair[0].clone().map_or("", |r| std::str::from_utf8(&bytes[r]).unwrap_or(""));
                record.headers.push((k, pair.get(1).cloned().flatten().map(|r| &bytes[r])));
            }
            let sent = producer.send_with_opaque(&record, slot as usize, true);
            drop(record);
            // One large record must not pin its size on this thread for good.
            if buf.capacity() > SCRATCH_KEEP {
                *buf = Vec::new();
            }
            Ok(sent?)
        })
    })
}

/// `void sendDirect(long handle, long address, int topicLength, int keyLength, int valueLength,
/// int partition, long timestamp, long timeoutNanos, int slot)`: `send` for a record without
/// headers whose topic (UTF-8), key and value the calling thread has written, one after the
/// other, into its direct buffer at `address` (`RafkaProducer`'s per-thread `DirectRecord`): no
/// JNI call reads them. A length of -1 is a null key or value.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub extern "system" fn Java_io_rafka_internal_RafkaNative_sendDirect<'l>(
    mut env: JNIEnv<'l>,
    _c: JClass<'l>,
    handle: jlong,
    address: jlong,
    topic_len: jint,
    key_len: jint,
    value_len: jint,
    partition: jint,
    timestamp: jlong,
    timeout_nanos: jlong,
    slot: jint,
) {
    entry(&mut env, (), |_| {
        let producer = producer(handle)?;
        if address == 0 || topic_len < 0 {
            return Err(Error::local(LocalCode::InvalidArgument, "sendDirect: no record buffer").into());
        }
        let total = topic_len as usize + key_len.max(0) as usize + value_len.max(0) as usize;
        // SAFETY: the Java caller wrote `total` bytes at `address`, the start of a direct buffer
        // it keeps reachable (and does not touch) until this call returns.
        let bytes = unsafe { std::slice::from_raw_parts(address as *const u8, total) };
        let (topic, rest) = bytes.split_at(topic_len as usize);
        let (key, rest) = if key_len < 0 { (None, rest) } else { let (k, r) = rest.split_at(key_len as usize); (Some(k), r) };
        let value = if value_len < 0 { None } else { Some(&rest[..value_len as usize]) };
        let record = ProducerRecord {
            topic: utf8(topic, "topic")?,
            partition: ProducerRecord::partition_from_i32(partition),
            key,
            value,
            headers: Vec::new(),
            timestamp: (timestamp >= 0).then_some(timestamp),
            deadline: (timeout_nanos >= 0).then(|| std::time::Instant::now() + std::time::Duration::from_nanos(timeout_nanos as u64)),
        };
        Ok(producer.send_with_opaque(&record, slot as usize, true)?)
    })
}

/// `long directAddress(ByteBuffer buffer)`: where a direct buffer's bytes are.
#[no_mangle]
pub extern "system" fn Java_io_rafka_internal_RafkaNative_directAddress<'l>(mut env: JNIEnv<'l>, _c: JClass<'l>, buffer: JObject<'l>) -> jlong {
    entry(&mut env, 0, |env| {
        let buffer = jni::objects::JByteBuffer::from(buffer);
        Ok(env.get_direct_buffer_address(&buffer)? as jlong)
    })
}

/// The delivery thread's JNI environment (attached as a daemon on first use, named once).
fn delivery_env(java: &'static Java) -> Option<JNIEnv<'static>> {
    let mut env = match java.vm.attach_current_thread_as_daemon() {
        Ok(env) => env,
        Err(e) => {
            log::error!("rafka-jni: cannot attach the delivery thread to the JVM: {e}; a report is lost");
            return None;
        }
    };
    if !NAMED.with(|n| n.replace(true)) {
        name_java_thread(&mut env);
    }
    Some(env)
}

/// Delivery thread: hands the report of a record an earlier producer left in the spool to
/// `SpoolRecovered.recovered` (the Java side builds the kafka-clients objects and catches what
/// the application's callback throws). Every local reference lives in one frame, dropped here.
fn report_recovered(target: &GlobalRef, d: &Delivery<'_>) {
    let Some(java) = JAVA.get() else { return };
    let Some(mut env) = delivery_env(java) else { return };
    let r = env.with_local_frame(16, |env| -> jni::errors::Result<()> {
        let topic = env.new_string(&**d.topic)?;
        let (key, value) = d.key_value();
        let key = match key {
            Some(k) => JObject::from(env.byte_array_from_slice(k)?),
            None => JObject::null(),
        };
        let value = match value {
            Some(v) => JObject::from(env.byte_array_from_slice(v)?),
            None => JObject::null(),
        };
        let hs = d.headers();
        let headers = if hs.is_empty() {
            JObject::null()
        } else {
            let array = env.new_object_array((hs.len() * 2) as jint, "[B", JObject::null())?;
            for (i, (k, v)) in hs.iter().enumerate() {
                let k = env.byte_array_from_slice(k.as_bytes())?;
                env.set_object_array_element(&array, (2 * i) as jint, &k)?;
                env.delete_local_ref(k)?;
                if let Some(v) = v {
                    let v = env.byte_array_from_slice(v)?;
                    env.set_object_array_element(&array, (2 * i + 1) as jint, &v)?;
                    env.delete_local_ref(v)?;
                }
            }
            JObject::from(array)
        };
        let (code, message) = match d.error {
            None => (0, JObject::null()),
            Some(e) => (e.code().as_i32(), JObject::from(env.new_string(e.to_string())?)),
        };
        let args = [
            jvalue { l: topic.as_raw() },
            jvalue { i: d.partition },
            jvalue { j: d.offset },
            jvalue { j: d.timestamp },
            jvalue { l: key.as_raw() },
            jvalue { l: value.as_raw() },
            jvalue { l: headers.as_raw() },
            jvalue { i: code },
            jvalue { l: message.as_raw() },
        ];
        // SAFETY: `recovered` belongs to SpoolRecovered, which `target` is, and takes these argument types.
        unsafe { env.call_method_unchecked(target.as_obj(), java.recovered, ReturnType::Primitive(Primitive::Void), &args) }?;
        Ok(())
    });
    if r.is_err() || env.exception_check().unwrap_or(false) {
        // SpoolRecovered catches what the callback throws; this is a bug or an Error (OOM).
        let _ = env.exception_describe();
        let _ = env.exception_clear();
        log::error!("rafka-jni: the report of a record recovered from the spool (to {}-{}) could not be handed to Java", d.topic, d.partition);
    }
}

/// One report for Java: `InFlight.FIELDS` numbers (slot, partition, offset, timestamp, code).
const FIELDS: usize = 5;

/// Reports queued for a producer's Java `InFlight`, handed over once per run of reports.
#[derive(Default)]
struct Queue {
    /// `FIELDS` numbers per report, in the order the engine reported them.
    numbers: Vec<i64>,
    /// (report index, error text) of the failed reports in `numbers`.
    messages: Vec<(usize, String)>,
    /// Reports queued since the producer was made (`reportsQueued`).
    total: i64,
}

/// The engine's delivery handler and reports-served hook for one producer. Threads: `push` and
/// `hand_over` run where the engine serves reports (its delivery thread; a thread in `close`); the
/// queue's lock is never held across the upcall, so a callback that closes the producer (whose
/// reports are then handed over on the same thread) cannot deadlock on it.
struct Reports {
    /// The producer's `InFlight`.
    target: GlobalRef,
    queue: Mutex<Queue>,
}

impl Reports {
    fn push(&self, slot: usize, partition: i32, offset: i64, timestamp: i64, error: Option<&Error>) {
        let mut q = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        let code = error.map_or(0, |e| e.code().as_i32());
        if let Some(e) = error {
            let index = q.numbers.len() / FIELDS;
            q.messages.push((index, e.to_string()));
        }
        q.numbers.extend([slot as i64, partition as i64, offset, timestamp, code as i64]);
        q.total += 1;
    }

    fn total(&self) -> i64 {
        self.queue.lock().unwrap_or_else(|e| e.into_inner()).total
    }

    /// One upcall with every queued report: `InFlight.reported(long[], String[], int)`.
    fn hand_over(&self) {
        let (numbers, messages) = {
            let mut q = self.queue.lock().unwrap_or_else(|e| e.into_inner());
            if q.numbers.is_empty() {
                return;
            }
            let keep = q.numbers.capacity().min(64 * 1024);
            (std::mem::replace(&mut q.numbers, Vec::with_capacity(keep)), std::mem::take(&mut q.messages))
        };
        let n = numbers.len() / FIELDS;
        let Some(java) = JAVA.get() else { return };
        let Some(mut env) = delivery_env(java) else { return };
        let r = env.with_local_frame(8, |env| -> jni::errors::Result<()> {
            let array = env.new_long_array(numbers.len() as jint)?;
            env.set_long_array_region(&array, 0, &numbers)?;
            let texts = if messages.is_empty() {
                JObjectArray::from(JObject::null())
            } else {
                let texts = env.new_object_array(n as jint, "java/lang/String", JObject::null())?;
                for (i, m) in &messages {
                    let m = env.new_string(m)?;
                    env.set_object_array_element(&texts, *i as jint, &m)?;
                    env.delete_local_ref(m)?;
                }
                texts
            };
            let args = [jvalue { l: array.as_raw() }, jvalue { l: texts.as_raw() }, jvalue { i: n as jint }];
            // SAFETY: `reported` belongs to InFlight, which `target` is, and takes (long[], String[], int).
            unsafe { env.call_method_unchecked(self.target.as_obj(), java.reported, ReturnType::Primitive(Primitive::Void), &args) }?;
            Ok(())
        });
        if r.is_err() || env.exception_check().unwrap_or(false) {
            // InFlight catches what callbacks throw; this is a bug or an Error (OOM).
            let _ = env.exception_describe();
            let _ = env.exception_clear();
            log::error!("rafka-jni: {n} delivery reports could not be handed to Java");
        }
    }
}

thread_local! {
    /// Whether this (delivery or I/O) thread's `java.lang.Thread` has been given the native thread's name.
    static NAMED: Cell<bool> = const { Cell::new(false) };
}

/// Once per attached thread: JNI attaches it as "Thread-N"; callbacks, stack dumps and logs should
/// show `rafka-delivery` (or `rafka-io`).
/// Reports are also handed over on Java threads (one in `close`, the Cleaner's, a sender's), whose
/// names are the application's: only threads the engine started (named) are renamed.
fn name_java_thread(env: &mut JNIEnv<'_>) {
    let Some(name) = std::thread::current().name().map(str::to_string) else { return };
    let r = env.with_local_frame(4, |env| -> jni::errors::Result<()> {
        let thread = env.call_static_method("java/lang/Thread", "currentThread", "()Ljava/lang/Thread;", &[])?.l()?;
        let name = env.new_string(name)?;
        env.call_method(&thread, "setName", "(Ljava/lang/String;)V", &[(&name).into()])?;
        Ok(())
    });
    if r.is_err() && env.exception_check().unwrap_or(false) {
        let _ = env.exception_clear();
    }
}

/// `void flush(long handle, long timeoutMs)`.
#[no_mangle]
pub extern "system" fn Java_io_rafka_internal_RafkaNative_flush<'l>(mut env: JNIEnv<'l>, _c: JClass<'l>, handle: jlong, timeout_ms: jlong) {
    entry(&mut env, (), |_| Ok(producer(handle)?.flush(timeout(timeout_ms))?))
}

/// `long reportsQueued(long handle)`: reports queued for Java so far (see `Reports`).
#[no_mangle]
pub extern "system" fn Java_io_rafka_internal_RafkaNative_reportsQueued<'l>(mut env: JNIEnv<'l>, _c: JClass<'l>, handle: jlong) -> jlong {
    entry(&mut env, 0, |_| Ok(jni_producer(handle)?.reports.total()))
}

/// `void close(long handle, long timeoutMs)`: stops the engine; the handle stays valid until `free`.
#[no_mangle]
pub extern "system" fn Java_io_rafka_internal_RafkaNative_close<'l>(mut env: JNIEnv<'l>, _c: JClass<'l>, handle: jlong, timeout_ms: jlong) {
    entry(&mut env, (), |_| Ok(producer(handle)?.close(timeout(timeout_ms))?))
}

/// `void free(long handle)`: releases the producer (closing it first if `close` was not called).
#[no_mangle]
pub extern "system" fn Java_io_rafka_internal_RafkaNative_free<'l>(mut env: JNIEnv<'l>, _c: JClass<'l>, handle: jlong) {
    entry(&mut env, (), |_| {
        if handle != 0 {
            // SAFETY: the Java side frees each handle exactly once, after every other use.
            drop(unsafe { Box::from_raw(handle as *mut JniProducer) });
            LIVE.fetch_sub(1, Ordering::SeqCst);
        }
        Ok(())
    })
}

/// `int partitionCount(long handle, String topic)`: waits up to `max.block.ms` for metadata.
#[no_mangle]
pub extern "system" fn Java_io_rafka_internal_RafkaNative_partitionCount<'l>(mut env: JNIEnv<'l>, _c: JClass<'l>, handle: jlong, topic: JString<'l>) -> jint {
    entry(&mut env, -1, |env| {
        let topic: String = env.get_string(&topic)?.into();
        Ok(producer(handle)?.partition_count(&topic)? as jint)
    })
}

/// `Object[] partitionLayout(long handle, String topic)`: the topic's partitions as one broker
/// describes them, waiting up to `max.block.ms`: `{int[] numbers, String[] hosts}` where `numbers` is
/// `[brokerCount, (id, port) x brokerCount, partitionCount, (partition, leader, replicaCount,
/// replicas..., isrCount, isr...) x partitionCount]` and `hosts` holds the brokers' hosts in order.
#[no_mangle]
pub extern "system" fn Java_io_rafka_internal_RafkaNative_partitionLayout<'l>(
    mut env: JNIEnv<'l>,
    _c: JClass<'l>,
    handle: jlong,
    topic: JString<'l>,
) -> jni::sys::jobjectArray {
    entry(&mut env, std::ptr::null_mut(), |env| {
        let topic: String = env.get_string(&topic)?.into();
        let p = producer(handle)?;
        let md = p.metadata(Some(&[topic.as_str()]), p.config().max_block)?;
        let t = md.topics.iter().find(|t| t.name == topic).ok_or_else(|| Error::local(LocalCode::UnknownTopic, format!("no metadata for topic {topic}")))?;
        if let Some(e) = &t.error {
            return Err(e.clone().into());
        }
        let mut numbers: Vec<jint> = vec![md.brokers.len() as jint];
        for b in &md.brokers {
            numbers.extend([b.id, b.port]);
        }
        numbers.push(t.partitions.len() as jint);
        for part in &t.partitions {
            numbers.extend([part.id, part.leader, part.replicas.len() as jint]);
            numbers.extend(&part.replicas);
            numbers.push(part.isrs.len() as jint);
            numbers.extend(&part.isrs);
        }
        let ints = env.new_int_array(numbers.len() as jint)?;
        env.set_int_array_region(&ints, 0, &numbers)?;
        let hosts = env.new_object_array(md.brokers.len() as jint, "java/lang/String", JObject::null())?;
        for (i, b) in md.brokers.iter().enumerate() {
            let h = env.new_string(&b.host)?;
            env.set_object_array_element(&hosts, i as jint, &h)?;
            env.delete_local_ref(h)?;
        }
        let out = env.new_object_array(2, "java/lang/Object", JObject::null())?;
        env.set_object_array_element(&out, 0, &ints)?;
        env.set_object_array_element(&out, 1, &hosts)?;
        Ok(out.into_raw())
    })
}

/// `Object[] counters(long handle)`: the engine's counters (`Producer::counters`) as
/// `{double[] client, String[] topics, double[] perTopic}`: `client` in the order of
/// `ProducerCounters`' fields (buffer total, used, wait ns, produce requests, records, latency
/// count, sum ns, max ns, batches, batch bytes sum, max, queue ns sum, max, throttle count, sum ms,
/// max ms, bytes written, requests in flight, connections, records in flight); `perTopic` twelve
/// per topic (records sent, bytes sent, batches sent, compression ratio sum, records retried,
/// records failed; records placed by key, by sticky choice, by explicit partition, by a custom
/// partitioner, sticky switches, unavailable partitions skipped). Waits up to 2 s for the I/O
/// thread.
#[no_mangle]
pub extern "system" fn Java_io_rafka_internal_RafkaNative_counters<'l>(mut env: JNIEnv<'l>, _c: JClass<'l>, handle: jlong) -> jobjectArray {
    entry(&mut env, std::ptr::null_mut(), |env| {
        let c = producer(handle)?.counters(Duration::from_secs(2))?;
        let client = [
            c.buffer_total_bytes,
            c.buffer_used_bytes,
            c.buffer_wait_ns,
            c.produce_requests,
            c.produce_records,
            c.request_latency_count,
            c.request_latency_ns_sum,
            c.request_latency_ns_max,
            c.batches,
            c.batch_bytes_sum,
            c.batch_bytes_max,
            c.queue_ns_sum,
            c.queue_ns_max,
            c.throttle_count,
            c.throttle_ms_sum,
            c.throttle_ms_max,
            c.tx_bytes,
            c.requests_in_flight,
            c.connections,
            c.records_in_flight,
        ]
        .map(|v| v as f64);
        let mut per_topic = Vec::with_capacity(c.topics.len() * 12);
        let names = env.new_object_array(c.topics.len() as jint, "java/lang/String", JObject::null())?;
        for (i, t) in c.topics.iter().enumerate() {
            per_topic.extend([t.records_sent as f64, t.bytes_sent as f64, t.batches_sent as f64, t.compression_ratio_sum, t.records_retried as f64, t.records_failed as f64]);
            per_topic.extend([t.placed_by_key, t.placed_uniform, t.placed_explicit, t.placed_custom, t.sticky_switches, t.unavailable_skips].map(|v| v as f64));
            let name = env.new_string(&t.topic)?;
            env.set_object_array_element(&names, i as jint, &name)?;
            env.delete_local_ref(name)?;
        }
        let client_array = env.new_double_array(client.len() as jint)?;
        env.set_double_array_region(&client_array, 0, &client)?;
        let topic_array = env.new_double_array(per_topic.len() as jint)?;
        env.set_double_array_region(&topic_array, 0, &per_topic)?;
        let out = env.new_object_array(3, "java/lang/Object", JObject::null())?;
        env.set_object_array_element(&out, 0, &client_array)?;
        env.set_object_array_element(&out, 1, &names)?;
        env.set_object_array_element(&out, 2, &topic_array)?;
        Ok(out.into_raw())
    })
}

/// `long liveProducers()`: producers created and not yet freed, in this process.
#[no_mangle]
pub extern "system" fn Java_io_rafka_internal_RafkaNative_liveProducers<'l>(_env: JNIEnv<'l>, _c: JClass<'l>) -> jlong {
    LIVE.load(Ordering::SeqCst) as jlong
}

/// A transactional call that waits, given `max.block.ms` as KafkaProducer's calls are.
fn waiting_call(env: &mut JNIEnv<'_>, handle: jlong, call: impl FnOnce(&Producer, Duration) -> Result<(), Error>) {
    entry(env, (), |_| {
        let p = producer(handle)?;
        Ok(call(p, p.config().max_block)?)
    })
}

/// `void initTransactions(long handle)`.
#[no_mangle]
pub extern "system" fn Java_io_rafka_internal_RafkaNative_initTransactions<'l>(mut env: JNIEnv<'l>, _c: JClass<'l>, handle: jlong) {
    waiting_call(&mut env, handle, Producer::init_transactions)
}

/// `void beginTransaction(long handle)`: local, never blocks.
#[no_mangle]
pub extern "system" fn Java_io_rafka_internal_RafkaNative_beginTransaction<'l>(mut env: JNIEnv<'l>, _c: JClass<'l>, handle: jlong) {
    entry(&mut env, (), |_| Ok(producer(handle)?.begin_transaction()?))
}

/// `void commitTransaction(long handle)`.
#[no_mangle]
pub extern "system" fn Java_io_rafka_internal_RafkaNative_commitTransaction<'l>(mut env: JNIEnv<'l>, _c: JClass<'l>, handle: jlong) {
    waiting_call(&mut env, handle, Producer::commit_transaction)
}

/// `void abortTransaction(long handle)`.
#[no_mangle]
pub extern "system" fn Java_io_rafka_internal_RafkaNative_abortTransaction<'l>(mut env: JNIEnv<'l>, _c: JClass<'l>, handle: jlong) {
    waiting_call(&mut env, handle, Producer::abort_transaction)
}

/// A Java string that may be null.
fn optional_string(env: &mut JNIEnv<'_>, s: &JString<'_>) -> jni::errors::Result<Option<String>> {
    if s.is_null() {
        return Ok(None);
    }
    Ok(Some(env.get_string(s)?.into()))
}

/// `void sendOffsetsToTransaction(long handle, String[] topics, int[] partitions, long[] offsets,
/// int[] leaderEpochs, String[] metadata, String groupId, int generationId, String memberId,
/// String groupInstanceId)`: one entry per partition in the five arrays (a leader epoch < 0 is
/// none; a metadata element and `groupInstanceId` may be null). Waits up to `max.block.ms`.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub extern "system" fn Java_io_rafka_internal_RafkaNative_sendOffsetsToTransaction<'l>(
    mut env: JNIEnv<'l>,
    _c: JClass<'l>,
    handle: jlong,
    topics: JObjectArray<'l>,
    partitions: JIntArray<'l>,
    offsets: JLongArray<'l>,
    leader_epochs: JIntArray<'l>,
    metadata: JObjectArray<'l>,
    group_id: JString<'l>,
    generation_id: jint,
    member_id: JString<'l>,
    group_instance_id: JString<'l>,
) {
    entry(&mut env, (), |env| {
        let p = producer(handle)?;
        let n = env.get_array_length(&topics)? as usize;
        let mut parts = vec![0; n];
        let mut offs = vec![0; n];
        let mut epochs = vec![0; n];
        env.get_int_array_region(&partitions, 0, &mut parts)?;
        env.get_long_array_region(&offsets, 0, &mut offs)?;
        env.get_int_array_region(&leader_epochs, 0, &mut epochs)?;
        let mut map = HashMap::with_capacity(n);
        for i in 0..n {
            let t = JString::from(env.get_object_array_element(&topics, i as jint)?);
            let m = JString::from(env.get_object_array_element(&metadata, i as jint)?);
            let topic: String = env.get_string(&t)?.into();
            let meta = optional_string(env, &m)?;
            env.delete_local_ref(t)?;
            env.delete_local_ref(m)?;
            let o = OffsetAndMetadata { offset: offs[i], leader_epoch: (epochs[i] >= 0).then_some(epochs[i]), metadata: meta };
            map.insert((topic, parts[i]), o);
        }
        let group = ConsumerGroupMetadata {
            group_id: env.get_string(&group_id)?.into(),
            generation_id,
            member_id: optional_string(env, &member_id)?.unwrap_or_default(),
            group_instance_id: optional_string(env, &group_instance_id)?,
        };
        Ok(p.send_offsets_to_transaction(&map, &group, p.config().max_block)?)
    })
}

/// `int transactionState(long handle)`: the engine's transaction state as the ordinal of Java's
/// `TransactionManager.State` (UNINITIALIZED 0 ... FATAL_ERROR 7), or -1 without `transactional.id`.
#[no_mangle]
pub extern "system" fn Java_io_rafka_internal_RafkaNative_transactionState<'l>(mut env: JNIEnv<'l>, _c: JClass<'l>, handle: jlong) -> jint {
    entry(&mut env, -1, |_| {
        Ok(match producer(handle)?.transaction_state() {
            None => -1,
            Some(TxnState::Uninitialized) => 0,
            Some(TxnState::Initializing) => 1,
            Some(TxnState::Ready) => 2,
            Some(TxnState::InTransaction) => 3,
            Some(TxnState::Committing) => 4,
            Some(TxnState::Aborting) => 5,
            Some(TxnState::AbortableError) => 6,
            Some(TxnState::FatalError) => 7,
        })
    })
}

/// `NativeException transactionError(long handle)`: the error behind an abortable or fatal
/// transaction state, returned (not thrown), or null.
#[no_mangle]
pub extern "system" fn Java_io_rafka_internal_RafkaNative_transactionError<'l>(mut env: JNIEnv<'l>, _c: JClass<'l>, handle: jlong) -> jni::sys::jobject {
    entry(&mut env, std::ptr::null_mut(), |env| {
        let Some(e) = producer(handle)?.transaction_error() else { return Ok(std::ptr::null_mut()) };
        let java = JAVA.get().ok_or_else(|| Error::local(LocalCode::Internal, "the JVM is not reachable from rafka-jni"))?;
        let msg = env.new_string(e.to_string())?;
        let class: &JClass<'_> = java.exception_class.as_obj().into();
        let args = [jvalue { i: e.code().as_i32() }, jvalue { l: msg.as_raw() }, jvalue { i: flags(&e) }];
        // SAFETY: the constructor id belongs to this class and takes (int, String, int).
        let ex = unsafe { env.new_object_unchecked(class, java.exception_ctor, &args) }?;
        env.delete_local_ref(msg)?;
        Ok(ex.into_raw())
    })
}
