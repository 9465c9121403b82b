/* C tests of librafka against the real broker (RAFKA_BOOTSTRAP), read back with Kafka's own
 * consumer (scripts/kafka consume). Run as: test_capi <case>, or test_capi all. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rafka.h"

#ifndef RAFKA_SOURCE_DIR
#error "RAFKA_SOURCE_DIR must be defined (the repository root, for scripts/kafka)"
#endif

static int failures;
#define CHECK(cond)                                                                        \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);       \
            failures++;                                                                    \
        }                                                                                  \
    } while (0)
#define CHECK_EQ(a, b)                                                                     \
    do {                                                                                   \
        long long a_ = (long long)(a), b_ = (long long)(b);                                \
        if (a_ != b_) {                                                                    \
            fprintf(stderr, "%s:%d: CHECK_EQ failed: %s == %lld, %s == %lld (%s)\n",       \
                    __FILE__, __LINE__, #a, a_, #b, b_, rafka_last_error_message());       \
            failures++;                                                                    \
        }                                                                                  \
    } while (0)

static const char *bootstrap(void) {
    const char *b = getenv("RAFKA_BOOTSTRAP");
    return b && *b ? b : "127.0.0.1:19092";
}

/* A fresh topic per test, so reading it back sees only what this test wrote. */
static void make_topic(char *name, size_t size, const char *tag, int partitions) {
    char cmd[512];
    snprintf(name, size, "capi-%s-%ld-%ld", tag, (long)getpid(), (long)time(NULL));
    snprintf(cmd, sizeof cmd, "%s/scripts/kafka topic create %s --partitions %d >/dev/null", RAFKA_SOURCE_DIR,
             name, partitions);
    if (system(cmd) != 0) {
        fprintf(stderr, "cannot create topic %s\n", name);
        exit(2);
    }
}

