package io.rafka.bench.jmh_generated;
public class SendBench_AppThread_jmhType extends SendBench_AppThread_jmhType_B3 {
}

