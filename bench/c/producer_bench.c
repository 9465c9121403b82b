/* bench/c/producer_bench.c: one producer loop through librafka's C API or, built with
 * -DUSE_RDKAFKA, through librdkafka, for bench/run.
 *
 * usage: producer_bench --bootstrap B --topic T --records N --size S [--threads T] [--keys K]
 *                       [--warmup W] [--set key=value]...
 *                       [--transaction-duration-ms D] [--transaction-records R] [--hold-ms H]
 *                       [--throughput R] [--iov P]
 *
 * Payloads (and keys "key-<i % K>", K=0 for none) are made before timing. W warm-up records are
 * sent and flushed first; then T threads send N records between them, serving delivery reports
 * with poll(0) as they go (and poll(10) when the queue is full), and the clock stops after flush.
 * Only acknowledged records are counted. Latency is the library's own send-to-report time
 * (rd_kafka_message_latency / report->latency_us), kept in a log-linear histogram.
 *
 * With --transaction-duration-ms or --transaction-records (and --set transactional.id=...), the
 * producer calls init_transactions and then sends in transactions: one begins before its first
 * record and commits once it has been open D ms or holds R records (whichever comes first when
 * both are given; the last one commits at the end), as Kafka's ProducerPerformance does with
 * --transaction-duration-ms. One thread only; warm-up records go in a transaction of their own.
 * "transactions" counts the commits, "committed" the records in committed transactions.
 *
 * --throughput R: send at most R records/s in all (each of T threads R/T), paced like Kafka's
 * ProducerPerformance (which sleeps once 2 ms ahead): a thread ahead of its schedule by 1 ms or
 * more serves reports with poll() until it is due, so records leave in bursts of under 1 ms. Latency is then the harness's
 * own: the clock at produce() (passed as the record's opaque) to the delivery callback, the same
 * measure for both libraries and for bench/java/ProducerBench.java.
 *
 * --hold-ms H: after printing, wait H ms before closing the producer (so bench/idle_partitions.py
 * can read the process's memory while it still holds its state).
 *
 * --iov P (rafka only): the value goes to rafka_produce_iov() as P pieces of the payload (the last
 * takes the remainder), 1 <= P <= 16; 0, the default, is rafka_produce(). librdkafka has no such
 * call: its build prints {"unavailable": ...} for --iov (bench/large_records.py).
 *
 * Prints one JSON line. A setting the library rejects prints {"unavailable": ...} and exits 3. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef USE_RDKAFKA
#include <librdkafka/rdkafka.h>
#define CLIENT "librdkafka"
typedef rd_kafka_t handle_t;
#else
#include "rafka.h"
#define CLIENT "rafka"
typedef rafka_producer_t handle_t;
#endif

#define MAX_SETTINGS 64
#define SUB_BITS 7 /* 128 sub-buckets per power of two: under 1% error */
#define BUCKETS (64 << SUB_BITS)

static atomic_long acked, failed;
static atomic_long hist[BUCKETS];
static char first_error[256];
static atomic_int have_error;

static handle_t *h;
static const char *topic;
static long records_per_thread, size, nkeys;
static char *payload;
static long iov_pieces; /* --iov: 0, or the value in this many pieces through rafka_produce_iov() */
#define MAX_IOV 16
static char (*keys)[24];
static long txn_ms, txn_records; /* 0: not transactional */
static long commits, committed;
static long hold_ms;
static double rate_per_thread; /* records/s; 0: as fast as possible */

static int64_t now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* With --throughput: the record's produce() time, carried as its opaque; else NULL. */
static void *send_stamp(void) {
    return rate_per_thread > 0 ? (void *)(intptr_t)now_us() : NULL;
}

