// rafka.hpp: a header-only C++17 wrapper over the C API in rafka.h.
//
// RAII handles; configuration from a map; an optional Partitioner and SpoolRecoveredCallback
// (std::function, carried in the conf opaque); send() with a std::function delivery callback (carried
// as the per-message opaque and freed in the trampoline) or returning a std::future; exceptions by
// default plus non-throwing overloads taking std::nothrow.
//
// Transactions (docs/transactions.md): init_transactions(), begin_transaction(),
// send_offsets_to_transaction(), commit_transaction(), abort_transaction() throw TxnError, an
// Error that also says whether to retry the call, abort the transaction or give the producer
// up; their std::nothrow overloads return the C error object (empty on success).
//
// Delivery reports run on the thread that calls poll()/flush()/close() (the default, as in
// librdkafka), or on a background thread when the Producer is built with
// DeliveryThread::Background; a future returned by send() resolves only when its report is served.
// So do the reports of records an earlier producer left in "spool.dir" (docs/outages.md), which go
// to the SpoolRecoveredCallback a Producer is built with.
#ifndef RAFKA_HPP
#define RAFKA_HPP

#include <cstdint>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "rafka.h"

namespace rafka {

/// An error from librafka: code() is a rafka_resp_err_t (negative local, positive Kafka).
class Error : public std::runtime_error {
public:
    Error(rafka_resp_err_t code, const std::string &message) : std::runtime_error(message), code_(code) {}
    rafka_resp_err_t code() const noexcept { return code_; }
    const char *name() const noexcept { return rafka_err_name(code_); }

private:
    rafka_resp_err_t code_;
};

/// An error of a transactional call: what to do next is in the three flags (librdkafka's
/// rd_kafka_error_t): retriable() - call the same method again; txn_requires_abort() - call
/// abort_transaction(), then a new transaction may begin; fatal() - the producer cannot go on.
class TxnError : public Error {
public:
    /// Copies what `e` (not NULL) says; does not take it.
    explicit TxnError(const rafka_error_t *e)
        : Error(rafka_error_code(e), rafka_error_string(e)),
          retriable_(rafka_error_is_retriable(e) != 0),
          fatal_(rafka_error_is_fatal(e) != 0),
          txn_requires_abort_(rafka_error_txn_requires_abort(e) != 0) {}
    bool retriable() const noexcept { return retriable_; }
    bool fatal() const noexcept { return fatal_; }
    bool txn_requires_abort() const noexcept { return txn_requires_abort_; }

private:
    bool retriable_, fatal_, txn_requires_abort_;
};

struct ErrorDeleter {
    void operator()(rafka_error_t *e) const noexcept { rafka_error_destroy(e); }
};
/// The C error object of a call that returns one (the transactional calls,
/// set_sasl_credentials); empty on success.
using ErrorPtr = std::unique_ptr<rafka_error_t, ErrorDeleter>;

/// The offset to commit for one partition: the next record to consume (last processed + 1).
struct TopicPartitionOffset {
    std::string topic;
    int32_t partition = 0;
    int64_t offset = 0;
};

/// The consumer group a transaction commits offsets for, as the consumer reports it
/// (generation -1 and an empty member id when unknown).
struct ConsumerGroupMetadata {
    std::string group_id;
    int32_t generation_id = -1;
    std::string member_id;
    std::optional<std::string> group_instance_id;
};

struct Header {
    std::string name;
    std::optional<std::string> value;  // nullopt: a null header
};

/// A record to send; the library copies everything it needs during send().
struct Record {
    std::string topic;
    int32_t partition = RAFKA_PARTITION_UA;
    std::optional<std::string> key;
    std::optional<std::string> value;  // nullopt: a tombstone
    std::vector<Header> headers;
    int64_t timestamp = 0;  // ms since the epoch; 0: now
};

struct RecordMetadata {
    std::string topic;
    int32_t partition = -1;
    int64_t offset = -1;
    int64_t timestamp = -1;
};

/// One delivery report, copied out of the C report so it may be kept.
struct DeliveryReport {
    rafka_resp_err_t error = RAFKA_RESP_ERR_NO_ERROR;
    std::string message;  // empty on success
    RecordMetadata metadata;
    bool possibly_persisted = false;
    bool ok() const noexcept { return error == RAFKA_RESP_ERR_NO_ERROR; }
};

using DeliveryCallback = std::function<void(const DeliveryReport &)>;

/// The report of a record an earlier producer left in "spool.dir" (after a crash, or a close that
/// could not send everything), sent by this one: the delivery report (partition and offset, or
/// the error; RAFKA_RESP_ERR__DESTROY when this producer closed before sending it, and it stays in
/// the spool for the next one) with the record's key and value as the earlier producer gave them.
struct RecoveredRecord : DeliveryReport {
    std::optional<std::string> key;    // nullopt: the record had no key
    std::optional<std::string> value;  // nullopt: a tombstone
};

/// Gets each RecoveredRecord once (rafka_conf_set_spool_recovered_cb), on the thread that serves
/// delivery reports. An exception it throws is dropped (it must not cross into the library).
using SpoolRecoveredCallback = std::function<void(const RecoveredRecord &)>;

enum class DeliveryThread { Poll, Background };

/// A custom partitioner: the partition, in 0..partition_count-1, for a record of `topic` with
/// `key` (nullopt when it has none). Called from rafka_produce()'s thread or the producer's I/O
/// thread, possibly from several at once: it must be thread-safe and quick. A value out of range,
/// or an exception, fails the record with RAFKA_RESP_ERR__UNKNOWN_PARTITION.
using Partitioner = std::function<int32_t(std::string_view topic, std::optional<std::string_view> key, int32_t partition_count)>;

class Producer {
public:
    /// Throws rafka::Error when a setting is unknown or invalid or the producer cannot be built.
    explicit Producer(const std::map<std::string, std::string> &config, DeliveryThread mode = DeliveryThread::Poll) {
        init(config, mode);
    }

