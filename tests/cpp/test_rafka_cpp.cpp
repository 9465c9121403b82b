// GoogleTest tests of the C++ wrapper (include/rafka.hpp) against the real broker, read back
// with Kafka's own consumer (scripts/kafka consume).
#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>
#include <thread>
#include <vector>

#include "rafka.hpp"

namespace {

std::string bootstrap() {
    const char *b = std::getenv("RAFKA_BOOTSTRAP");
    return b && *b ? b : "127.0.0.1:19092";
}

std::string run(const std::string &cmd) {
    std::string out;
    FILE *f = popen(cmd.c_str(), "r");
    if (!f) return out;
    std::array<char, 4096> buf;
    size_t n;
    while ((n = fread(buf.data(), 1, buf.size(), f)) > 0) out.append(buf.data(), n);
    pclose(f);
    return out;
}

std::string make_topic(const std::string &tag, int partitions) {
    std::string name = "cpp-" + tag + "-" + std::to_string(getpid()) + "-" + std::to_string(std::time(nullptr));
    std::string cmd = std::string(RAFKA_SOURCE_DIR) + "/scripts/kafka topic create " + name + " --partitions " +
                      std::to_string(partitions) + " >/dev/null";
    EXPECT_EQ(std::system(cmd.c_str()), 0);
    return name;
}

std::string consume(const std::string &topic, int max) {
    return run(std::string(RAFKA_SOURCE_DIR) + "/scripts/kafka consume " + topic + " --max " + std::to_string(max));
}

std::map<std::string, std::string> conf() { return {{"bootstrap.servers", bootstrap()}, {"linger.ms", "2"}}; }

std::map<std::string, std::string> txn_conf(const std::string &tag) {
    auto c = conf();
    c["transactional.id"] = "cpp-" + tag + "-" + std::to_string(getpid()) + "-" + std::to_string(std::time(nullptr));
    return c;
}

size_t occurrences(const std::string &haystack, const std::string &needle) {
    size_t n = 0;
    for (size_t at = haystack.find(needle); at != std::string::npos; at = haystack.find(needle, at + 1)) n++;
    return n;
}

rafka::Record record(const std::string &topic, const std::string &value) {
    rafka::Record r;
    r.topic = topic;
    r.partition = 0;
    r.value = value;
    return r;
}

}  // namespace

TEST(Producer, UnknownSettingThrowsWithSuggestion) {
    try {
        rafka::Producer p({{"bootstrap.servers", bootstrap()}, {"lingr.ms", "5"}});
        FAIL() << "no exception";
    } catch (const rafka::Error &e) {
        EXPECT_EQ(e.code(), RAFKA_RESP_ERR__INVALID_CONFIG);
        EXPECT_NE(std::string(e.what()).find("linger.ms"), std::string::npos) << e.what();
    }
}

TEST(Producer, CallbackSendDeliversEveryRecordWithHeadersReadBackByKafka) {
    auto topic = make_topic("callback", 2);
    rafka::Producer p(conf());
    std::atomic<int> ok{0}, failed{0};
    for (int i = 0; i < 10; i++) {
        rafka::Record r;
        r.topic = topic;
        r.key = "k" + std::to_string(i);
        r.value = "cpp-value-" + std::to_string(i);
        r.headers = {{"h1", std::string("x1")}, {"nullh", std::nullopt}};
        p.send(r, [&](const rafka::DeliveryReport &d) {
            if (d.ok() && d.metadata.offset >= 0 && d.metadata.topic == topic) ok++; else failed++;
        });
    }
    p.flush(30000);
    EXPECT_EQ(ok.load(), 10);
    EXPECT_EQ(failed.load(), 0);
    p.close();
    auto out = consume(topic, 10);
    EXPECT_NE(out.find("cpp-value-7"), std::string::npos) << out;
    EXPECT_NE(out.find("\"h1\""), std::string::npos) << out;
    EXPECT_NE(out.find("nullh"), std::string::npos) << out;
}