/* Send-to-callback latency: the harness's clock when the record carries a stamp, else the library's. */
static int64_t latency_of(void *stamp, int64_t library_us) {
    return stamp ? now_us() - (int64_t)(intptr_t)stamp : library_us;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int bucket_of(uint64_t us) {
    int msb;
    if (us < (1u << SUB_BITS)) return (int)us;
    msb = 63 - __builtin_clzll(us);
    return ((msb - SUB_BITS + 1) << SUB_BITS) + (int)((us >> (msb - SUB_BITS)) & ((1u << SUB_BITS) - 1));
}

static double bucket_value(int b) {
    int e = (b >> SUB_BITS) - 1, sub = b & ((1 << SUB_BITS) - 1);
    if (b < (1 << SUB_BITS)) return b;
    return (double)(((uint64_t)(1 << SUB_BITS) + (uint64_t)sub) << e);
}

static double percentile_ms(double p) {
    long total = 0, seen = 0, target;
    int b;
    for (b = 0; b < BUCKETS; b++) total += atomic_load(&hist[b]);
    if (!total) return 0;
    target = (long)(p * (double)total + 0.5);
    if (target < 1) target = 1;
    for (b = 0; b < BUCKETS; b++) {
        seen += atomic_load(&hist[b]);
        if (seen >= target) return bucket_value(b) / 1000.0;
    }
    return 0;
}

static void report(int err, const char *errstr, int64_t latency_us) {
    if (err) {
        atomic_fetch_add(&failed, 1);
        if (!atomic_exchange(&have_error, 1)) {
            char *c;
            snprintf(first_error, sizeof first_error, "%s", errstr ? errstr : "?");
            for (c = first_error; *c; c++)
                if (*c == '"' || *c == '\\' || (unsigned char)*c < 0x20) *c = '\''; /* stays valid JSON */
        }
        return;
    }
    atomic_fetch_add(&acked, 1);
    atomic_fetch_add(&hist[bucket_of(latency_us < 0 ? 0 : (uint64_t)latency_us)], 1);
}

#ifdef USE_RDKAFKA
static void dr(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk;
    (void)opaque;
    report(m->err, m->err ? rd_kafka_err2str(m->err) : NULL, latency_of(m->_private, rd_kafka_message_latency(m)));
}
static int produce_one(long i) {
    const char *k = nkeys ? keys[i % nkeys] : NULL;
    rd_kafka_resp_err_t e;
    while ((e = rd_kafka_producev(h, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_VALUE(payload, (size_t)size),
                                  RD_KAFKA_V_KEY(k, k ? strlen(k) : 0), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                  RD_KAFKA_V_OPAQUE(send_stamp()), RD_KAFKA_V_END)) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
        rd_kafka_poll(h, 10);
    return e;
}
#define POLL(t) rd_kafka_poll(h, t)
#define FLUSH() rd_kafka_flush(h, 300000)
/* A transactional call's error, NULL on success: the message in static storage, error freed. */
static const char *txn_result(rd_kafka_error_t *e) {
    static char msg[512];
    if (!e) return NULL;
    snprintf(msg, sizeof msg, "%s: %s", rd_kafka_error_name(e), rd_kafka_error_string(e));
    rd_kafka_error_destroy(e);
    return msg;
}
#define TXN_INIT() txn_result(rd_kafka_init_transactions(h, 60000))
#define TXN_BEGIN() txn_result(rd_kafka_begin_transaction(h))
#define TXN_COMMIT() txn_result(rd_kafka_commit_transaction(h, 60000))
#else
static void dr(rafka_producer_t *p, const rafka_delivery_report_t *r, void *opaque) {
    (void)p;
    (void)opaque;
    report(r->err, r->errstr, latency_of(r->msg_opaque, (int64_t)r->latency_us));
}
static int produce_one(long i) {
    const char *k = nkeys ? keys[i % nkeys] : NULL;
    rafka_resp_err_t e;
    if (iov_pieces) {
        rafka_iovec_t v[MAX_IOV];
        size_t piece = (size_t)size / (size_t)iov_pieces;
        long j;
        for (j = 0; j < iov_pieces; j++) {
            v[j].base = payload + (size_t)j * piece;
            v[j].len = j + 1 < iov_pieces ? piece : (size_t)size - (size_t)j * piece;
        }
        while ((e = rafka_produce_iov(h, topic, RAFKA_PARTITION_UA, RAFKA_MSG_F_COPY, k, k ? strlen(k) : 0, v,
                                      (size_t)iov_pieces, NULL, 0, 0, send_stamp())) == RAFKA_RESP_ERR__QUEUE_FULL)
            rafka_poll(h, 10);
        return e;
    }
    while ((e = rafka_produce(h, topic, RAFKA_PARTITION_UA, RAFKA_MSG_F_COPY, k, k ? strlen(k) : 0, payload,
                              (size_t)size, NULL, 0, 0, send_stamp())) == RAFKA_RESP_ERR__QUEUE_FULL)
        rafka_poll(h, 10);
    return e;
}
#define POLL(t) rafka_poll(h, t)
#define FLUSH() rafka_flush(h, 300000)
static const char *txn_result(rafka_error_t *e) {
    static char msg[512];
    if (!e) return NULL;
    snprintf(msg, sizeof msg, "%s: %s", rafka_error_name(e), rafka_error_string(e));
    rafka_error_destroy(e);
    return msg;
}
#define TXN_INIT() txn_result(rafka_init_transactions(h, 60000))
#define TXN_BEGIN() txn_result(rafka_begin_transaction(h))
#define TXN_COMMIT() txn_result(rafka_commit_transaction(h, 60000))
#endif

static void txn_failed(const char *call, const char *why) {
    fprintf(stderr, "%s failed: %s\n", call, why);
    printf("{\"client\": \"%s\", \"transaction_error\": \"%s: ", CLIENT, call);
    for (; *why; why++) putchar(*why == '"' || *why == '\\' || (unsigned char)*why < 0x20 ? '\'' : *why);
    printf("\"}\n");
    exit(1);
}

/* The transactional loop: begin, produce, commit every txn_ms / txn_records, commit the rest. */
static void send_in_transactions(long n) {
    long i, in_txn = 0;
    double began = 0;
    const char *e;
    for (i = 0; i < n; i++) {
        if (!in_txn) {
            if ((e = TXN_BEGIN())) txn_failed("begin_transaction", e);
            began = now_s();
        }
        if (produce_one(i)) report(1, "produce() failed", 0);
        in_txn++;
        if ((i & 1023) == 0) POLL(0);
        if ((txn_records && in_txn >= txn_records) || (txn_ms && (now_s() - began) * 1000.0 >= (double)txn_ms)) {
            if ((e = TXN_COMMIT())) txn_failed("commit_transaction", e);
            commits++;
            committed += in_txn;
            in_txn = 0;
        }
    }
    if (in_txn) {
        if ((e = TXN_COMMIT())) txn_failed("commit_transaction", e);
        commits++;
        committed += in_txn;
    }
}

/* With --throughput: serves reports until record i of this thread is due (when 1 ms or more ahead). */
static void pace(double start, long i) {
    double ahead;
    if (rate_per_thread <= 0) return;
    while ((ahead = start + (double)i / rate_per_thread - now_s()) >= 0.001)
        POLL(ahead < 1.0 ? (int)(ahead * 1000.0) : 1000); /* at most 1 s a call, whatever the rate */
}

static void *sender(void *arg) {
    long base = (long)(intptr_t)arg, i;
    double start = now_s();
    for (i = 0; i < records_per_thread; i++) {
        pace(start, i);
        if (produce_one(base + i)) report(1, "produce() failed", 0);
        if ((i & 1023) == 0) POLL(0);
    }
    return NULL;
}

static void unavailable(const char *why) {
    printf("{\"client\": \"%s\", \"unavailable\": \"", CLIENT);
    for (; *why; why++) putchar(*why == '"' || *why == '\\' ? '\'' : *why);
    printf("\"}\n");
    exit(3);
}

int main(int argc, char **argv) {
    const char *bootstrap = NULL, *set[MAX_SETTINGS];
    long records = 0, threads = 1, warmup = 0, i;
    double throughput = 0;
    int nset = 0, a;
    char err[512];
    double t0, wall;
    pthread_t tid[64];
    size = 100;
    for (a = 1; a + 1 < argc; a += 2) {
        if (!strcmp(argv[a], "--bootstrap")) bootstrap = argv[a + 1];
        else if (!strcmp(argv[a], "--topic")) topic = argv[a + 1];
        else if (!strcmp(argv[a], "--records")) records = atol(argv[a + 1]);
        else if (!strcmp(argv[a], "--size")) size = atol(argv[a + 1]);
        else if (!strcmp(argv[a], "--threads")) threads = atol(argv[a + 1]);
        else if (!strcmp(argv[a], "--keys")) nkeys = atol(argv[a + 1]);
        else if (!strcmp(argv[a], "--warmup")) warmup = atol(argv[a + 1]);
        else if (!strcmp(argv[a], "--set") && nset < MAX_SETTINGS) set[nset++] = argv[a + 1];
        else if (!strcmp(argv[a], "--transaction-duration-ms")) txn_ms = atol(argv[a + 1]);
        else if (!strcmp(argv[a], "--transaction-records")) txn_records = atol(argv[a + 1]);
        else if (!strcmp(argv[a], "--hold-ms")) hold_ms = atol(argv[a + 1]);
        else if (!strcmp(argv[a], "--throughput")) {
            char *end;
            throughput = strtod(argv[a + 1], &end);
            if (end == argv[a + 1] || *end) throughput = -1; /* not a number: the usage message */
        }
        else if (!strcmp(argv[a], "--iov")) iov_pieces = atol(argv[a + 1]);
        else break;
    }
    if (a != argc || !bootstrap || !topic || records <= 0 || threads < 1 || threads > 64 || txn_ms < 0 ||
        txn_records < 0 || ((txn_ms || txn_records) && threads != 1) || throughput < 0 ||
        (throughput > 0 && (txn_ms || txn_records))) {
        fprintf(stderr, "usage: %s --bootstrap B --topic T --records N --size S [--threads T] [--keys K] "
                        "[--warmup W] [--set key=value]... [--transaction-duration-ms D] "
                        "[--transaction-records R] [--hold-ms H] [--throughput R] [--iov P] (transactions: one "
                        "thread, no --throughput)\n", argv[0]);
        return 2;
    }
    if (iov_pieces < 0 || iov_pieces > MAX_IOV) {
        fprintf(stderr, "--iov takes the number of pieces, 1 to %d (0: rafka_produce, the default)\n", MAX_IOV);
        return 2;
    }
#ifdef USE_RDKAFKA
    if (iov_pieces) unavailable("--iov: librdkafka has no produce call that takes the value in pieces");
#endif
    payload = malloc((size_t)size + 1);
    for (i = 0; i < size; i++) payload[i] = (char)('A' + i % 26);
    if (nkeys) {
        keys = malloc(sizeof *keys * (size_t)nkeys);
        for (i = 0; i < nkeys; i++) snprintf(keys[i], sizeof keys[i], "key-%ld", i);
    }

#ifdef USE_RDKAFKA
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
#define CONF_SET(k, v) (rd_kafka_conf_set(conf, k, v, err, sizeof err) == RD_KAFKA_CONF_OK)
#else
    rafka_conf_t *conf = rafka_conf_new();
#define CONF_SET(k, v) (rafka_conf_set(conf, k, v, err, sizeof err) == RAFKA_CONF_OK)
#endif
    if (!CONF_SET("bootstrap.servers", bootstrap)) unavailable(err);
    for (a = 0; a < nset; a++) {
        char kv[512], *eq;
        snprintf(kv, sizeof kv, "%s", set[a]);
        if (!(eq = strchr(kv, '='))) unavailable("--set needs key=value");
        *eq = 0;
        if (!CONF_SET(kv, eq + 1)) unavailable(err);
    }
#ifdef USE_RDKAFKA
    rd_kafka_conf_set_dr_msg_cb(conf, dr);
    h = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
#else
    rafka_conf_set_dr_cb(conf, dr);
    h = rafka_producer_new(conf, err, sizeof err);
#endif
    if (!h) unavailable(err);
    if (txn_ms || txn_records) {
        const char *e = TXN_INIT();
        if (e) txn_failed("init_transactions", e);
    }

    if (warmup > 0) {
        records_per_thread = warmup;
        if (txn_ms || txn_records) {
            long keep = txn_records;
            txn_records = warmup; /* one transaction */
            send_in_transactions(warmup);
            txn_records = keep;
        } else {
            sender((void *)0);
        }
        FLUSH();
    }
    commits = committed = 0;
    atomic_store(&acked, 0);
    atomic_store(&failed, 0);
    for (i = 0; i < BUCKETS; i++) atomic_store(&hist[i], 0);

    records_per_thread = records / threads;
    rate_per_thread = throughput / (double)threads; /* the warm-up above went unpaced */
    t0 = now_s();
    if (txn_ms || txn_records) {
        send_in_transactions(records_per_thread);
    } else if (threads == 1) {
        sender((void *)0); /* in the main thread, which also flushes: one thread does all of the application's
                              work, so bench/callgrind counts it as thread 1 */
    } else {
        for (i = 0; i < threads; i++) pthread_create(&tid[i], NULL, sender, (void *)(intptr_t)(i * records_per_thread));
        for (i = 0; i < threads; i++) pthread_join(tid[i], NULL);
    }
    FLUSH();
    wall = now_s() - t0;

    printf("{\"client\": \"%s\", \"records\": %ld, \"acked\": %ld, \"failed\": %ld, \"seconds\": %.4f, "
           "\"p50_ms\": %.3f, \"p99_ms\": %.3f, \"transactions\": %ld, \"committed\": %ld, "
           "\"first_error\": \"%s\"}\n",
           CLIENT, records_per_thread * threads, atomic_load(&acked), atomic_load(&failed), wall,
           percentile_ms(0.50), percentile_ms(0.99), commits, committed, first_error);
    fflush(stdout);
    if (hold_ms > 0) {
        struct timespec hold = {hold_ms / 1000, (hold_ms % 1000) * 1000000L};
        nanosleep(&hold, NULL);
    }
#ifdef USE_RDKAFKA
    rd_kafka_destroy(h);
#else
    rafka_producer_free(h);
#endif
    free(payload);
    free(keys);
    return atomic_load(&failed) ? 1 : 0;
}