    /// A producer whose records without a partition go where `partitioner` says (instead of the
    /// `partitioner` setting).
    Producer(const std::map<std::string, std::string> &config, Partitioner partitioner,
             DeliveryThread mode = DeliveryThread::Poll)
        : hooks_(std::make_unique<Hooks>(Hooks{std::move(partitioner), nullptr})) {
        init(config, mode);
    }

    /// A producer with "spool.dir" whose reports of records an earlier producer left in the spool
    /// go to `on_recovered` (once each; never called when nothing was recovered).
    Producer(const std::map<std::string, std::string> &config, SpoolRecoveredCallback on_recovered,
             DeliveryThread mode = DeliveryThread::Poll)
        : hooks_(std::make_unique<Hooks>(Hooks{nullptr, std::move(on_recovered)})) {
        init(config, mode);
    }

    /// Both: a partitioner and a recovered-records callback.
    Producer(const std::map<std::string, std::string> &config, Partitioner partitioner, SpoolRecoveredCallback on_recovered,
             DeliveryThread mode = DeliveryThread::Poll)
        : hooks_(std::make_unique<Hooks>(Hooks{std::move(partitioner), std::move(on_recovered)})) {
        init(config, mode);
    }

    Producer(Producer &&) noexcept = default;
    Producer &operator=(Producer &&other) noexcept {
        handle_.reset();  // the old producer closes while its partitioner and callbacks still live
        hooks_ = std::move(other.hooks_);
        handle_ = std::move(other.handle_);
        return *this;
    }
    ~Producer() = default;  // closes (waiting for pending reports) and frees

    /// Sends a record; `callback` runs once with its report. Throws rafka::Error if not accepted
    /// (then the callback never runs).
    void send(const Record &record, DeliveryCallback callback, bool block = true) {
        rafka_resp_err_t err = send(record, std::move(callback), std::nothrow, block);
        if (err) throw Error(err, rafka_last_error_message());
    }

    /// Non-throwing: returns 0 when accepted, else the error code.
    rafka_resp_err_t send(const Record &record, DeliveryCallback callback, const std::nothrow_t &, bool block = true) noexcept {
        auto *cb = new (std::nothrow) DeliveryCallback(std::move(callback));
        if (!cb) return RAFKA_RESP_ERR__INTERNAL;
        rafka_resp_err_t err = produce(record, cb, block);
        if (err) delete cb;
        return err;
    }

    /// Sends a record (blocking up to max.block.ms for buffer space); the future gives its
    /// metadata or throws rafka::Error. In DeliveryThread::Poll mode it resolves when poll(),
    /// flush() or close() serves the report.
    std::future<RecordMetadata> send(const Record &record) {
        auto promise = std::make_shared<std::promise<RecordMetadata>>();
        auto future = promise->get_future();
        send(record, [promise](const DeliveryReport &r) {
            if (r.ok())
                promise->set_value(r.metadata);
            else
                promise->set_exception(std::make_exception_ptr(Error(r.error, r.message)));
        });
        return future;
    }

    /// Serves ready delivery reports on this thread; returns how many.
    int poll(int timeout_ms = 0) noexcept { return rafka_poll(handle_.get(), timeout_ms); }

    void flush(int timeout_ms = -1) {
        rafka_resp_err_t err = rafka_flush(handle_.get(), timeout_ms);
        if (err) throw Error(err, rafka_last_error_message());
    }
    rafka_resp_err_t flush(int timeout_ms, const std::nothrow_t &) noexcept { return rafka_flush(handle_.get(), timeout_ms); }

    void purge() noexcept { rafka_purge(handle_.get()); }

