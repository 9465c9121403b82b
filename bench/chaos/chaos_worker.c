/* scripts/chaos's C worker: the send loop of worker.py through rafka's C API (include/rafka.h).
 *
 *   chaos_worker BOOTSTRAP TOPIC RECORDS SECONDS ACKS IDEMPOTENCE(0|1) RECORD_SIZE OUT
 *
 * Records, pacing and the OUT line format are those of worker.py; a record that rafka_produce()
 * refuses (no report follows) gets a line of its own with the error's name. Reports are served by
 * rafka_poll() on this thread. Prints "ready", then "done" at the end; exits 1 if the final flush
 * leaves records undelivered. */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rafka.h"

static FILE *out;
static int64_t *sent;

static int64_t wall_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static double mono_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void on_delivery(rafka_producer_t *producer, const rafka_delivery_report_t *r, void *opaque) {
    long seq = (long)(intptr_t)r->msg_opaque;
    (void)producer;
    (void)opaque;
    fprintf(out, "%ld\t%d\t%lld\t%s\t%lld\t%lld\n", seq, (int)r->partition, (long long)r->offset,
            r->err ? rafka_err_name(r->err) : "", (long long)sent[seq], (long long)wall_ns());
}

static int set(rafka_conf_t *conf, const char *key, const char *value) {
    char errstr[512];
    if (rafka_conf_set(conf, key, value, errstr, sizeof errstr) != RAFKA_CONF_OK) {
        fprintf(stderr, "%s=%s: %s\n", key, value, errstr);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv) {
    char errstr[512], key[16];
    rafka_conf_t *conf;
    rafka_producer_t *producer;
    long records, seq = 0;
    double seconds, rate, start;
    size_t size;
    char *value;
    if (argc != 9) {
        fprintf(stderr, "usage: %s BOOTSTRAP TOPIC RECORDS SECONDS ACKS IDEMPOTENCE RECORD_SIZE OUT\n", argv[0]);
        return 2;
    }
    records = atol(argv[3]);
    seconds = atof(argv[4]);
    size = (size_t)atol(argv[7]);
    sent = calloc((size_t)records, sizeof *sent);
    value = malloc(size + 32);
    out = fopen(argv[8], "w");
    if (!sent || !value || !out) {
        perror("chaos_worker");
        return 2;
    }
    conf = rafka_conf_new();
    if (set(conf, "bootstrap.servers", argv[1]) || set(conf, "acks", argv[5]) ||
        set(conf, "enable.idempotence", argv[6][0] == '1' ? "true" : "false"))
        return 2;
    rafka_conf_set_dr_cb(conf, on_delivery);
    producer = rafka_producer_new(conf, errstr, sizeof errstr);
    if (!producer) {
        fprintf(stderr, "cannot create the producer: %s\n", errstr);
        return 2;
    }
    printf("ready\n");
    fflush(stdout);

    rate = seconds > 0 ? records / seconds : 1e18;
    start = mono_s();
    while (seq < records) {
        double due_d = (mono_s() - start) * rate + 1;
        long due = due_d < (double)records ? (long)due_d : records;
        for (; seq < due; seq++) {
            int n = snprintf(value, size + 32, "%ld.", seq);
            size_t len = (size_t)n < size ? size : (size_t)n;
            rafka_resp_err_t err;
            memset(value + n, 'x', len - (size_t)n);
            snprintf(key, sizeof key, "k%ld", seq % 1000);
            sent[seq] = wall_ns();
            err = rafka_produce(producer, argv[2], RAFKA_PARTITION_UA, RAFKA_MSG_F_COPY | RAFKA_MSG_F_BLOCK, key,
                                strlen(key), value, len, NULL, 0, 0, (void *)(intptr_t)seq);
            if (err)
                fprintf(out, "%ld\t-1\t-1\tproduce-refused-%s\t%lld\t%lld\n", seq, rafka_err_name(err),
                        (long long)sent[seq], (long long)wall_ns());
        }
        rafka_poll(producer, 0);
        {
            struct timespec ts = {0, 2000000};
            nanosleep(&ts, NULL);
        }
    }
    if (rafka_flush(producer, 900000) != RAFKA_RESP_ERR_NO_ERROR) {
        fprintf(stderr, "%lld record(s) left after flush\n", (long long)rafka_outq_len(producer));
        fclose(out);
        return 1;
    }
    rafka_producer_close(producer, 60000);
    rafka_producer_free(producer);
    fclose(out);
    printf("done\n");
    return 0;
}
