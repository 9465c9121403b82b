"""The code blocks of docs/python.md marked `<!-- example: NAME -->` run as written against the broker,
and what they send is read back with Kafka's own consumer."""
import os
import re
import subprocess
import sys

from test_producer import ROOT, bootstrap, consume, new_topic, raw

DOC = os.path.join(ROOT, "docs", "python.md")


def example(name):
    """The ```python block right after `<!-- example: name -->` in docs/python.md."""
    text = open(DOC).read()
    m = re.search(r"<!-- example: %s -->\n```python\n(.*?)\n```" % re.escape(name), text, re.S)
    assert m, "docs/python.md has no block marked <!-- example: %s -->" % name
    return m.group(1)


def test_asyncio_example_runs_and_its_fifteen_records_are_read_back(tmp_path):
    script = tmp_path / "example.py"
    script.write_text(example("aio"))
    topic = new_topic()
    run = subprocess.run([sys.executable, str(script), bootstrap(), topic],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "stored at %s [0] offset 0" % topic in run.stdout
    recs = consume(topic, 15)
    values = sorted(raw(r, "value") for r in recs)
    want = sorted([b"first", b"later", b"a", b"b", b"c"] + [b"request %d" % i for i in range(10)])
    assert values == want
    first = next(r for r in recs if raw(r, "value") == b"first")
    assert raw(first, "key") == b"k"