    void close(int timeout_ms = -1) {
        rafka_resp_err_t err = rafka_producer_close(handle_.get(), timeout_ms);
        if (err) throw Error(err, rafka_last_error_message());
    }
    rafka_resp_err_t close(int timeout_ms, const std::nothrow_t &) noexcept { return rafka_producer_close(handle_.get(), timeout_ms); }

    int64_t in_flight() const noexcept { return rafka_outq_len(handle_.get()); }

    /// The SASL PLAIN or SCRAM credentials for every connection opened from now on (open ones
    /// keep theirs), as librdkafka's rd_kafka_sasl_set_credentials. Throws rafka::Error
    /// (_INVALID_ARG) when the producer does not authenticate with SASL PLAIN or SCRAM.
    void set_sasl_credentials(const std::string &username, const std::string &password) {
        ErrorPtr e(rafka_sasl_set_credentials(handle_.get(), username.c_str(), password.c_str()));
        if (e) throw Error(rafka_error_code(e.get()), rafka_error_string(e.get()));
    }

    // ---- transactions (the producer needs "transactional.id") ----
    // Timeouts in ms, -1 for ever. Each throws TxnError; the std::nothrow overloads return it.
    // send_offsets_to_transaction has no std::nothrow form (it builds C arguments); a string
    // that is not UTF-8 in its arguments throws rafka::Error (_INVALID_ARG).

    void init_transactions(int timeout_ms = -1) { check(init_transactions(timeout_ms, std::nothrow)); }
    ErrorPtr init_transactions(int timeout_ms, const std::nothrow_t &) noexcept {
        return ErrorPtr(rafka_init_transactions(handle_.get(), timeout_ms));
    }

    void begin_transaction() { check(begin_transaction(std::nothrow)); }
    ErrorPtr begin_transaction(const std::nothrow_t &) noexcept { return ErrorPtr(rafka_begin_transaction(handle_.get())); }

    /// Commits `offsets` for `group` with the transaction, and only if it commits.
    void send_offsets_to_transaction(const std::vector<TopicPartitionOffset> &offsets, const ConsumerGroupMetadata &group,
                                     int timeout_ms = -1) {
        std::unique_ptr<rafka_topic_partition_list_t, ListDeleter> list(
            rafka_topic_partition_list_new(static_cast<int32_t>(offsets.size())));
        std::unique_ptr<rafka_consumer_group_metadata_t, GroupDeleter> cgmd(rafka_consumer_group_metadata_new_with_genid(
            group.group_id.c_str(), group.generation_id, group.member_id.c_str(),
            group.group_instance_id ? group.group_instance_id->c_str() : nullptr));
        if (!list) throw Error(RAFKA_RESP_ERR__INTERNAL, "rafka_topic_partition_list_new failed");
        if (!cgmd) throw Error(RAFKA_RESP_ERR__INVALID_ARG, rafka_last_error_message());
        for (const auto &o : offsets) {
            rafka_resp_err_t err = rafka_topic_partition_list_add_offset(list.get(), o.topic.c_str(), o.partition, o.offset);
            if (err) throw Error(err, rafka_last_error_message());
        }
        check(ErrorPtr(rafka_send_offsets_to_transaction(handle_.get(), list.get(), cgmd.get(), timeout_ms)));
    }

    void commit_transaction(int timeout_ms = -1) { check(commit_transaction(timeout_ms, std::nothrow)); }
    ErrorPtr commit_transaction(int timeout_ms, const std::nothrow_t &) noexcept {
        return ErrorPtr(rafka_commit_transaction(handle_.get(), timeout_ms));
    }

    void abort_transaction(int timeout_ms = -1) { check(abort_transaction(timeout_ms, std::nothrow)); }
    ErrorPtr abort_transaction(int timeout_ms, const std::nothrow_t &) noexcept {
        return ErrorPtr(rafka_abort_transaction(handle_.get(), timeout_ms));
    }

    /// The C handle, for calls the wrapper does not cover. Still owned by this object.
    rafka_producer_t *handle() const noexcept { return handle_.get(); }

private:
    struct ConfDeleter {
        void operator()(rafka_conf_t *c) const noexcept { rafka_conf_free(c); }
    };
    struct ProducerDeleter {
        void operator()(rafka_producer_t *p) const noexcept { rafka_producer_free(p); }
    };

    struct ListDeleter {
        void operator()(rafka_topic_partition_list_t *l) const noexcept { rafka_topic_partition_list_destroy(l); }
    };
    struct GroupDeleter {
        void operator()(rafka_consumer_group_metadata_t *g) const noexcept { rafka_consumer_group_metadata_destroy(g); }
    };

