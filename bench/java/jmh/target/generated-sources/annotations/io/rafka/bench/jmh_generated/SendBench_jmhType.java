package io.rafka.bench.jmh_generated;
public class SendBench_jmhType extends SendBench_jmhType_B3 {
}