/* Runs `cmd` and returns its standard output, malloc'd. */
static char *run_capture(const char *cmd) {
    size_t cap = 1 << 16, len = 0, n;
    char *out = malloc(cap);
    FILE *f = popen(cmd, "r");
    if (!f || !out) exit(2);
    while ((n = fread(out + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (cap - len < 1024) {
            cap *= 2;
            out = realloc(out, cap);
            if (!out) exit(2);
        }
    }
    out[len] = 0;
    pclose(f);
    return out;
}

/* Runs scripts/kafka consume and returns its output (JSON lines), malloc'd. `max` < 0 reads up
 * to the end offsets seen at start; `options` is added to the command line ("" or
 * "--read-committed"). */
static char *consume_with(const char *topic, int max, const char *options) {
    char cmd[512], count[32] = "";
    if (max >= 0) snprintf(count, sizeof count, "--max %d", max);
    snprintf(cmd, sizeof cmd, "%s/scripts/kafka consume %s %s %s", RAFKA_SOURCE_DIR, topic, count, options);
    return run_capture(cmd);
}

static char *consume(const char *topic, int max) {
    return consume_with(topic, max, "");
}

static int count_lines(const char *s) {
    int n = 0;
    for (; *s; s++) n += *s == '\n';
    return n;
}

static rafka_conf_t *base_conf(void) {
    char err[256];
    rafka_conf_t *c = rafka_conf_new();
    if (rafka_conf_set(c, "bootstrap.servers", bootstrap(), err, sizeof err) != RAFKA_CONF_OK ||
        rafka_conf_set(c, "linger.ms", "2", err, sizeof err) != RAFKA_CONF_OK) {
        fprintf(stderr, "conf: %s\n", err);
        exit(2);
    }
    return c;
}

/* ---- delivery report bookkeeping ---------------------------------------------------------- */
struct reports {
    pthread_mutex_t lock;
    int count, ok, failed;
    int last_err;
    int possibly_persisted;
    long long seen_opaque_sum;
    int key_value_ok; /* every report carried the key and value that were sent */
    int close_in_cb;  /* call rafka_producer_close from the callback */
    int closed_rc;
};

static void dr_cb(rafka_producer_t *p, const rafka_delivery_report_t *r, void *opaque) {
    struct reports *st = opaque;
    pthread_mutex_lock(&st->lock);
    st->count++;
    if (r->err == RAFKA_RESP_ERR_NO_ERROR) {
        st->ok++;
        if (r->offset < 0 || r->partition < 0 || r->errstr != NULL) st->key_value_ok = 0;
    } else {
        st->failed++;
        st->last_err = r->err;
        if (r->errstr == NULL) st->key_value_ok = 0;
    }
    st->possibly_persisted += r->possibly_persisted;
    st->seen_opaque_sum += (long long)(intptr_t)r->msg_opaque;
    if (r->topic == NULL || strncmp(r->topic, "capi-", 5) != 0) st->key_value_ok = 0;
    if (r->key && r->value) {
        /* keys are "k<N>", values "v<N>..." */
        if (r->key_len < 1 || r->value_len < r->key_len || ((const char *)r->key)[0] != 'k' ||
            ((const char *)r->value)[0] != 'v' ||
            memcmp((const char *)r->key + 1, (const char *)r->value + 1, r->key_len - 1) != 0)
            st->key_value_ok = 0;
    }
    if (st->close_in_cb) {
        st->close_in_cb = 0;
        pthread_mutex_unlock(&st->lock);
        st->closed_rc = rafka_producer_close(p, 10000);
        return;
    }
    pthread_mutex_unlock(&st->lock);
}

static rafka_producer_t *new_producer(rafka_conf_t *c, struct reports *st) {
    char err[256];
    rafka_producer_t *p;
    memset(st, 0, sizeof *st);
    pthread_mutex_init(&st->lock, NULL);
    st->key_value_ok = 1;
    rafka_conf_set_dr_cb(c, dr_cb);
    rafka_conf_set_opaque(c, st);
    p = rafka_producer_new(c, err, sizeof err);
    if (!p) {
        fprintf(stderr, "producer_new: %s\n", err);
        exit(2);
    }
    return p;
}

static int reports_count(struct reports *st) {
    int n;
    pthread_mutex_lock(&st->lock);
    n = st->count;
    pthread_mutex_unlock(&st->lock);
    return n;
}

/* ---- the tests ------------------------------------------------------------------------------- */

static void test_version(void) {
    CHECK_EQ(rafka_version(), RAFKA_VERSION);
    CHECK(strcmp(rafka_version_str(), RAFKA_VERSION_STR) == 0);
}

static void test_conf_set_results(void) {
    char err[256] = "";
    char small[8];
    char buf[64];
    size_t size = sizeof buf;
    rafka_conf_t *c = rafka_conf_new();
    CHECK(c != NULL);
    CHECK_EQ(rafka_conf_set(c, "linger.ms", "7", err, sizeof err), RAFKA_CONF_OK);
    CHECK_EQ(rafka_conf_get(c, "linger.ms", buf, &size), RAFKA_CONF_OK);
    CHECK(strcmp(buf, "7") == 0);
    CHECK_EQ(size, 2);
    CHECK_EQ(rafka_conf_set(c, "queue.buffering.max.ms", "9", err, sizeof err), RAFKA_CONF_OK);
    CHECK_EQ(rafka_conf_set(c, "lnger.ms", "7", err, sizeof err), RAFKA_CONF_UNKNOWN);
    CHECK(strstr(err, "linger.ms") != NULL); /* suggests the closest key */
    CHECK_EQ(rafka_conf_set(c, "acks", "three", err, sizeof err), RAFKA_CONF_INVALID);
    CHECK(strlen(err) > 0);
    /* a short error buffer is truncated and NUL-terminated, never overrun */
    memset(small, 'x', sizeof small);
    CHECK_EQ(rafka_conf_set(c, "no.such.key", "1", small, sizeof small), RAFKA_CONF_UNKNOWN);
    CHECK_EQ(strlen(small), sizeof small - 1);
    CHECK_EQ(rafka_conf_set(c, "delivery.report.mode", "thread", err, sizeof err), RAFKA_CONF_OK);
    CHECK_EQ(rafka_conf_set(c, "delivery.report.mode", "sometimes", err, sizeof err), RAFKA_CONF_INVALID);
    rafka_conf_free(c);
}

static void test_producer_new_with_bad_conf_keeps_conf(void) {
    char err[256] = "";
    rafka_conf_t *c = rafka_conf_new();
    /* idempotence with acks=1 is a conflict found when the producer is built */
    rafka_conf_set(c, "bootstrap.servers", bootstrap(), err, sizeof err);
    rafka_conf_set(c, "enable.idempotence", "true", err, sizeof err);
    rafka_conf_set(c, "acks", "1", err, sizeof err);
    CHECK(rafka_producer_new(c, err, sizeof err) == NULL);
    CHECK(strlen(err) > 0);
    rafka_conf_free(c); /* still ours: valgrind/ASan see a double free or a leak otherwise */
}

static void test_error_names(void) {
    CHECK(strcmp(rafka_err_name(RAFKA_RESP_ERR_NO_ERROR), "NO_ERROR") == 0);
    CHECK(strcmp(rafka_err_name(RAFKA_RESP_ERR__QUEUE_FULL), "_QUEUE_FULL") == 0);
    CHECK(strcmp(rafka_err_name(6), "NOT_LEADER_OR_FOLLOWER") == 0);
    CHECK(strcmp(rafka_err_name(RAFKA_RESP_ERR_MESSAGE_TOO_LARGE), "MESSAGE_TOO_LARGE") == 0);
    CHECK(strlen(rafka_err_description(RAFKA_RESP_ERR__MSG_TIMED_OUT)) > 0);
    CHECK(rafka_err_name(-99999) != NULL);
    CHECK(rafka_err_description(123456) != NULL);
    CHECK(rafka_err_name(6) == rafka_err_name(6)); /* static storage */
    CHECK_EQ(rafka_err_is_retriable(6), 1);
    CHECK_EQ(rafka_err_is_retriable(RAFKA_RESP_ERR_NO_ERROR), 0);
}

static void test_null_pointers(void) {
    char err[64];
    size_t size = sizeof err;
    rafka_conf_t *c = rafka_conf_new();
    rafka_producer_t *p;
    struct reports st;
    rafka_header_t bad_header = {NULL, "v", 1};
    rafka_iovec_t bad_iov = {NULL, 3};

    CHECK_EQ(rafka_conf_set(NULL, "a", "b", err, sizeof err), RAFKA_CONF_INVALID);
    CHECK_EQ(rafka_conf_set(c, NULL, "b", err, sizeof err), RAFKA_CONF_INVALID);
    CHECK_EQ(rafka_conf_set(c, "linger.ms", NULL, err, sizeof err), RAFKA_CONF_INVALID);
    CHECK_EQ(rafka_conf_set(c, "linger.ms", "1", NULL, 0), RAFKA_CONF_OK);
    CHECK_EQ(rafka_conf_set(c, "nope", "1", NULL, 100), RAFKA_CONF_UNKNOWN);
    CHECK_EQ(rafka_conf_get(NULL, "linger.ms", err, &size), RAFKA_CONF_INVALID);
    CHECK_EQ(rafka_conf_get(c, NULL, err, &size), RAFKA_CONF_INVALID);
    CHECK_EQ(rafka_conf_set_dr_cb(NULL, dr_cb), RAFKA_RESP_ERR__INVALID_ARG);
    CHECK_EQ(rafka_conf_set_log_cb(NULL, NULL), RAFKA_RESP_ERR__INVALID_ARG);
    CHECK_EQ(rafka_conf_set_spool_recovered_cb(NULL, NULL), RAFKA_RESP_ERR__INVALID_ARG);
    CHECK_EQ(rafka_conf_set_opaque(NULL, NULL), RAFKA_RESP_ERR__INVALID_ARG);
    rafka_conf_free(NULL);
    CHECK(rafka_producer_new(NULL, err, sizeof err) == NULL);
    CHECK(rafka_producer_new(NULL, NULL, 0) == NULL);

    CHECK_EQ(rafka_produce(NULL, "t", RAFKA_PARTITION_UA, 0, NULL, 0, "v", 1, NULL, 0, 0, NULL), RAFKA_RESP_ERR__INVALID_ARG);
    CHECK_EQ(rafka_produce_iov(NULL, "t", RAFKA_PARTITION_UA, 0, NULL, 0, NULL, 0, NULL, 0, 0, NULL), RAFKA_RESP_ERR__INVALID_ARG);
    CHECK_EQ(rafka_poll(NULL, 0), RAFKA_RESP_ERR__INVALID_ARG);
    CHECK_EQ(rafka_flush(NULL, 0), RAFKA_RESP_ERR__INVALID_ARG);
    CHECK_EQ(rafka_purge(NULL), RAFKA_RESP_ERR__INVALID_ARG);
    CHECK_EQ(rafka_outq_len(NULL), -1);
    CHECK_EQ(rafka_producer_close(NULL, 0), RAFKA_RESP_ERR__INVALID_ARG);
    CHECK_EQ(rafka_fatal_error(NULL, err, sizeof err), RAFKA_RESP_ERR__INVALID_ARG);
    rafka_producer_free(NULL);

    rafka_conf_free(c);
    p = new_producer(base_conf(), &st);
    CHECK_EQ(rafka_produce(p, NULL, RAFKA_PARTITION_UA, 0, NULL, 0, "v", 1, NULL, 0, 0, NULL), RAFKA_RESP_ERR__INVALID_ARG);
    CHECK(strstr(rafka_last_error_message(), "topic") != NULL);
    CHECK_EQ(rafka_produce(p, "t", RAFKA_PARTITION_UA, 0, NULL, 0, "v", 1, NULL, 2, 0, NULL), RAFKA_RESP_ERR__INVALID_ARG);
    CHECK_EQ(rafka_produce(p, "t", RAFKA_PARTITION_UA, 0, NULL, 0, "v", 1, &bad_header, 1, 0, NULL), RAFKA_RESP_ERR__INVALID_ARG);
    CHECK_EQ(rafka_produce_iov(p, "t", RAFKA_PARTITION_UA, 0, NULL, 0, NULL, 2, NULL, 0, 0, NULL), RAFKA_RESP_ERR__INVALID_ARG);
    CHECK_EQ(rafka_produce_iov(p, "t", RAFKA_PARTITION_UA, 0, NULL, 0, &bad_iov, 1, NULL, 0, 0, NULL), RAFKA_RESP_ERR__INVALID_ARG);
    CHECK_EQ(rafka_produce(p, "t", -5, 0, NULL, 0, "v", 1, NULL, 0, 0, NULL), RAFKA_RESP_ERR__INVALID_ARG);
    CHECK_EQ(rafka_produce(p, "t", RAFKA_PARTITION_UA, 0x100, NULL, 0, "v", 1, NULL, 0, 0, NULL), RAFKA_RESP_ERR__INVALID_ARG);
    CHECK_EQ(rafka_produce(p, "t", RAFKA_PARTITION_UA, RAFKA_MSG_F_FREE | RAFKA_MSG_F_COPY, NULL, 0, "v", 1, NULL, 0, 0, NULL), RAFKA_RESP_ERR__INVALID_ARG);
    CHECK_EQ(rafka_fatal_error(p, NULL, 0), RAFKA_RESP_ERR_NO_ERROR);
    CHECK_EQ(rafka_flush(p, 5000), RAFKA_RESP_ERR_NO_ERROR);
    CHECK_EQ(reports_count(&st), 0); /* refused records get no report */
    rafka_producer_free(p);
    pthread_mutex_destroy(&st.lock);
}

static void test_produce_roundtrip_read_back_by_kafka_consumer(void) {
    char topic[128], key[32], val[64];
    struct reports st;
    rafka_producer_t *p = new_producer(base_conf(), &st);
    rafka_header_t hdrs[2] = {{"trace", "abc", 3}, {"null-header", NULL, 0}};
    rafka_iovec_t iov[3] = {{"v100", 4}, {"-gathered", 9}, {"-value", 6}};
    rafka_iovec_t one_piece = {"v101-one-piece", 14}; /* encoded without the join buffer */
    char *owned = malloc(16);
    char *out;
    long long want_opaque = 0;
    int i;
    make_topic(topic, sizeof topic, "roundtrip", 3);
    for (i = 1; i <= 20; i++) {
        snprintf(key, sizeof key, "k%d", i);
        snprintf(val, sizeof val, "v%d-value", i);
        CHECK_EQ(rafka_produce(p, topic, i % 2 ? RAFKA_PARTITION_UA : 1, RAFKA_MSG_F_COPY | RAFKA_MSG_F_BLOCK, key,
                               strlen(key), val, strlen(val), hdrs, 2, 0, (void *)(intptr_t)i),
                 RAFKA_RESP_ERR_NO_ERROR);
        want_opaque += i;
    }
    /* the library takes ownership of a RAFKA_MSG_F_FREE value: no leak under valgrind/ASan */
    strcpy(owned, "v21-owned");
    CHECK_EQ(rafka_produce(p, topic, 0, RAFKA_MSG_F_FREE, "k21", 3, owned, strlen(owned), NULL, 0, 1700000000000LL,
                           (void *)(intptr_t)21),
             RAFKA_RESP_ERR_NO_ERROR);
    CHECK_EQ(rafka_produce_iov(p, topic, 2, 0, "k100", 4, iov, 3, NULL, 0, 0, (void *)(intptr_t)100),
             RAFKA_RESP_ERR_NO_ERROR);
    CHECK_EQ(rafka_produce_iov(p, topic, 1, 0, "k101", 4, &one_piece, 1, NULL, 0, 0, (void *)(intptr_t)101),
             RAFKA_RESP_ERR_NO_ERROR);
    want_opaque += 222;
    CHECK_EQ(rafka_flush(p, 30000), RAFKA_RESP_ERR_NO_ERROR);
    CHECK_EQ(st.count, 23);
    CHECK_EQ(st.ok, 23);
    CHECK_EQ(st.seen_opaque_sum, want_opaque);
    CHECK(st.key_value_ok);
    CHECK_EQ(rafka_outq_len(p), 0);
    CHECK_EQ(rafka_producer_close(p, 10000), RAFKA_RESP_ERR_NO_ERROR);
    rafka_producer_free(p);
    pthread_mutex_destroy(&st.lock);

    out = consume(topic, 23);
    CHECK_EQ(count_lines(out), 23);
    CHECK(strstr(out, "\"v7-value\"") != NULL);
    CHECK(strstr(out, "\"v21-owned\"") != NULL);
    CHECK(strstr(out, "\"v100-gathered-value\"") != NULL);
    CHECK(strstr(out, "\"v101-one-piece\"") != NULL);
    CHECK(strstr(out, "1700000000000") != NULL);
    CHECK(strstr(out, "trace") != NULL && strstr(out, "abc") != NULL);
    CHECK(strstr(out, "null-header") != NULL);
    free(out);
}

static void test_non_utf8_topic_is_refused(void) {
    struct reports st;
    rafka_producer_t *p = new_producer(base_conf(), &st);
    CHECK_EQ(rafka_produce(p, "bad\xff\xfetopic", RAFKA_PARTITION_UA, 0, NULL, 0, "v", 1, NULL, 0, 0, NULL),
             RAFKA_RESP_ERR__INVALID_ARG);
    CHECK(strstr(rafka_last_error_message(), "UTF-8") != NULL);
    CHECK_EQ(rafka_produce(p, "", RAFKA_PARTITION_UA, 0, NULL, 0, "v", 1, NULL, 0, 0, NULL) != 0, 1);
    CHECK_EQ(rafka_flush(p, 5000), 0);
    CHECK_EQ(reports_count(&st), 0);
    rafka_producer_free(p);
    pthread_mutex_destroy(&st.lock);
}

static void test_oversized_message_is_refused_at_produce(void) {
    char topic[128];
    struct reports st;
    rafka_producer_t *p = new_producer(base_conf(), &st);
    size_t big = 2 * 1024 * 1024;
    char *v = calloc(1, big);
    make_topic(topic, sizeof topic, "oversized", 1);
    CHECK_EQ(rafka_produce(p, topic, RAFKA_PARTITION_UA, RAFKA_MSG_F_BLOCK, NULL, 0, v, big, NULL, 0, 0, NULL),
             RAFKA_RESP_ERR__MSG_SIZE_TOO_LARGE);
    /* the caller keeps a RAFKA_MSG_F_FREE value the call refused */
    CHECK_EQ(rafka_produce(p, topic, RAFKA_PARTITION_UA, RAFKA_MSG_F_FREE, NULL, 0, v, big, NULL, 0, 0, NULL),
             RAFKA_RESP_ERR__MSG_SIZE_TOO_LARGE);
    free(v);
    CHECK_EQ(rafka_flush(p, 5000), 0);
    CHECK_EQ(reports_count(&st), 0);
    rafka_producer_free(p);
    pthread_mutex_destroy(&st.lock);
}

static void test_produce_after_close_fails_with_state(void) {
    char topic[128];
    struct reports st;
    rafka_producer_t *p = new_producer(base_conf(), &st);
    make_topic(topic, sizeof topic, "afterclose", 1);
    CHECK_EQ(rafka_produce(p, topic, RAFKA_PARTITION_UA, 0, "k1", 2, "v1", 2, NULL, 0, 0, NULL), 0);
    CHECK_EQ(rafka_producer_close(p, 30000), 0);
    CHECK_EQ(st.ok, 1); /* close served the pending report */
    CHECK_EQ(rafka_produce(p, topic, RAFKA_PARTITION_UA, 0, "k2", 2, "v2", 2, NULL, 0, 0, NULL), RAFKA_RESP_ERR__STATE);
    CHECK_EQ(rafka_producer_close(p, 0), 0); /* idempotent */
    CHECK_EQ(rafka_poll(p, 0), 0);
    CHECK_EQ(reports_count(&st), 1);
    rafka_producer_free(p);
    pthread_mutex_destroy(&st.lock);
}

static int log_warnings;
static void log_cb(int32_t level, const char *facility, const char *message, void *opaque) {
    (void)opaque;
    if (level == 4 && facility && strstr(message, "delivery callback")) log_warnings++;
}

static void test_close_from_inside_callback_does_not_deadlock(void) {
    char topic[128];
    struct reports st;
    rafka_conf_t *c = base_conf();
    rafka_producer_t *p;
    int i, spins = 0;
    CHECK_EQ(rafka_conf_set_log_cb(c, log_cb), 0);
    p = new_producer(c, &st);
    make_topic(topic, sizeof topic, "closecb", 1);
    st.close_in_cb = 1;
    for (i = 0; i < 50; i++)
        CHECK_EQ(rafka_produce(p, topic, 0, RAFKA_MSG_F_BLOCK, "k1", 2, "v1", 2, NULL, 0, 0, NULL), 0);
    /* every record still gets exactly one report, the later ones served by poll */
    while (reports_count(&st) < 50 && spins++ < 300) rafka_poll(p, 100);
    CHECK_EQ(reports_count(&st), 50);
    CHECK_EQ(st.ok + st.failed, 50);
    CHECK_EQ(rafka_produce(p, topic, 0, 0, "k", 1, "v", 1, NULL, 0, 0, NULL), RAFKA_RESP_ERR__STATE);
    CHECK_EQ(log_warnings, 1); /* the engine's warning reached the log callback */
    rafka_producer_free(p);
    pthread_mutex_destroy(&st.lock);
}

struct poller {
    rafka_producer_t *p;
    struct reports *st;
    int want;
};

static void *poll_loop(void *arg) {
    struct poller *pl = arg;
    int spins = 0;
    while (reports_count(pl->st) < pl->want && spins++ < 3000) rafka_poll(pl->p, 10);
    return NULL;
}

static void test_poll_from_several_threads_serves_each_report_once(void) {
    char topic[128];
    struct reports st;
    rafka_producer_t *p = new_producer(base_conf(), &st);
    pthread_t th[4];
    struct poller pl;
    int i;
    const int n = 2000;
    make_topic(topic, sizeof topic, "pollthreads", 3);
    pl.p = p;
    pl.st = &st;
    pl.want = n;
    for (i = 0; i < 4; i++) pthread_create(&th[i], NULL, poll_loop, &pl);
    for (i = 0; i < n; i++)
        CHECK_EQ(rafka_produce(p, topic, RAFKA_PARTITION_UA, RAFKA_MSG_F_BLOCK, "k1", 2, "v1", 2, NULL, 0, 0,
                               (void *)(intptr_t)1),
                 0);
    for (i = 0; i < 4; i++) pthread_join(th[i], NULL);
    CHECK_EQ(st.count, n);
    CHECK_EQ(st.ok, n);
    CHECK_EQ(st.seen_opaque_sum, n);
    rafka_producer_free(p);
    pthread_mutex_destroy(&st.lock);
}

static void test_thread_mode_reports_without_poll(void) {
    char topic[128], err[128];
    struct reports st;
    rafka_conf_t *c = base_conf();
    rafka_producer_t *p;
    int i, spins = 0;
    CHECK_EQ(rafka_conf_set(c, "delivery.report.mode", "thread", err, sizeof err), RAFKA_CONF_OK);
    p = new_producer(c, &st);
    make_topic(topic, sizeof topic, "threadmode", 1);
    for (i = 0; i < 100; i++) CHECK_EQ(rafka_produce(p, topic, 0, 0, "k1", 2, "v1", 2, NULL, 0, 0, NULL), 0);
    while (reports_count(&st) < 100 && spins++ < 300) { struct timespec ts = {0, 100 * 1000 * 1000}; nanosleep(&ts, NULL); }
    CHECK_EQ(reports_count(&st), 100);
    rafka_producer_free(p);
    pthread_mutex_destroy(&st.lock);
}

static void test_purge_fails_queued_records_with_purge_queue(void) {
    char topic[128], err[128];
    struct reports st;
    rafka_conf_t *c = base_conf();
    rafka_producer_t *p;
    int i;
    CHECK_EQ(rafka_conf_set(c, "linger.ms", "60000", err, sizeof err), RAFKA_CONF_OK);
    CHECK_EQ(rafka_conf_set(c, "batch.size", "1000000", err, sizeof err), RAFKA_CONF_OK);
    p = new_producer(c, &st);
    make_topic(topic, sizeof topic, "purge", 1);
    for (i = 0; i < 10; i++) CHECK_EQ(rafka_produce(p, topic, 0, RAFKA_MSG_F_BLOCK, "k1", 2, "v1", 2, NULL, 0, 0, NULL), 0);
    /* Right after the first produce to the partition: purge must still find every record (the
     * I/O thread picks up newly active partitions before purging). When rafka_purge returns the
     * records are failed; their reports wait for rafka_poll. */
    CHECK_EQ(rafka_purge(p), 0);
    for (i = 0; i < 100 && reports_count(&st) < 10; i++) rafka_poll(p, 100);
    CHECK_EQ(st.count, 10);
    CHECK_EQ(st.last_err, RAFKA_RESP_ERR__PURGE_QUEUE);
    CHECK_EQ(st.possibly_persisted, 0);
    rafka_producer_free(p);
    pthread_mutex_destroy(&st.lock);
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A record's own deadline: one waiting for a topic that does not exist fails at it with
 * _MSG_TIMED_OUT (long before topic.metadata.propagation.max.ms), records without one or with a
 * generous one are delivered, and nothing else is reported. */
static void test_produce_timeout_fails_a_record_at_its_own_deadline(void) {
    char topic[128], missing[128], err[128];
    struct reports st;
    rafka_conf_t *c = base_conf();
    rafka_producer_t *p;
    double t0;
    char *out;
    int i;
    CHECK_EQ(rafka_conf_set(c, "topic.metadata.propagation.max.ms", "60000", err, sizeof err), RAFKA_CONF_OK);
    p = new_producer(c, &st);
    make_topic(topic, sizeof topic, "deadline", 1);
    snprintf(missing, sizeof missing, "capi-deadline-missing-%ld-%ld", (long)getpid(), (long)time(NULL));
    CHECK_EQ(rafka_produce_timeout(p, topic, 0, 0, "k1", 2, "v1", 2, NULL, 0, 0, -2, NULL), RAFKA_RESP_ERR__INVALID_ARG);
    t0 = now_s();
    CHECK_EQ(rafka_produce_timeout(p, missing, RAFKA_PARTITION_UA, 0, "k1", 2, "v1", 2, NULL, 0, 0, 100, (void *)100), 0);
    CHECK_EQ(rafka_produce_timeout(p, topic, 0, 0, "k2", 2, "v2", 2, NULL, 0, 0, 60000, (void *)1), 0);
    CHECK_EQ(rafka_produce_timeout(p, topic, 0, 0, "k3", 2, "v3", 2, NULL, 0, 0, RAFKA_NO_TIMEOUT, (void *)2), 0);
    for (i = 0; i < 100 && reports_count(&st) < 3; i++) rafka_poll(p, 100);
    CHECK(now_s() - t0 < 8.0);
    CHECK_EQ(st.count, 3);
    CHECK_EQ(st.ok, 2);
    CHECK_EQ(st.failed, 1);
    CHECK_EQ(st.last_err, RAFKA_RESP_ERR__MSG_TIMED_OUT);
    CHECK_EQ(st.seen_opaque_sum, 103);
    CHECK_EQ(st.key_value_ok, 1);
    CHECK_EQ(rafka_outq_len(p), 0);
    rafka_producer_free(p);
    pthread_mutex_destroy(&st.lock);
    out = consume(topic, 2);
    CHECK_EQ(count_lines(out), 2);
    free(out);
}

/* Purge flags: the queue of one partition only, each purged record reported once with
 * _PURGE_QUEUE; the other partition's records are delivered and only they are read back. */
static void test_purge_partition_purges_only_that_partitions_queue(void) {
    char topic[128], err[128];
    struct reports st;
    rafka_conf_t *c = base_conf();
    rafka_producer_t *p;
    char *out;
    int i;
    CHECK_EQ(rafka_conf_set(c, "linger.ms", "60000", err, sizeof err), RAFKA_CONF_OK);
    CHECK_EQ(rafka_conf_set(c, "batch.size", "1000000", err, sizeof err), RAFKA_CONF_OK);
    p = new_producer(c, &st);
    make_topic(topic, sizeof topic, "purgepart", 2);
    for (i = 0; i < 5; i++) {
        CHECK_EQ(rafka_produce(p, topic, 0, RAFKA_MSG_F_BLOCK, "k1", 2, "v1", 2, NULL, 0, 0, NULL), 0);
        CHECK_EQ(rafka_produce(p, topic, 1, RAFKA_MSG_F_BLOCK, "k2", 2, "v2", 2, NULL, 0, 0, NULL), 0);
    }
    CHECK_EQ(rafka_purge_flags(p, 0x8), RAFKA_RESP_ERR__INVALID_ARG);
    CHECK_EQ(rafka_purge_partition(p, topic, -2, RAFKA_PURGE_F_QUEUE), RAFKA_RESP_ERR__INVALID_ARG);
    CHECK_EQ(rafka_purge_partition(p, NULL, 0, RAFKA_PURGE_F_QUEUE), RAFKA_RESP_ERR__INVALID_ARG);
    CHECK_EQ(rafka_purge_partition(p, topic, 0, RAFKA_PURGE_F_QUEUE), 0);
    for (i = 0; i < 100 && reports_count(&st) < 5; i++) rafka_poll(p, 100);
    CHECK_EQ(st.count, 5);
    CHECK_EQ(st.failed, 5);
    CHECK_EQ(st.last_err, RAFKA_RESP_ERR__PURGE_QUEUE);
    CHECK_EQ(rafka_flush(p, 30000), 0);
    CHECK_EQ(st.count, 10);
    CHECK_EQ(st.ok, 5);
    /* Nothing left: a purge of everything, non-blocking, reports nothing more. */
    CHECK_EQ(rafka_purge_flags(p, RAFKA_PURGE_F_QUEUE | RAFKA_PURGE_F_INFLIGHT | RAFKA_PURGE_F_NON_BLOCKING), 0);
    rafka_poll(p, 200);
    CHECK_EQ(st.count, 10);
    rafka_producer_free(p);
    pthread_mutex_destroy(&st.lock);
    out = consume(topic, 5);
    CHECK_EQ(count_lines(out), 5);
    CHECK(strstr(out, "\"partition\":0") == NULL);
    free(out);
}

/* librdkafka's behaviour: a produce to a topic not known yet returns at once having queued the
 * record; the topic never appearing fails its report with UNKNOWN_TOPIC_OR_PART (the broker's code, as librdkafka reports it). */
static void test_produce_to_a_missing_topic_queues_and_reports_unknown_topic(void) {
    char topic[128], err[128];
    struct reports st;
    rafka_conf_t *c = base_conf();
    rafka_producer_t *p;
    int i;
    CHECK_EQ(rafka_conf_set(c, "topic.metadata.propagation.max.ms", "1500", err, sizeof err), RAFKA_CONF_OK);
    CHECK_EQ(rafka_conf_set(c, "max.block.ms", "60000", err, sizeof err), RAFKA_CONF_OK);
    p = new_producer(c, &st);
    snprintf(topic, sizeof topic, "capi-missing-%ld-%ld", (long)getpid(), (long)time(NULL));
    CHECK_EQ(rafka_produce(p, topic, RAFKA_PARTITION_UA, RAFKA_MSG_F_BLOCK, "k1", 2, "v1", 2, NULL, 0, 0, NULL), 0);
    CHECK_EQ(rafka_outq_len(p), 1);
    CHECK_EQ(reports_count(&st), 0);
    for (i = 0; i < 300 && reports_count(&st) < 1; i++) rafka_poll(p, 100);
    CHECK_EQ(st.count, 1);
    CHECK_EQ(st.last_err, RAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART);
    CHECK_EQ(rafka_outq_len(p), 0);
    rafka_producer_free(p);
    pthread_mutex_destroy(&st.lock);
}

static int log_by_level[8];
static void count_log_cb(int32_t level, const char *facility, const char *message, void *opaque) {
    (void)facility;
    (void)message;
    (void)opaque;
    if (level >= 0 && level < 8) __atomic_fetch_add(&log_by_level[level], 1, __ATOMIC_SEQ_CST);
}

/* "debug" lets the engine's debug lines (syslog level 7) through to the log callback; without it
 * the callback sees info and above only. */
static void test_debug_config_sends_debug_lines_to_the_log_callback(void) {
    char topic[128], err[128];
    struct reports st;
    rafka_conf_t *c = base_conf();
    rafka_producer_t *p;
    memset(log_by_level, 0, sizeof log_by_level);
    CHECK_EQ(rafka_conf_set_log_cb(c, count_log_cb), 0);
    p = new_producer(c, &st);
    make_topic(topic, sizeof topic, "nodebug", 1);
    CHECK_EQ(rafka_produce(p, topic, RAFKA_PARTITION_UA, RAFKA_MSG_F_BLOCK, "k1", 2, "v1", 2, NULL, 0, 0, NULL), 0);
    CHECK_EQ(rafka_flush(p, 30000), 0);
    CHECK_EQ(__atomic_load_n(&log_by_level[7], __ATOMIC_SEQ_CST), 0);
    rafka_producer_free(p);
    pthread_mutex_destroy(&st.lock);

    c = base_conf();
    CHECK_EQ(rafka_conf_set(c, "debug", "all", err, sizeof err), RAFKA_CONF_OK);
    CHECK_EQ(rafka_conf_set_log_cb(c, count_log_cb), 0);
    p = new_producer(c, &st);
    CHECK_EQ(rafka_produce(p, topic, RAFKA_PARTITION_UA, RAFKA_MSG_F_BLOCK, "k1", 2, "v1", 2, NULL, 0, 0, NULL), 0);
    CHECK_EQ(rafka_flush(p, 30000), 0);
    CHECK(__atomic_load_n(&log_by_level[7], __ATOMIC_SEQ_CST) > 0);
    rafka_producer_free(p);
    pthread_mutex_destroy(&st.lock);
}

/* ---- extension points: partitioner and interceptors ----------------------------------------- */

struct partitioner_calls {
    pthread_mutex_t lock;
    int calls, wrong_args;
    char topic[128];
};
static struct partitioner_calls part_calls;

/* Keys "k<D>..." go to partition D (which may not exist); key "neg" to -1. The conf opaque is the
 * report bookkeeping, which it checks it is given. */
static int32_t digit_partitioner(const char *topic, const void *key, size_t keylen, int32_t partition_cnt,
                                 void *opaque) {
    const char *k = key;
    int32_t p;
    pthread_mutex_lock(&part_calls.lock);
    part_calls.calls++;
    if (opaque == NULL || strcmp(topic, part_calls.topic) != 0 || partition_cnt != 4 || key == NULL)
        part_calls.wrong_args++;
    pthread_mutex_unlock(&part_calls.lock);
    if (keylen == 3 && memcmp(k, "neg", 3) == 0) return -1;
    p = keylen >= 2 ? k[1] - '0' : 0;
    return p;
}

/* Each consumed line has the partition its key names ("k<P>..."): returns how many do not. */
static int lines_off_their_key_partition(const char *out) {
    int wrong = 0;
    const char *line = out;
    while ((line = strstr(line, "{\"partition\":")) != NULL) {
        int part = atoi(line + 13);
        const char *key = strstr(line, "\"key\":\"k");
        const char *next = strchr(line + 1, '\n');
        if (!key || (next && key > next) || key[8] - '0' != part) wrong++;
        line += 13;
    }
    return wrong;
}

static void test_partitioner_cb_places_records_where_it_says(void) {
    char topic[128], key[16], value[16], *out;
    struct reports st;
    rafka_conf_t *c = base_conf();
    rafka_producer_t *p;
    int i, calls;
    make_topic(topic, sizeof topic, "partitioner", 4);
    memset(&part_calls, 0, sizeof part_calls);
    pthread_mutex_init(&part_calls.lock, NULL);
    strcpy(part_calls.topic, topic);
    CHECK_EQ(rafka_conf_set_partitioner_cb(c, digit_partitioner), RAFKA_RESP_ERR_NO_ERROR);
    p = new_producer(c, &st);
    /* Before the topic's partitions are known the record is queued; the partitioner then runs on
     * the I/O thread and an answer out of range fails the record in its report. */
    CHECK_EQ(rafka_produce(p, topic, RAFKA_PARTITION_UA, 0, "k7", 2, "v7", 2, NULL, 0, 0, NULL), 0);
    CHECK_EQ(rafka_flush(p, 30000), RAFKA_RESP_ERR_NO_ERROR);
    CHECK_EQ(st.failed, 1);
    CHECK_EQ(st.last_err, RAFKA_RESP_ERR__UNKNOWN_PARTITION);
    for (i = 0; i < 12; i++) {
        snprintf(key, sizeof key, "k%d-%d", i % 4, i);
        snprintf(value, sizeof value, "v%d-%d", i % 4, i);
        CHECK_EQ(rafka_produce(p, topic, RAFKA_PARTITION_UA, RAFKA_MSG_F_BLOCK, key, strlen(key), value, strlen(value),
                               NULL, 0, 0, NULL),
                 0);
    }
    /* An explicit partition bypasses the partitioner. */
    CHECK_EQ(rafka_produce(p, topic, 3, 0, "k3-explicit", 11, "v3-explicit", 11, NULL, 0, 0, NULL), 0);
    /* Once the partitions are known, an answer out of range fails rafka_produce() itself. */
    CHECK_EQ(rafka_produce(p, topic, RAFKA_PARTITION_UA, 0, "k4", 2, "v", 1, NULL, 0, 0, NULL),
             RAFKA_RESP_ERR__UNKNOWN_PARTITION);
    CHECK(strstr(rafka_last_error_message(), "application's partitioner chose partition 4") != NULL);
    CHECK_EQ(rafka_produce(p, topic, RAFKA_PARTITION_UA, 0, "neg", 3, "v", 1, NULL, 0, 0, NULL),
             RAFKA_RESP_ERR__UNKNOWN_PARTITION);
    CHECK(strstr(rafka_last_error_message(), "chose partition -1") != NULL);
    CHECK_EQ(rafka_flush(p, 30000), RAFKA_RESP_ERR_NO_ERROR);
    CHECK_EQ(st.ok, 13);
    CHECK(st.key_value_ok);
    pthread_mutex_lock(&part_calls.lock);
    calls = part_calls.calls;
    CHECK_EQ(part_calls.wrong_args, 0);
    pthread_mutex_unlock(&part_calls.lock);
    CHECK_EQ(calls, 1 + 12 + 2);
    rafka_producer_free(p);
    pthread_mutex_destroy(&st.lock);
    pthread_mutex_destroy(&part_calls.lock);

    out = consume(topic, 13);
    CHECK_EQ(count_lines(out), 13);
    CHECK_EQ(lines_off_their_key_partition(out), 0);
    free(out);
}

static void test_builtin_partitioners_match_librdkafkas_placement(void) {
    int i, seen_other = 0;
    /* murmur2 as the Java client: toPositive(murmur2("user-1")) % 7 == 3; a NULL key hashes as "". */
    CHECK_EQ(rafka_msg_partitioner_murmur2("t", "user-1", 6, 7, NULL), 1404122828 % 7);
    CHECK_EQ(rafka_msg_partitioner_murmur2("t", NULL, 0, 7, NULL), 275646681 % 7);
    CHECK_EQ(rafka_msg_partitioner_murmur2_random("t", "user-1", 6, 7, NULL), 1404122828 % 7);
    /* fnv1a("kafka") == 0x0d33c4e1 (librdkafka's rdfnv1a.c unit test) */
    CHECK_EQ(rafka_msg_partitioner_fnv1a("t", "kafka", 5, 7, NULL), 0x0d33c4e1 % 7);
    CHECK_EQ(rafka_msg_partitioner_fnv1a_random("t", "kafka", 5, 7, NULL), 0x0d33c4e1 % 7);
    /* consistent: CRC-32; a NULL key goes where an empty one does */
    CHECK_EQ(rafka_msg_partitioner_consistent("t", NULL, 0, 7, NULL),
             rafka_msg_partitioner_consistent("t", "", 0, 7, NULL));
    CHECK_EQ(rafka_msg_partitioner_consistent("t", "kafka", 5, 7, NULL),
             rafka_msg_partitioner_consistent_random("t", "kafka", 5, 7, NULL));
    for (i = 0; i < 200; i++) {
        int32_t r = rafka_msg_partitioner_random("t", "same", 4, 7, NULL);
        CHECK(r >= 0 && r < 7);
        seen_other |= r != rafka_msg_partitioner_random("t", "same", 4, 7, NULL);
    }
    CHECK(seen_other);
    CHECK_EQ(rafka_msg_partitioner_murmur2("t", "k", 1, 0, NULL), -1);
}

/* Interceptors: what each hook saw, in order. */
struct ic_log {
    pthread_mutex_t lock;
    char seq[512]; /* one letter per event: S(end), A(ck), R(eport) */
    int sends, acks, ack_errors, acks_with_partition, bad_opaque;
    long long ack_opaque_sum;
};
static struct ic_log ic;

static void ic_event(char what) {
    size_t n = strlen(ic.seq);
    if (n + 1 < sizeof ic.seq) ic.seq[n] = what;
}

static rafka_resp_err_t ic_on_send(rafka_producer_t *p, const rafka_delivery_report_t *r, void *ic_opaque) {
    (void)p;
    pthread_mutex_lock(&ic.lock);
    ic.sends++;
    ic_event('S');
    if (ic_opaque != &ic || r->err != 0 || r->offset != -1 || r->key == NULL || r->value == NULL) ic.bad_opaque++;
    pthread_mutex_unlock(&ic.lock);
    return RAFKA_RESP_ERR_NO_ERROR;
}

static rafka_resp_err_t ic_on_ack(rafka_producer_t *p, const rafka_delivery_report_t *r, void *ic_opaque) {
    (void)p;
    pthread_mutex_lock(&ic.lock);
    ic.acks++;
    ic_event('A');
    if (ic_opaque != &ic) ic.bad_opaque++;
    if (r->err) ic.ack_errors++;
    if (r->err == 0 && r->partition >= 0 && r->offset >= 0) ic.acks_with_partition++;
    ic.ack_opaque_sum += (long long)(intptr_t)r->msg_opaque;
    pthread_mutex_unlock(&ic.lock);
    return RAFKA_RESP_ERR_NO_ERROR;
}

static void ic_dr_cb(rafka_producer_t *p, const rafka_delivery_report_t *r, void *opaque) {
    pthread_mutex_lock(&ic.lock);
    ic_event('R');
    pthread_mutex_unlock(&ic.lock);
    dr_cb(p, r, opaque);
}

static void test_interceptors_see_each_send_and_each_outcome_before_the_report(void) {
    char topic[128], err[128], *out;
    struct reports st;
    rafka_conf_t *c = base_conf();
    rafka_producer_t *p;
    int i;
    make_topic(topic, sizeof topic, "interceptors", 2);
    memset(&ic, 0, sizeof ic);
    pthread_mutex_init(&ic.lock, NULL);
    CHECK_EQ(rafka_conf_interceptor_add_on_send(c, "audit", ic_on_send, &ic), 0);
    CHECK_EQ(rafka_conf_interceptor_add_on_acknowledgement(c, "audit", ic_on_ack, &ic), 0);
    /* the same name twice for one hook is refused, as librdkafka does */
    CHECK_EQ(rafka_conf_interceptor_add_on_send(c, "audit", ic_on_send, &ic), RAFKA_RESP_ERR__INVALID_ARG);
    CHECK_EQ(rafka_conf_interceptor_add_on_send(c, NULL, ic_on_send, &ic), RAFKA_RESP_ERR__INVALID_ARG);
    CHECK_EQ(rafka_conf_interceptor_add_on_acknowledgement(c, "x", NULL, &ic), RAFKA_RESP_ERR__INVALID_ARG);
    p = new_producer(c, &st);
    rafka_producer_free(p);
    pthread_mutex_destroy(&st.lock);

    /* Poll mode: nothing acknowledged before the application serves reports; each ack right
     * before its report. */
    c = base_conf();
    CHECK_EQ(rafka_conf_interceptor_add_on_send(c, "audit", ic_on_send, &ic), 0);
    CHECK_EQ(rafka_conf_interceptor_add_on_acknowledgement(c, "audit", ic_on_ack, &ic), 0);
    rafka_conf_set_dr_cb(c, ic_dr_cb);
    rafka_conf_set_opaque(c, &st);
    memset(&st, 0, sizeof st);
    pthread_mutex_init(&st.lock, NULL);
    st.key_value_ok = 1;
    memset(ic.seq, 0, sizeof ic.seq);
    ic.sends = ic.acks = 0;
    p = rafka_producer_new(c, err, sizeof err);
    CHECK(p != NULL);
    for (i = 1; i <= 5; i++) {
        char key[16], val[16];
        snprintf(key, sizeof key, "k%d", i);
        snprintf(val, sizeof val, "v%d", i);
        CHECK_EQ(rafka_produce(p, topic, RAFKA_PARTITION_UA, RAFKA_MSG_F_BLOCK, key, strlen(key), val, strlen(val),
                               NULL, 0, 0, (void *)(intptr_t)i),
                 0);
    }
    CHECK_EQ(ic.sends, 5);
    CHECK_EQ(rafka_flush(p, 30000), 0);
    /* a record refused by rafka_produce() after on_send saw it is acknowledged with the error */
    CHECK_EQ(rafka_produce(p, topic, 9, 0, "k6", 2, "v6", 2, NULL, 0, 0, (void *)(intptr_t)6),
             RAFKA_RESP_ERR__UNKNOWN_PARTITION);
    pthread_mutex_lock(&ic.lock);
    CHECK_EQ(strcmp(ic.seq, "SSSSSARARARARARSA"), 0);
    if (strcmp(ic.seq, "SSSSSARARARARARSA") != 0) fprintf(stderr, "sequence: %s\n", ic.seq);
    CHECK_EQ(ic.sends, 6);
    CHECK_EQ(ic.acks, 6);
    CHECK_EQ(ic.ack_errors, 1);
    CHECK_EQ(ic.acks_with_partition, 5);
    CHECK_EQ(ic.ack_opaque_sum, 21);
    CHECK_EQ(ic.bad_opaque, 0);
    pthread_mutex_unlock(&ic.lock);
    CHECK_EQ(st.ok, 5);
    rafka_producer_free(p);
    pthread_mutex_destroy(&st.lock);

    /* delivery.report.only.error: successes get no report, but each still its acknowledgement */
    c = base_conf();
    CHECK_EQ(rafka_conf_set(c, "delivery.report.only.error", "true", err, sizeof err), RAFKA_CONF_OK);
    CHECK_EQ(rafka_conf_interceptor_add_on_acknowledgement(c, "audit", ic_on_ack, &ic), 0);
    memset(ic.seq, 0, sizeof ic.seq);
    ic.acks = 0;
    p = new_producer(c, &st);
    for (i = 0; i < 3; i++) CHECK_EQ(rafka_produce(p, topic, 0, RAFKA_MSG_F_BLOCK, "k0", 2, "v0", 2, NULL, 0, 0, NULL), 0);
    CHECK_EQ(rafka_flush(p, 30000), 0);
    CHECK_EQ(st.count, 0);
    CHECK_EQ(ic.acks, 3);
    rafka_producer_free(p);
    pthread_mutex_destroy(&st.lock);
    pthread_mutex_destroy(&ic.lock);

    out = consume(topic, 8);
    CHECK_EQ(count_lines(out), 8);
    free(out);
}

static int error_cb_calls, error_cb_last;
static void count_error_cb(rafka_producer_t *p, int err, const char *reason, void *opaque) {
    (void)p;
    (void)opaque;
    if (reason && strstr(reason, "brokers are down")) __atomic_fetch_add(&error_cb_calls, 1, __ATOMIC_SEQ_CST);
    __atomic_store_n(&error_cb_last, err, __ATOMIC_SEQ_CST);
}

/* librdkafka's error_cb: with no broker reachable it is told _ALL_BROKERS_DOWN once, from
 * rafka_poll, not once per reconnect attempt. */
static void test_error_cb_hears_all_brokers_down_once(void) {
    char err[128];
    struct reports st;
    rafka_conf_t *c = base_conf();
    rafka_producer_t *p;
    int i;
    error_cb_calls = 0;
    error_cb_last = 0;
    CHECK_EQ(rafka_conf_set(c, "bootstrap.servers", "127.0.0.1:1", err, sizeof err), RAFKA_CONF_OK);
    CHECK_EQ(rafka_conf_set(c, "reconnect.backoff.max.ms", "100", err, sizeof err), RAFKA_CONF_OK);
    CHECK_EQ(rafka_conf_set_error_cb(c, count_error_cb), 0);
    p = new_producer(c, &st);
    for (i = 0; i < 100 && __atomic_load_n(&error_cb_calls, __ATOMIC_SEQ_CST) == 0; i++) rafka_poll(p, 100);
    for (i = 0; i < 15; i++) rafka_poll(p, 100); /* 1.5 s more of reconnect attempts */
    CHECK_EQ(__atomic_load_n(&error_cb_calls, __ATOMIC_SEQ_CST), 1);
    CHECK_EQ(__atomic_load_n(&error_cb_last, __ATOMIC_SEQ_CST), RAFKA_RESP_ERR__ALL_BROKERS_DOWN);
    rafka_producer_free(p);
    pthread_mutex_destroy(&st.lock);
}

/* ---- transactions ----------------------------------------------------------------------------- */

#define TXN_TIMEOUT_MS 30000

/* A call returning rafka_error_t *: NULL expected; an error is printed, counted and destroyed. */
#define CHECK_NO_ERROR(call)                                                                  \
    do {                                                                                      \
        rafka_error_t *e_ = (call);                                                           \
        if (e_) {                                                                             \
            fprintf(stderr, "%s:%d: %s failed: %s: %s\n", __FILE__, __LINE__, #call,          \
                    rafka_error_name(e_), rafka_error_string(e_));                            \
            failures++;                                                                       \
            rafka_error_destroy(e_);                                                          \
        }                                                                                     \
    } while (0)

/* A unique transactional.id (or group id) for this test run. */
static void unique_id(char *id, size_t size, const char *tag) {
    snprintf(id, size, "capi-%s-%ld-%ld", tag, (long)getpid(), (long)time(NULL));
}

static rafka_producer_t *txn_producer(const char *txn_id, struct reports *st) {
    char err[256];
    rafka_conf_t *c = base_conf();
    if (rafka_conf_set(c, "transactional.id", txn_id, err, sizeof err) != RAFKA_CONF_OK) {
        fprintf(stderr, "conf: %s\n", err);
        exit(2);
    }
    return new_producer(c, st);
}

static void produce_value(rafka_producer_t *p, const char *topic, int partition, const char *value) {
    CHECK_EQ(rafka_produce(p, topic, partition, RAFKA_MSG_F_BLOCK, NULL, 0, value, strlen(value), NULL, 0, 0, NULL), 0);
}

/* How many times `needle` occurs in `haystack`. */
static int occurrences(const char *haystack, const char *needle) {
    int n = 0;
    for (; (haystack = strstr(haystack, needle)) != NULL; haystack++) n++;
    return n;
}

static void test_txn_committed_visible_to_read_committed_aborted_only_to_read_uncommitted(void) {
    char topic[128], id[128];
    struct reports st;
    rafka_producer_t *p;
    char *committed, *uncommitted;
    int i;
    make_topic(topic, sizeof topic, "txn-vis", 2);
    unique_id(id, sizeof id, "txn-vis");
    p = txn_producer(id, &st);
    CHECK_NO_ERROR(rafka_init_transactions(p, TXN_TIMEOUT_MS));
    CHECK_NO_ERROR(rafka_begin_transaction(p));
    for (i = 0; i < 4; i++) produce_value(p, topic, i % 2, "committed");
    CHECK_NO_ERROR(rafka_commit_transaction(p, TXN_TIMEOUT_MS));
    CHECK_NO_ERROR(rafka_begin_transaction(p));
    for (i = 0; i < 3; i++) produce_value(p, topic, i % 2, "aborted");
    CHECK_EQ(rafka_flush(p, TXN_TIMEOUT_MS), 0); /* written to the log, then aborted */
    CHECK_NO_ERROR(rafka_abort_transaction(p, TXN_TIMEOUT_MS));
    CHECK_NO_ERROR(rafka_begin_transaction(p));
    produce_value(p, topic, 0, "committed");
    CHECK_NO_ERROR(rafka_commit_transaction(p, TXN_TIMEOUT_MS));
    CHECK_EQ(rafka_producer_close(p, TXN_TIMEOUT_MS), 0);
    CHECK_EQ(st.ok, 8);

    committed = consume_with(topic, -1, "--read-committed");
    CHECK_EQ(count_lines(committed), 5);
    CHECK_EQ(occurrences(committed, "\"value\":\"committed\""), 5);
    CHECK_EQ(occurrences(committed, "\"value\":\"aborted\""), 0);
    uncommitted = consume_with(topic, -1, "");
    CHECK_EQ(occurrences(uncommitted, "\"value\":\"committed\""), 5);
    CHECK_EQ(occurrences(uncommitted, "\"value\":\"aborted\""), 3);
    free(committed);
    free(uncommitted);
    rafka_producer_free(p);
    pthread_mutex_destroy(&st.lock);
}

static void test_txn_second_producer_with_same_id_fences_the_first(void) {
    char topic[128], id[128];
    struct reports zst, fst;
    rafka_producer_t *zombie, *fresh;
    rafka_error_t *e;
    char *out;
    make_topic(topic, sizeof topic, "txn-fence", 1);
    unique_id(id, sizeof id, "txn-fence");
    zombie = txn_producer(id, &zst);
    CHECK_NO_ERROR(rafka_init_transactions(zombie, TXN_TIMEOUT_MS));
    CHECK_NO_ERROR(rafka_begin_transaction(zombie));
    produce_value(zombie, topic, 0, "zombie-before");
    CHECK_EQ(rafka_flush(zombie, TXN_TIMEOUT_MS), 0);

    fresh = txn_producer(id, &fst);
    CHECK_NO_ERROR(rafka_init_transactions(fresh, TXN_TIMEOUT_MS)); /* fences the zombie */

    /* The zombie's next call, its commit, fails fatally with the coordinator's answer. */
    e = rafka_commit_transaction(zombie, TXN_TIMEOUT_MS);
    CHECK(e != NULL);
    if (e) {
        fprintf(stderr, "zombie commit: %s: %s\n", rafka_error_name(e), rafka_error_string(e));
        CHECK_EQ(rafka_error_is_fatal(e), 1);
        CHECK_EQ(rafka_error_is_retriable(e), 0);
        CHECK_EQ(rafka_error_txn_requires_abort(e), 0);
        CHECK(strcmp(rafka_error_name(e), "PRODUCER_FENCED") == 0);
        rafka_error_destroy(e);
    }
    /* Every later call fails with the fatal error, and nothing it sends becomes visible. */
    e = rafka_begin_transaction(zombie);
    CHECK(e != NULL && rafka_error_is_fatal(e) == 1);
    rafka_error_destroy(e);
    CHECK(rafka_produce(zombie, topic, 0, RAFKA_MSG_F_BLOCK, NULL, 0, "zombie-after", 12, NULL, 0, 0, NULL) != 0);
    rafka_producer_close(zombie, TXN_TIMEOUT_MS);

    CHECK_NO_ERROR(rafka_begin_transaction(fresh));
    produce_value(fresh, topic, 0, "fresh");
    CHECK_NO_ERROR(rafka_commit_transaction(fresh, TXN_TIMEOUT_MS));
    CHECK_EQ(rafka_producer_close(fresh, TXN_TIMEOUT_MS), 0);
    out = consume_with(topic, -1, "--read-committed");
    CHECK_EQ(count_lines(out), 1);
    CHECK_EQ(occurrences(out, "\"value\":\"fresh\""), 1);
    free(out);
    rafka_producer_free(zombie);
    rafka_producer_free(fresh);
    pthread_mutex_destroy(&zst.lock);
    pthread_mutex_destroy(&fst.lock);
}

/* The group's committed offsets as Kafka's kafka-consumer-groups reports them (JSON lines). */
static char *group_offsets(const char *group) {
    char cmd[512];
    snprintf(cmd, sizeof cmd, "%s/scripts/kafka group offsets %s", RAFKA_SOURCE_DIR, group);
    return run_capture(cmd);
}

static void test_txn_send_offsets_commits_group_offsets_only_with_the_transaction(void) {
    char out_topic[128], in_topic[128], id[128], group[128], want[256];
    struct reports st;
    rafka_producer_t *p;
    rafka_topic_partition_list_t *offsets;
    rafka_consumer_group_metadata_t *cgmd;
    char *got;
    make_topic(out_topic, sizeof out_topic, "txn-off-out", 1);
    make_topic(in_topic, sizeof in_topic, "txn-off-in", 2);
    unique_id(id, sizeof id, "txn-off");
    unique_id(group, sizeof group, "txn-group");
    p = txn_producer(id, &st);
    cgmd = rafka_consumer_group_metadata_new_with_genid(group, -1, "", NULL);
    CHECK(cgmd != NULL);
    offsets = rafka_topic_partition_list_new(2);
    CHECK_EQ(rafka_topic_partition_list_add_offset(offsets, in_topic, 0, 5), 0);
    CHECK_NO_ERROR(rafka_init_transactions(p, TXN_TIMEOUT_MS));

    /* Aborted: the offsets are not committed. */
    CHECK_NO_ERROR(rafka_begin_transaction(p));
    produce_value(p, out_topic, 0, "x");
    CHECK_NO_ERROR(rafka_send_offsets_to_transaction(p, offsets, cgmd, TXN_TIMEOUT_MS));
    CHECK_NO_ERROR(rafka_abort_transaction(p, TXN_TIMEOUT_MS));
    got = group_offsets(group);
    CHECK_EQ(count_lines(got), 0);
    free(got);

    /* Sent but not yet committed: not visible; committed: visible. */
    CHECK_NO_ERROR(rafka_begin_transaction(p));
    produce_value(p, out_topic, 0, "y");
    CHECK_EQ(rafka_topic_partition_list_add_offset(offsets, in_topic, 0, 17), 0); /* replaces 5 */
    CHECK_EQ(rafka_topic_partition_list_add_offset(offsets, in_topic, 1, 3), 0);
    CHECK_EQ(rafka_topic_partition_list_cnt(offsets), 2);
    CHECK_NO_ERROR(rafka_send_offsets_to_transaction(p, offsets, cgmd, TXN_TIMEOUT_MS));
    got = group_offsets(group);
    CHECK_EQ(count_lines(got), 0);
    free(got);
    CHECK_NO_ERROR(rafka_commit_transaction(p, TXN_TIMEOUT_MS));
    got = group_offsets(group);
    CHECK_EQ(count_lines(got), 2);
    snprintf(want, sizeof want, "{\"topic\":\"%s\",\"partition\":0,\"offset\":17}", in_topic);
    CHECK(strstr(got, want) != NULL);
    snprintf(want, sizeof want, "{\"topic\":\"%s\",\"partition\":1,\"offset\":3}", in_topic);
    CHECK(strstr(got, want) != NULL);
    free(got);

    rafka_topic_partition_list_destroy(offsets);
    rafka_consumer_group_metadata_destroy(cgmd);
    CHECK_EQ(rafka_producer_close(p, TXN_TIMEOUT_MS), 0);
    rafka_producer_free(p);
    pthread_mutex_destroy(&st.lock);
}

/* `e` is an error with code `code` and none of the three flags; destroys it. */
static void check_plain_error(rafka_error_t *e, rafka_resp_err_t code, const char *what) {
    CHECK(e != NULL);
    if (!e) return;
    if (rafka_error_code(e) != code) {
        fprintf(stderr, "%s: expected %s, got %s: %s\n", what, rafka_err_name(code), rafka_error_name(e), rafka_error_string(e));
        failures++;
    }
    CHECK(strlen(rafka_error_string(e)) > 0);
    CHECK_EQ(rafka_error_is_retriable(e), 0);
    CHECK_EQ(rafka_error_is_fatal(e), 0);
    CHECK_EQ(rafka_error_txn_requires_abort(e), 0);
    rafka_error_destroy(e);
}

/* rafka_sasl_set_credentials on a producer without SASL, and with NULL arguments: an error
 * object naming why (the rotation itself is tested against a SASL broker in
 * core/tests/security_sasl.rs). */
static void test_sasl_set_credentials_without_sasl_is_refused_naming_why(void) {
    struct reports st;
    rafka_producer_t *p = new_producer(base_conf(), &st);
    rafka_error_t *e = rafka_sasl_set_credentials(p, "alice", "alice-secret");
    CHECK(e != NULL);
    CHECK_EQ(rafka_error_code(e), RAFKA_RESP_ERR__INVALID_ARG);
    CHECK(strstr(rafka_error_string(e), "does not authenticate with SASL") != NULL);
    rafka_error_destroy(e);
    e = rafka_sasl_set_credentials(p, NULL, "x");
    CHECK_EQ(rafka_error_code(e), RAFKA_RESP_ERR__INVALID_ARG);
    CHECK(strstr(rafka_error_string(e), "username") != NULL);
    rafka_error_destroy(e);
    e = rafka_sasl_set_credentials(NULL, "alice", "x");
    CHECK_EQ(rafka_error_code(e), RAFKA_RESP_ERR__INVALID_ARG);
    rafka_error_destroy(e);
    rafka_producer_free(p);
    pthread_mutex_destroy(&st.lock);
}

static void test_txn_misuse_gives_errors_with_their_flags(void) {
    char topic[128], id[128];
    struct reports st, pst;
    rafka_producer_t *p, *plain;
    rafka_topic_partition_list_t *offsets = rafka_topic_partition_list_new(0);
    rafka_consumer_group_metadata_t *cgmd;
    rafka_error_t *e;
    const char bad_utf8[] = {'g', (char)0xff, 0};

    /* The error accessors on NULL (success). */
    CHECK_EQ(rafka_error_code(NULL), RAFKA_RESP_ERR_NO_ERROR);
    CHECK(strcmp(rafka_error_name(NULL), "NO_ERROR") == 0);
    CHECK(strcmp(rafka_error_string(NULL), "Success") == 0);
    CHECK_EQ(rafka_error_is_fatal(NULL) + rafka_error_is_retriable(NULL) + rafka_error_txn_requires_abort(NULL), 0);
    rafka_error_destroy(NULL);
    rafka_topic_partition_list_destroy(NULL);
    rafka_consumer_group_metadata_destroy(NULL);

    /* NULL and non-UTF-8 arguments. */
    check_plain_error(rafka_init_transactions(NULL, 1000), RAFKA_RESP_ERR__INVALID_ARG, "init(NULL)");
    check_plain_error(rafka_begin_transaction(NULL), RAFKA_RESP_ERR__INVALID_ARG, "begin(NULL)");
    check_plain_error(rafka_commit_transaction(NULL, 1000), RAFKA_RESP_ERR__INVALID_ARG, "commit(NULL)");
    check_plain_error(rafka_abort_transaction(NULL, 1000), RAFKA_RESP_ERR__INVALID_ARG, "abort(NULL)");
    CHECK(rafka_consumer_group_metadata_new(NULL) == NULL);
    CHECK(strstr(rafka_last_error_message(), "group_id is NULL") != NULL);
    CHECK(rafka_consumer_group_metadata_new_with_genid("g", 1, bad_utf8, NULL) == NULL);
    CHECK(strstr(rafka_last_error_message(), "member_id is not valid UTF-8") != NULL);
    CHECK_EQ(rafka_topic_partition_list_add_offset(offsets, NULL, 0, 1), RAFKA_RESP_ERR__INVALID_ARG);
    CHECK_EQ(rafka_topic_partition_list_add_offset(offsets, bad_utf8, 0, 1), RAFKA_RESP_ERR__INVALID_ARG);
    CHECK_EQ(rafka_topic_partition_list_add_offset(NULL, "t", 0, 1), RAFKA_RESP_ERR__INVALID_ARG);
    CHECK_EQ(rafka_topic_partition_list_cnt(NULL), -1);
    CHECK_EQ(rafka_topic_partition_list_cnt(offsets), 0);

    /* A producer without transactional.id. */
    plain = new_producer(base_conf(), &pst);
    e = rafka_init_transactions(plain, 1000);
    check_plain_error(e, RAFKA_RESP_ERR__STATE, "init on a non-transactional producer");

    make_topic(topic, sizeof topic, "txn-misuse", 1);
    unique_id(id, sizeof id, "txn-misuse");
    p = txn_producer(id, &st);
    check_plain_error(rafka_begin_transaction(p), RAFKA_RESP_ERR__STATE, "begin before init");
    CHECK_EQ(rafka_produce(p, topic, 0, 0, NULL, 0, "v", 1, NULL, 0, 0, NULL), RAFKA_RESP_ERR__STATE);
    CHECK_NO_ERROR(rafka_init_transactions(p, TXN_TIMEOUT_MS));
    check_plain_error(rafka_commit_transaction(p, 1000), RAFKA_RESP_ERR__STATE, "commit outside a transaction");
    check_plain_error(rafka_abort_transaction(p, 1000), RAFKA_RESP_ERR__STATE, "abort outside a transaction");
    CHECK_NO_ERROR(rafka_begin_transaction(p));
    check_plain_error(rafka_begin_transaction(p), RAFKA_RESP_ERR__STATE, "begin twice");
    cgmd = rafka_consumer_group_metadata_new("txn-misuse-group");
    check_plain_error(rafka_send_offsets_to_transaction(p, NULL, cgmd, 1000), RAFKA_RESP_ERR__INVALID_ARG, "offsets NULL");
    check_plain_error(rafka_send_offsets_to_transaction(p, offsets, NULL, 1000), RAFKA_RESP_ERR__INVALID_ARG, "cgmd NULL");
    CHECK_EQ(rafka_topic_partition_list_add_offset(offsets, "", 0, 1), 0);
    check_plain_error(rafka_send_offsets_to_transaction(p, offsets, cgmd, 1000), RAFKA_RESP_ERR__INVALID_ARG, "empty topic");
    /* Misuse left the transaction usable. */
    produce_value(p, topic, 0, "after-misuse");
    CHECK_NO_ERROR(rafka_commit_transaction(p, TXN_TIMEOUT_MS));
    CHECK_EQ(st.ok, 1);

    rafka_consumer_group_metadata_destroy(cgmd);
    rafka_topic_partition_list_destroy(offsets);
    rafka_producer_free(p);
    rafka_producer_free(plain);
    pthread_mutex_destroy(&st.lock);
    pthread_mutex_destroy(&pst.lock);
}

/* ---- statistics ---------------------------------------------------------------------------- */
struct stats_seen {
    int calls;
    int acked_doc;   /* a document counted the 5 records acknowledged */
    int well_formed; /* every document was NUL-terminated at json_len and an object */
    char *kept;      /* the one document the application took ownership of */
};

static int stats_cb(rafka_producer_t *p, char *json, size_t len, void *opaque) {
    struct stats_seen *s = opaque;
    (void)p;
    s->calls++;
    if (json[len] != '\0' || strlen(json) != len || json[0] != '{' || json[len - 1] != '}') s->well_formed = 0;
    if (strstr(json, "\"txmsgs\":5,") && strstr(json, "\"type\":\"producer\"")) s->acked_doc = 1;
    if (s->kept == NULL) {
        s->kept = json; /* returning 1: ours to free() */
        return 1;
    }
    return 0;
}

static void test_stats_cb_gets_json_documents_from_poll(void) {
    char topic[128], err[256];
    struct stats_seen seen = {0, 0, 1, NULL};
    rafka_conf_t *c = base_conf();
    rafka_producer_t *p;
    int i;
    CHECK_EQ(rafka_conf_set(c, "statistics.interval.ms", "100", err, sizeof err), RAFKA_CONF_OK);
    CHECK_EQ(rafka_conf_set_stats_cb(c, stats_cb), RAFKA_RESP_ERR_NO_ERROR);
    rafka_conf_set_opaque(c, &seen);
    p = rafka_producer_new(c, err, sizeof err);
    CHECK(p != NULL);
    make_topic(topic, sizeof topic, "stats", 1);
    for (i = 0; i < 5; i++)
        CHECK_EQ(rafka_produce(p, topic, RAFKA_PARTITION_UA, RAFKA_MSG_F_COPY, "k", 1, "value", 5, NULL, 0, 0, NULL),
                 RAFKA_RESP_ERR_NO_ERROR);
    CHECK_EQ(rafka_flush(p, 30000), RAFKA_RESP_ERR_NO_ERROR);
    for (i = 0; i < 300 && !seen.acked_doc; i++) rafka_poll(p, 100);
    CHECK(seen.acked_doc);
    CHECK(seen.well_formed);
    CHECK(seen.calls >= 2);
    CHECK(seen.kept != NULL && seen.kept[0] == '{');
    free(seen.kept);
    CHECK_EQ(rafka_producer_close(p, 10000), RAFKA_RESP_ERR_NO_ERROR);
    rafka_producer_free(p);
}

/* ---- the spool: records an earlier producer left, reported to the recovered-records callback -- */
#define SPOOL_N 12

/* What the recovered-records callback heard, by record number (keys are "k<N>", values "v<N>"). */
struct recovered_seen {
    pthread_mutex_t lock;
    int calls;
    int bad;                      /* a report with an error, a msg_opaque, or without key/value */
    int times[SPOOL_N];           /* reports per record */
    int partition[SPOOL_N];
    long long offset[SPOOL_N];
};
static struct recovered_seen recovered;

static void spool_recovered_cb(rafka_producer_t *p, const rafka_delivery_report_t *r, void *opaque) {
    int i;
    (void)p;
    (void)opaque;
    pthread_mutex_lock(&recovered.lock);
    recovered.calls++;
    if (r->err != RAFKA_RESP_ERR_NO_ERROR || r->msg_opaque != NULL || r->key == NULL || r->value == NULL ||
        r->key_len < 2 || ((const char *)r->key)[0] != 'k' || r->offset < 0 || r->partition < 0) {
        recovered.bad++;
    } else {
        i = atoi((const char *)r->key + 1); /* "k<N>": atoi stops at the key's end (a digit run) */
        if (i < 0 || i >= SPOOL_N || r->value_len < 2 || memcmp((const char *)r->value + 1, (const char *)r->key + 1, r->key_len - 1) != 0) {
            recovered.bad++;
        } else {
            recovered.times[i]++;
            recovered.partition[i] = r->partition;
            recovered.offset[i] = r->offset;
        }
    }
    pthread_mutex_unlock(&recovered.lock);
}

static int recovered_calls(void) {
    int n;
    pthread_mutex_lock(&recovered.lock);
    n = recovered.calls;
    pthread_mutex_unlock(&recovered.lock);
    return n;
}

/* A producer writing ahead to the spool in `dir`, with the recovered-records callback. */
static rafka_producer_t *spool_producer(const char *servers, const char *dir, struct reports *st) {
    char err[256];
    rafka_conf_t *c = base_conf();
    CHECK_EQ(rafka_conf_set(c, "bootstrap.servers", servers, err, sizeof err), RAFKA_CONF_OK);
    CHECK_EQ(rafka_conf_set(c, "spool.dir", dir, err, sizeof err), RAFKA_CONF_OK);
    CHECK_EQ(rafka_conf_set(c, "spool.when", "always", err, sizeof err), RAFKA_CONF_OK);
    CHECK_EQ(rafka_conf_set_spool_recovered_cb(c, spool_recovered_cb), RAFKA_RESP_ERR_NO_ERROR);
    return new_producer(c, st);
}

static void produce_numbered(rafka_producer_t *p, const char *topic, int n) {
    char key[16], value[16];
    int i;
    for (i = 0; i < n; i++) {
        snprintf(key, sizeof key, "k%d", i);
        snprintf(value, sizeof value, "v%d", i);
        CHECK_EQ(rafka_produce(p, topic, RAFKA_PARTITION_UA, RAFKA_MSG_F_COPY, key, strlen(key), value, strlen(value),
                               NULL, 0, 0, (void *)(intptr_t)(i + 1)),
                 RAFKA_RESP_ERR_NO_ERROR);
    }
}

static void reset_recovered(void) {
    pthread_mutex_destroy(&recovered.lock);
    memset(&recovered, 0, sizeof recovered);
    pthread_mutex_init(&recovered.lock, NULL);
}

/* A producer that cannot reach any broker closes with its records in the spool (their reports say
 * _DESTROY); the next producer on the directory sends them and reports each once to the
 * recovered-records callback, from rafka_flush()/rafka_poll(), with the partition and offset that
 * Kafka's consumer reads back; its own delivery callback hears nothing of them. */
static void test_spool_recovered_cb_reports_each_record_an_earlier_producer_left(void) {
    char topic[128], dir[] = "/tmp/capi-spool-XXXXXX", needle[96], *out, *line;
    struct reports st1, st2;
    rafka_producer_t *p;
    int i;
    reset_recovered();
    CHECK(mkdtemp(dir) != NULL);
    make_topic(topic, sizeof topic, "spool", 2);
    p = spool_producer("127.0.0.1:1", dir, &st1);
    produce_numbered(p, topic, SPOOL_N);
    CHECK(rafka_producer_close(p, 500) != RAFKA_RESP_ERR_NO_ERROR);
    rafka_poll(p, 0);
    CHECK_EQ(reports_count(&st1), SPOOL_N);
    CHECK_EQ(st1.failed, SPOOL_N);
    CHECK_EQ(st1.last_err, RAFKA_RESP_ERR__DESTROY);
    rafka_producer_free(p);
    CHECK_EQ(recovered_calls(), 0); /* nothing was recovered by the first producer */

    p = spool_producer(bootstrap(), dir, &st2);
    CHECK_EQ(recovered_calls(), 0); /* served by rafka_flush()/rafka_poll() only */
    CHECK_EQ(rafka_flush(p, 30000), RAFKA_RESP_ERR_NO_ERROR);
    for (i = 0; i < 100 && recovered_calls() < SPOOL_N; i++) rafka_poll(p, 100);
    CHECK_EQ(rafka_producer_close(p, 10000), RAFKA_RESP_ERR_NO_ERROR);
    rafka_producer_free(p);
    CHECK_EQ(recovered.calls, SPOOL_N);
    CHECK_EQ(recovered.bad, 0);
    CHECK_EQ(reports_count(&st2), 0);
    out = consume(topic, SPOOL_N);
    CHECK_EQ(count_lines(out), SPOOL_N);
    for (i = 0; i < SPOOL_N; i++) {
        CHECK_EQ(recovered.times[i], 1);
        /* Kafka's consumer has record i at the partition and offset the callback reported. */
        snprintf(needle, sizeof needle, "{\"partition\":%d,\"offset\":%lld,", recovered.partition[i], recovered.offset[i]);
        line = strstr(out, needle);
        snprintf(needle, sizeof needle, "\"key\":\"k%d\"", i);
        CHECK(line != NULL && strstr(line, needle) != NULL && strstr(line, needle) < strchr(line, '\n'));
    }
    free(out);

    /* Everything was acknowledged: a third producer on the directory recovers nothing. */
    reset_recovered();
    p = spool_producer(bootstrap(), dir, &st1);
    CHECK_EQ(rafka_flush(p, 10000), RAFKA_RESP_ERR_NO_ERROR);
    rafka_poll(p, 200);
    CHECK_EQ(rafka_producer_close(p, 10000), RAFKA_RESP_ERR_NO_ERROR);
    rafka_producer_free(p);
    CHECK_EQ(recovered_calls(), 0);
    pthread_mutex_destroy(&st1.lock);
    pthread_mutex_destroy(&st2.lock);
}

/* A producer with a fresh spool.dir whose records are all delivered: their reports go to the
 * delivery callback, and the recovered-records callback is never called. */
static void test_spool_recovered_cb_is_not_called_when_nothing_was_recovered(void) {
    char topic[128], dir[] = "/tmp/capi-spool-XXXXXX", *out;
    struct reports st;
    rafka_producer_t *p;
    reset_recovered();
    CHECK(mkdtemp(dir) != NULL);
    make_topic(topic, sizeof topic, "spoolnone", 1);
    p = spool_producer(bootstrap(), dir, &st);
    produce_numbered(p, topic, SPOOL_N);
    CHECK_EQ(rafka_flush(p, 30000), RAFKA_RESP_ERR_NO_ERROR);
    rafka_poll(p, 200);
    CHECK_EQ(rafka_producer_close(p, 10000), RAFKA_RESP_ERR_NO_ERROR);
    CHECK_EQ(reports_count(&st), SPOOL_N);
    CHECK_EQ(st.ok, SPOOL_N);
    CHECK_EQ(st.seen_opaque_sum, SPOOL_N * (SPOOL_N + 1) / 2);
    rafka_producer_free(p);
    CHECK_EQ(recovered_calls(), 0);
    out = consume(topic, SPOOL_N);
    CHECK_EQ(count_lines(out), SPOOL_N);
    free(out);
    pthread_mutex_destroy(&st.lock);
}

struct test {
    const char *name;
    void (*fn)(void);
};
static const struct test tests[] = {
    {"version", test_version},
    {"conf_set_results", test_conf_set_results},
    {"producer_new_with_bad_conf_keeps_conf", test_producer_new_with_bad_conf_keeps_conf},
    {"error_names", test_error_names},
    {"null_pointers", test_null_pointers},
    {"produce_roundtrip", test_produce_roundtrip_read_back_by_kafka_consumer},
    {"non_utf8_topic", test_non_utf8_topic_is_refused},
    {"oversized_message", test_oversized_message_is_refused_at_produce},
    {"produce_after_close", test_produce_after_close_fails_with_state},
    {"close_in_callback", test_close_from_inside_callback_does_not_deadlock},
    {"poll_from_threads", test_poll_from_several_threads_serves_each_report_once},
    {"thread_mode", test_thread_mode_reports_without_poll},
    {"purge", test_purge_fails_queued_records_with_purge_queue},
    {"purge_partition", test_purge_partition_purges_only_that_partitions_queue},
    {"produce_timeout", test_produce_timeout_fails_a_record_at_its_own_deadline},
    {"missing_topic_queues", test_produce_to_a_missing_topic_queues_and_reports_unknown_topic},
    {"debug_log_lines", test_debug_config_sends_debug_lines_to_the_log_callback},
    {"error_cb", test_error_cb_hears_all_brokers_down_once},
    {"partitioner_cb", test_partitioner_cb_places_records_where_it_says},
    {"builtin_partitioners", test_builtin_partitioners_match_librdkafkas_placement},
    {"interceptors", test_interceptors_see_each_send_and_each_outcome_before_the_report},
    {"txn_visibility", test_txn_committed_visible_to_read_committed_aborted_only_to_read_uncommitted},
    {"txn_fencing", test_txn_second_producer_with_same_id_fences_the_first},
    {"txn_send_offsets", test_txn_send_offsets_commits_group_offsets_only_with_the_transaction},
    {"txn_misuse", test_txn_misuse_gives_errors_with_their_flags},
    {"sasl_set_credentials", test_sasl_set_credentials_without_sasl_is_refused_naming_why},
    {"stats_cb", test_stats_cb_gets_json_documents_from_poll},
    {"spool_recovered_cb", test_spool_recovered_cb_reports_each_record_an_earlier_producer_left},
    {"spool_recovered_cb_none", test_spool_recovered_cb_is_not_called_when_nothing_was_recovered},
};

int main(int argc, char **argv) {
    size_t i;
    int ran = 0;
    const char *want = argc > 1 ? argv[1] : "all";
    for (i = 0; i < sizeof tests / sizeof tests[0]; i++) {
        if (strcmp(want, "all") == 0 || strcmp(want, tests[i].name) == 0) {
            int before = failures;
            tests[i].fn();
            fprintf(stderr, "%s %s\n", failures == before ? "ok  " : "FAIL", tests[i].name);
            ran++;
        }
    }
    if (!ran) {
        fprintf(stderr, "no test named %s\n", want);
        return 2;
    }
    return failures ? 1 : 0;
}