TEST(Producer, PartitionerPlacesRecordsWhereItSaysReadBackByKafka) {
    auto topic = make_topic("partitioner", 3);
    std::atomic<int> calls{0};
    // The key's last digit names the partition; "bad" gets 7, which the topic does not have.
    rafka::Producer p(conf(), [&](std::string_view t, std::optional<std::string_view> key, int32_t n) -> int32_t {
        calls++;
        if (t != topic || n != 3 || !key) return -1;
        if (*key == "bad") return 7;
        return key->back() - '0';
    });
    std::atomic<int> ok{0}, wrong_partition{0}, failed{0};
    for (int i = 0; i < 9; i++) {
        rafka::Record r;
        r.topic = topic;
        r.key = "key" + std::to_string(i % 3);
        r.value = "v";
        int want = i % 3;
        p.send(r, [&, want](const rafka::DeliveryReport &d) {
            if (!d.ok()) failed++;
            else if (d.metadata.partition != want) wrong_partition++;
            else ok++;
        });
    }
    p.flush(30000);
    EXPECT_EQ(ok.load(), 9);
    EXPECT_EQ(wrong_partition.load(), 0);
    EXPECT_EQ(failed.load(), 0);
    rafka::Record bad;
    bad.topic = topic;
    bad.key = "bad";
    try {
        p.send(bad, [](const rafka::DeliveryReport &) {});
        FAIL() << "no exception";
    } catch (const rafka::Error &e) {
        EXPECT_EQ(e.code(), RAFKA_RESP_ERR__UNKNOWN_PARTITION);
    }
    EXPECT_EQ(calls.load(), 10);
    p.close();
    auto out = consume(topic, 9);
    EXPECT_EQ(occurrences(out, "{\"partition\":2,"), 3u) << out;
    EXPECT_EQ(occurrences(out, "\"key\":\"key2\""), 3u) << out;
}

TEST(Producer, FutureResolvesWithMetadataOnBackgroundThread) {
    auto topic = make_topic("future", 1);
    rafka::Producer p(conf(), rafka::DeliveryThread::Background);
    rafka::Record r;
    r.topic = topic;
    r.value = "from-a-future";
    auto f = p.send(r);
    ASSERT_EQ(f.wait_for(std::chrono::seconds(30)), std::future_status::ready);
    auto md = f.get();
    EXPECT_EQ(md.topic, topic);
    EXPECT_EQ(md.partition, 0);
    EXPECT_EQ(md.offset, 0);
}

TEST(Producer, FutureOfPurgedRecordThrowsError) {
    auto topic = make_topic("purged", 1);
    auto c = conf();
    c["linger.ms"] = "60000";
    c["batch.size"] = "1000000";
    rafka::Producer p(c);
    rafka::Record r;
    r.topic = topic;
    r.value = "never-sent";
    auto f = p.send(r);
    // engine race: purge only sees partitions the I/O thread already tracks (see test_capi.c)
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    p.purge();
    // purge is asynchronous: flush() right away could race it and send the record, so poll
    for (int i = 0; i < 100 && f.wait_for(std::chrono::seconds(0)) != std::future_status::ready; i++) p.poll(100);
    try {
        f.get();
        FAIL() << "no exception";
    } catch (const rafka::Error &e) {
        EXPECT_EQ(e.code(), RAFKA_RESP_ERR__PURGE_QUEUE);
    }
}

TEST(Producer, NonThrowingSendReturnsCodeAndNeverCallsBack) {
    rafka::Producer p(conf());
    bool called = false;
    rafka::Record r;
    r.topic = "bad\xff";
    r.value = "v";
    EXPECT_EQ(p.send(r, [&](const rafka::DeliveryReport &) { called = true; }, std::nothrow), RAFKA_RESP_ERR__INVALID_ARG);
    EXPECT_THROW(p.send(r, [](const rafka::DeliveryReport &) {}), rafka::Error);
    p.flush(5000);
    EXPECT_FALSE(called);
}

TEST(Producer, SendAfterCloseThrowsStateError) {
    auto topic = make_topic("closed", 1);
    rafka::Producer p(conf());
    p.close(10000);
    rafka::Record r;
    r.topic = topic;
    r.value = "late";
    try {
        p.send(r, [](const rafka::DeliveryReport &) {});
        FAIL() << "no exception";
    } catch (const rafka::Error &e) {
        EXPECT_EQ(e.code(), RAFKA_RESP_ERR__STATE);
    }
    EXPECT_EQ(p.close(0, std::nothrow), RAFKA_RESP_ERR_NO_ERROR);
}

