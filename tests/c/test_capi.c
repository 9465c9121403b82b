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

/* Runs scripts/kafka consume and returns its output (JSON lines), malloc'd. */
static char *consume(const char *topic, int max) {
    char cmd[512];
    size_t cap = 1 << 16, len = 0, n;
    char *out = malloc(cap);
    FILE *f;
    snprintf(cmd, sizeof cmd, "%s/scripts/kafka consume %s --max %d", RAFKA_SOURCE_DIR, topic, max);
    f = popen(cmd, "r");
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
        if (((const char *)r->key)[0] != 'k' || ((const char *)r->value)[0] != 'v' ||
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
    want_opaque += 121;
    CHECK_EQ(rafka_flush(p, 30000), RAFKA_RESP_ERR_NO_ERROR);
    CHECK_EQ(st.count, 22);
    CHECK_EQ(st.ok, 22);
    CHECK_EQ(st.seen_opaque_sum, want_opaque);
    CHECK(st.key_value_ok);
    CHECK_EQ(rafka_outq_len(p), 0);
    CHECK_EQ(rafka_producer_close(p, 10000), RAFKA_RESP_ERR_NO_ERROR);
    rafka_producer_free(p);
    pthread_mutex_destroy(&st.lock);

    out = consume(topic, 22);
    CHECK_EQ(count_lines(out), 22);
    CHECK(strstr(out, "\"v7-value\"") != NULL);
    CHECK(strstr(out, "\"v21-owned\"") != NULL);
    CHECK(strstr(out, "\"v100-gathered-value\"") != NULL);
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

/* librdkafka's behaviour: a produce to a topic not known yet returns at once having queued the
 * record; the topic never appearing fails its report with _UNKNOWN_TOPIC. */
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
    CHECK_EQ(st.last_err, RAFKA_RESP_ERR__UNKNOWN_TOPIC);
    CHECK_EQ(rafka_outq_len(p), 0);
    rafka_producer_free(p);
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
    {"missing_topic_queues", test_produce_to_a_missing_topic_queues_and_reports_unknown_topic},
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