    void init(const std::map<std::string, std::string> &config, DeliveryThread mode) {
        std::unique_ptr<rafka_conf_t, ConfDeleter> conf(rafka_conf_new());
        char err[512] = "";
        if (!conf) throw Error(RAFKA_RESP_ERR__INTERNAL, "rafka_conf_new failed");
        for (const auto &kv : config) {
            if (rafka_conf_set(conf.get(), kv.first.c_str(), kv.second.c_str(), err, sizeof err) != RAFKA_CONF_OK)
                throw Error(RAFKA_RESP_ERR__INVALID_CONFIG, err);
        }
        if (rafka_conf_set(conf.get(), "delivery.report.mode", mode == DeliveryThread::Background ? "thread" : "poll",
                           err, sizeof err) != RAFKA_CONF_OK)
            throw Error(RAFKA_RESP_ERR__INVALID_CONFIG, err);
        rafka_conf_set_dr_cb(conf.get(), &Producer::trampoline);
        if (hooks_) {
            // The conf opaque carries the hooks, which outlive the handle (declared first).
            rafka_conf_set_opaque(conf.get(), hooks_.get());
            if (hooks_->partitioner) rafka_conf_set_partitioner_cb(conf.get(), &Producer::partition_trampoline);
            if (hooks_->recovered) rafka_conf_set_spool_recovered_cb(conf.get(), &Producer::recovered_trampoline);
        }
        rafka_producer_t *p = rafka_producer_new(conf.get(), err, sizeof err);
        if (!p) throw Error(RAFKA_RESP_ERR__INVALID_CONFIG, err);
        conf.release();  // the producer owns it now
        handle_.reset(p);
    }

    static int32_t partition_trampoline(const char *topic, const void *key, size_t keylen, int32_t partition_count,
                                        void *opaque) noexcept {
        try {
            std::optional<std::string_view> k;
            if (key) k = std::string_view(static_cast<const char *>(key), keylen);
            return static_cast<Hooks *>(opaque)->partitioner(topic, k, partition_count);
        } catch (...) {
            return -1;  // an exception must not cross into the library: the record fails
        }
    }

    static void check(const ErrorPtr &e) {
        if (e) throw TxnError(e.get());
    }

    rafka_resp_err_t produce(const Record &r, DeliveryCallback *cb, bool block) noexcept {
        std::vector<rafka_header_t> hs;
        try {
            hs.reserve(r.headers.size());
        } catch (...) {
            return RAFKA_RESP_ERR__INTERNAL;
        }
        for (const auto &h : r.headers)
            hs.push_back(rafka_header_t{h.name.c_str(), h.value ? h.value->data() : nullptr, h.value ? h.value->size() : 0});
        return rafka_produce(handle_.get(), r.topic.c_str(), r.partition, RAFKA_MSG_F_COPY | (block ? RAFKA_MSG_F_BLOCK : 0),
                             r.key ? r.key->data() : nullptr, r.key ? r.key->size() : 0,
                             r.value ? r.value->data() : nullptr, r.value ? r.value->size() : 0,
                             hs.empty() ? nullptr : hs.data(), hs.size(), r.timestamp, cb);
    }

    static void fill(DeliveryReport &rep, const rafka_delivery_report_t *r) {
        rep.error = r->err;
        if (r->errstr) rep.message = r->errstr;
        rep.metadata = RecordMetadata{r->topic ? r->topic : "", r->partition, r->offset, r->timestamp};
        rep.possibly_persisted = r->possibly_persisted != 0;
    }

    // Runs once per record: calls and frees the std::function carried as the message opaque.
    static void trampoline(rafka_producer_t *, const rafka_delivery_report_t *r, void *) noexcept {
        std::unique_ptr<DeliveryCallback> cb(static_cast<DeliveryCallback *>(r->msg_opaque));
        if (!cb || !*cb) return;
        try {
            DeliveryReport rep;
            fill(rep, r);
            (*cb)(rep);
        } catch (...) {
            // an exception must not cross into the library; the report is dropped
        }
    }

    // Runs once per recovered record; the conf opaque is the Producer's hooks.
    static void recovered_trampoline(rafka_producer_t *, const rafka_delivery_report_t *r, void *opaque) noexcept {
        try {
            RecoveredRecord rec;
            fill(rec, r);
            if (r->key) rec.key = std::string(static_cast<const char *>(r->key), r->key_len);
            if (r->value) rec.value = std::string(static_cast<const char *>(r->value), r->value_len);
            static_cast<Hooks *>(opaque)->recovered(rec);
        } catch (...) {
            // an exception must not cross into the library; the report is dropped
        }
    }

    /// What the C callbacks reach through the conf opaque; an empty std::function is not set.
    struct Hooks {
        Partitioner partitioner;
        SpoolRecoveredCallback recovered;
    };

    std::unique_ptr<Hooks> hooks_;  // before handle_: destroyed after it
    std::unique_ptr<rafka_producer_t, ProducerDeleter> handle_;
};

}  // namespace rafka

#endif  // RAFKA_HPP