TEST(Producer, SetSaslCredentialsWithoutSaslThrowsInvalidArgNamingWhy) {
    rafka::Producer p(conf());
    try {
        p.set_sasl_credentials("alice", "alice-secret");
        FAIL() << "no exception";
    } catch (const rafka::Error &e) {
        EXPECT_EQ(e.code(), RAFKA_RESP_ERR__INVALID_ARG);
        EXPECT_NE(std::string(e.what()).find("does not authenticate with SASL"), std::string::npos) << e.what();
    }
}

TEST(Transactions, CommittedRecordsAndOffsetsAreVisibleAbortedOnesAreNot) {
    auto topic = make_topic("txn", 1);
    auto input = make_topic("txn-in", 1);
    std::string group = "cpp-group-" + std::to_string(getpid()) + "-" + std::to_string(std::time(nullptr));
    rafka::Producer p(txn_conf("txn"));
    p.init_transactions(30000);
    p.begin_transaction();
    p.send(record(topic, "cpp-aborted"), nullptr);
    p.flush(30000);
    p.abort_transaction(30000);
    p.begin_transaction();
    p.send(record(topic, "cpp-committed"), nullptr);
    p.send_offsets_to_transaction({{input, 0, 42}}, rafka::ConsumerGroupMetadata{group, -1, "", std::nullopt}, 30000);
    p.commit_transaction(30000);
    p.close();
    std::string root = RAFKA_SOURCE_DIR;
    auto committed = run(root + "/scripts/kafka consume " + topic + " --read-committed");
    EXPECT_EQ(occurrences(committed, "cpp-committed"), 1u) << committed;
    EXPECT_EQ(occurrences(committed, "cpp-aborted"), 0u) << committed;
    auto all = run(root + "/scripts/kafka consume " + topic);
    EXPECT_EQ(occurrences(all, "cpp-aborted"), 1u) << all;
    auto offsets = run(root + "/scripts/kafka group offsets " + group);
    EXPECT_EQ(offsets, "{\"topic\":\"" + input + "\",\"partition\":0,\"offset\":42}\n");
}

TEST(Transactions, CallsOutOfOrderThrowTxnErrorWithItsFlags) {
    rafka::Producer p(txn_conf("txn-misuse"));
    try {
        p.begin_transaction();
        FAIL() << "begin before init did not throw";
    } catch (const rafka::TxnError &e) {
        EXPECT_EQ(e.code(), RAFKA_RESP_ERR__STATE);
        EXPECT_STREQ(e.name(), "_STATE");
        EXPECT_FALSE(e.retriable() || e.fatal() || e.txn_requires_abort());
        EXPECT_NE(std::string(e.what()).find("begin_transaction"), std::string::npos) << e.what();
    }
    p.init_transactions(30000);
    auto err = p.commit_transaction(1000, std::nothrow);
    ASSERT_TRUE(err);
    EXPECT_EQ(rafka_error_code(err.get()), RAFKA_RESP_ERR__STATE);
    EXPECT_FALSE(p.begin_transaction(std::nothrow)) << "begin after init succeeds";
    EXPECT_THROW(p.send_offsets_to_transaction({{"t", 0, 1}}, rafka::ConsumerGroupMetadata{}, 1000), rafka::TxnError);
    p.abort_transaction(30000);
}

namespace {

/// A fresh directory for "spool.dir".
std::string spool_dir() {
    char dir[] = "/tmp/cpp-spool-XXXXXX";
    EXPECT_NE(mkdtemp(dir), nullptr);
    return dir;
}

std::map<std::string, std::string> spool_conf(const std::string &servers, const std::string &dir) {
    auto c = conf();
    c["bootstrap.servers"] = servers;
    c["spool.dir"] = dir;
    c["spool.when"] = "always";
    return c;
}

/// Sends records "k<i>" -> "v<i>" without a partition; counts their reports.
void send_numbered(rafka::Producer &p, const std::string &topic, int n, std::atomic<int> &reports, std::atomic<int> &destroyed) {
    for (int i = 0; i < n; i++) {
        rafka::Record r;
        r.topic = topic;
        r.key = "k" + std::to_string(i);
        r.value = "v" + std::to_string(i);
        p.send(r, [&](const rafka::DeliveryReport &d) {
            reports++;
            if (d.error == RAFKA_RESP_ERR__DESTROY) destroyed++;
        });
    }
}

}  // namespace

