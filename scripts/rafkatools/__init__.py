"""rafka's own tooling in Python (standard library only).

- `rafkatools.cluster`: local Apache Kafka clusters (KRaft) for tests and benchmarks; the code
  behind `scripts/kafka`, importable by tests/harness and bench/.
- `rafkatools.bench`: what every benchmark runner in bench/ shares (running a child with its own
  CPU time, parsing perf-tool summaries, medians, machine metadata, writing JSON and Markdown).
- `rafkatools.figures`: the figures quoted in README.md and docs/*.md, rewritten from
  bench/results/*.json (`scripts/figures`).

Import it after putting the repository's `scripts/` folder on `sys.path`.
"""
