/* examples/c/producer.c: writes one record per stdin line and prints each delivery, like
 * librdkafka's example producer.  Usage: producer <bootstrap.servers> <topic> */
#include <stdio.h>
#include <string.h>

#include "rafka.h"

/* Called from rafka_poll()/rafka_flush() on this thread, once per record. */
static void on_delivery(rafka_producer_t *producer, const rafka_delivery_report_t *r, void *opaque) {
    (void)producer;
    (void)opaque;
    if (r->err)
        fprintf(stderr, "%% delivery failed: %s (%s)\n", rafka_err_name(r->err), r->errstr);
    else
        fprintf(stderr, "%% delivered %zu bytes to %s [%d] at offset %lld\n", r->value_len, r->topic,
                (int)r->partition, (long long)r->offset);
}

int main(int argc, char **argv) {
    char errstr[512], line[4096];
    rafka_conf_t *conf;
    rafka_producer_t *producer;
    if (argc != 3) {
        fprintf(stderr, "usage: %s <bootstrap.servers> <topic>\n", argv[0]);
        return 1;
    }
    conf = rafka_conf_new();
    if (rafka_conf_set(conf, "bootstrap.servers", argv[1], errstr, sizeof errstr) != RAFKA_CONF_OK) {
        fprintf(stderr, "%% %s\n", errstr);
        rafka_conf_free(conf);
        return 1;
    }
    rafka_conf_set_dr_cb(conf, on_delivery);
    producer = rafka_producer_new(conf, errstr, sizeof errstr); /* takes conf on success */
    if (!producer) {
        fprintf(stderr, "%% cannot create the producer: %s\n", errstr);
        rafka_conf_free(conf);
        return 1;
    }
    while (fgets(line, sizeof line, stdin)) {
        size_t len = strcspn(line, "\r\n");
        rafka_resp_err_t err;
        if (len == 0) {
            rafka_poll(producer, 0);
            continue;
        }
        /* RAFKA_MSG_F_BLOCK: wait for buffer space rather than fail with _QUEUE_FULL */
        err = rafka_produce(producer, argv[2], RAFKA_PARTITION_UA, RAFKA_MSG_F_COPY | RAFKA_MSG_F_BLOCK, NULL, 0,
                            line, len, NULL, 0, 0, NULL);
        if (err)
            fprintf(stderr, "%% produce failed: %s: %s\n", rafka_err_name(err), rafka_last_error_message());
        rafka_poll(producer, 0); /* serve the reports that are ready */
    }
    fprintf(stderr, "%% flushing\n");
    if (rafka_flush(producer, 10000) != RAFKA_RESP_ERR_NO_ERROR)
        fprintf(stderr, "%% %lld records were not delivered\n", (long long)rafka_outq_len(producer));
    rafka_producer_close(producer, 10000);
    rafka_producer_free(producer);
    return 0;
}