// A producer that reaches no broker closes with its records in the spool; the next one on the
// directory sends them and reports each once to its SpoolRecoveredCallback, with the key, value,
// partition and offset that Kafka's consumer reads back; a third finds nothing to recover.
TEST(Spool, RecoveredCallbackReportsEachRecordAnEarlierProducerLeftReadBackByKafka) {
    const int n = 10;
    auto topic = make_topic("spool", 2);
    auto dir = spool_dir();
    std::atomic<int> reports{0}, destroyed{0};
    std::vector<rafka::RecoveredRecord> recovered;
    auto keep = [&](const rafka::RecoveredRecord &r) { recovered.push_back(r); };
    {
        rafka::Producer first(spool_conf("127.0.0.1:1", dir), keep);
        send_numbered(first, topic, n, reports, destroyed);
        EXPECT_NE(first.close(500, std::nothrow), RAFKA_RESP_ERR_NO_ERROR);
    }
    EXPECT_EQ(reports.load(), n);
    EXPECT_EQ(destroyed.load(), n);
    EXPECT_TRUE(recovered.empty());
    {
        rafka::Producer second(spool_conf(bootstrap(), dir), keep);
        EXPECT_TRUE(recovered.empty()) << "served before poll()/flush()";
        second.flush(30000);
        for (int i = 0; i < 100 && recovered.size() < size_t(n); i++) second.poll(100);
        second.close(10000);
    }
    EXPECT_EQ(reports.load(), n) << "the second producer's own reports";
    ASSERT_EQ(recovered.size(), size_t(n));
    auto out = consume(topic, n);
    std::vector<int> times(n, 0);
    for (const auto &r : recovered) {
        ASSERT_TRUE(r.ok()) << r.message;
        ASSERT_TRUE(r.key && r.value);
        int i = std::stoi(r.key->substr(1));
        ASSERT_TRUE(i >= 0 && i < n) << *r.key;
        times[i]++;
        EXPECT_EQ(*r.value, "v" + std::to_string(i));
        EXPECT_EQ(r.metadata.topic, topic);
        // Kafka's consumer has this record at the partition and offset reported.
        auto at = out.find("{\"partition\":" + std::to_string(r.metadata.partition) + ",\"offset\":" + std::to_string(r.metadata.offset) + ",");
        ASSERT_NE(at, std::string::npos) << out;
        auto line = out.substr(at, out.find('\n', at) - at);
        EXPECT_NE(line.find("\"key\":\"" + *r.key + "\""), std::string::npos) << line;
    }
    EXPECT_EQ(times, std::vector<int>(n, 1));
    recovered.clear();
    {
        rafka::Producer third(spool_conf(bootstrap(), dir), keep);
        third.flush(10000);
        third.poll(200);
    }
    EXPECT_TRUE(recovered.empty());
}

TEST(Spool, RecoveredCallbackIsNotCalledWhenNothingWasRecovered) {
    auto topic = make_topic("spoolnone", 1);
    std::atomic<int> reports{0}, destroyed{0}, recovered{0};
    {
        rafka::Producer p(spool_conf(bootstrap(), spool_dir()), [&](const rafka::RecoveredRecord &) { recovered++; });
        send_numbered(p, topic, 5, reports, destroyed);
        p.flush(30000);
        p.poll(200);
        p.close(10000);
    }
    EXPECT_EQ(reports.load(), 5);
    EXPECT_EQ(destroyed.load(), 0);
    EXPECT_EQ(recovered.load(), 0);
    EXPECT_EQ(occurrences(consume(topic, 5), "\"partition\":0"), 5u);
}
