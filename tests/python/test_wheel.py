"""The release wheel (scripts/python-wheel: plain `maturin build --release` in bindings/python) is an abi3
manylinux wheel that auditwheel accepts, bundles no shared library, and installs and sends records in a
fresh virtualenv where no Rust toolchain is on PATH.

The wheel is not built here (minutes of release build): ./scripts/test's python-install suite builds it
into target/wheels (or RAFKA_WHEEL_DIR) just before this suite, and installs it into .venv."""
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import zipfile

import pytest
from elftools.elf.elffile import ELFFile

from test_producer import ROOT, bootstrap, consume, new_topic, raw

WHEEL_DIR = os.environ.get("RAFKA_WHEEL_DIR") or os.path.join(ROOT, "target", "wheels")
RUST_TOOLS = ("cargo", "rustc", "rustup")
# What a manylinux wheel may link against without bundling it (the manylinux policies' system
# libraries that a Rust cdylib can need).
SYSTEM_LIBS = {"libc.so.6", "ld-linux-x86-64.so.2", "libgcc_s.so.1", "libpthread.so.0",
               "libdl.so.2", "libm.so.6", "librt.so.1"}


@pytest.fixture(scope="module")
def wheel():
    found = sorted(f for f in os.listdir(WHEEL_DIR) if f.startswith("rafka-") and f.endswith(".whl")) \
        if os.path.isdir(WHEEL_DIR) else []
    if len(found) != 1:
        pytest.fail(f"expected one rafka wheel in {WHEEL_DIR}, found {found}: build it with "
                    "scripts/python-wheel (./scripts/test python-install runs it)")
    return os.path.join(WHEEL_DIR, found[0])


def glibc_of(platform_tag):
    """(2, 17) for manylinux2014_x86_64 or manylinux_2_17_x86_64."""
    legacy = {"manylinux1": (2, 5), "manylinux2010": (2, 12), "manylinux2014": (2, 17)}
    m = re.fullmatch(r"manylinux_(\d+)_(\d+)_x86_64", platform_tag)
    if m:
        return int(m.group(1)), int(m.group(2))
    m = re.fullmatch(r"(manylinux\d+)_x86_64", platform_tag)
    assert m and m.group(1) in legacy, f"not a manylinux tag: {platform_tag}"
    return legacy[m.group(1)]


def wheel_tags(path):
    """The (python, abi, platforms) of the wheel's file name, checked against its WHEEL file."""
    name, version, py, abi, platforms = os.path.basename(path)[:-len(".whl")].split("-")
    with zipfile.ZipFile(path) as z:
        meta = z.read(f"{name}-{version}.dist-info/WHEEL").decode()
    declared = sorted(l.split(":", 1)[1].strip() for l in meta.splitlines() if l.startswith("Tag:"))
    assert declared == sorted(f"{py}-{abi}-{p}" for p in platforms.split(".")), meta
    assert "Root-Is-Purelib: false" in meta
    return py, abi, platforms.split(".")


def test_wheel_is_abi3_for_cpython_310_and_tagged_manylinux(wheel):
    py, abi, platforms = wheel_tags(wheel)
    assert (py, abi) == ("cp310", "abi3")
    assert platforms and all(p.startswith("manylinux") and p.endswith("_x86_64") for p in platforms)
    with zipfile.ZipFile(wheel) as z:
        exts = [n for n in z.namelist() if n.endswith(".so")]
    # One extension module, built for the stable ABI (any CPython >= 3.10 loads it).
    assert exts == ["rafka/_rafka.abi3.so"]


def test_auditwheel_accepts_the_wheels_manylinux_tag(wheel):
    out = subprocess.run([sys.executable, "-m", "auditwheel", "show", wheel],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    text = " ".join(out.stdout.split())  # auditwheel wraps its lines
    m = re.search(r'is consistent with the following platform tag: "([^"]+)"', text)
    assert m, text
    needed = glibc_of(m.group(1))
    _, _, platforms = wheel_tags(wheel)
    # The tag the wheel claims is no older than the glibc its symbols need: a system with that
    # glibc loads it.
    for p in platforms:
        assert glibc_of(p) >= needed, f"wheel claims {p}, auditwheel needs {m.group(1)}: {text}"
    # Nothing outside the manylinux policy's system libraries would have to be bundled.
    assert "external shared libraries" not in text, text


def test_wheel_bundles_no_shared_library_and_needs_only_system_ones(wheel, tmp_path):
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        # auditwheel repair would put grafted libraries into rafka.libs/
        assert not [n for n in names if ".libs/" in n], names
        so = tmp_path / "_rafka.abi3.so"
        so.write_bytes(z.read("rafka/_rafka.abi3.so"))
    with open(so, "rb") as f:
        dynamic = ELFFile(f).get_section_by_name(".dynamic")
        needed = {t.needed for t in dynamic.iter_tags() if t.entry.d_tag == "DT_NEEDED"}
    # rustls, not OpenSSL: no libssl/libcrypto; compression is in Rust too (no libz, libzstd).
    assert needed and needed <= SYSTEM_LIBS, sorted(needed)


def environment_without_rust(venv):
    """os.environ with no Rust toolchain on PATH (every PATH folder holding cargo, rustc or rustup
    dropped), no Rust or virtualenv variables, the new virtualenv's bin first."""
    keep = [d for d in os.environ.get("PATH", "").split(os.pathsep)
            if d and not any(os.path.exists(os.path.join(d, t)) for t in RUST_TOOLS)]
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("CARGO", "RUSTUP", "RUSTC", "PYO3", "MATURIN"))
           and k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env["PATH"] = os.pathsep.join([os.path.join(venv, "bin")] + keep)
    for t in RUST_TOOLS:
        assert shutil.which(t, path=env["PATH"]) is None, f"{t} still on PATH {env['PATH']}"
    return env


PRODUCER = textwrap.dedent("""
    import json, shutil, sys
    import rafka
    from rafka.aio import AIOProducer  # the asyncio module comes with the wheel too
    bootstrap, topic, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    reports = []
    p = rafka.Producer({"bootstrap.servers": bootstrap})
    for i in range(n):
        p.produce(topic, value=b"wheel-%d" % i, key=b"k%d" % i,
                  on_delivery=lambda err, msg: reports.append(err))
    left = p.flush(30)
    p.close()
    print(json.dumps({"module": rafka.__file__, "left": left, "reports": len(reports),
                      "errors": [str(e) for e in reports if e is not None],
                      "cargo": [shutil.which(t) for t in ("cargo", "rustc")]}))
""")


def test_wheel_installs_without_rust_and_its_producer_sends_to_the_broker(wheel, tmp_path):
    servers = bootstrap()
    venv = str(tmp_path / "venv")
    env = environment_without_rust(venv)
    subprocess.run([sys.executable, "-m", "venv", venv], check=True, env=env, cwd=tmp_path)
    py = os.path.join(venv, "bin", "python")
    # --no-index: nothing from a registry; a wheel installs by unpacking, so no build (and no cargo) runs.
    install = subprocess.run([py, "-m", "pip", "install", "--no-index", "--no-deps",
                              "--disable-pip-version-check", wheel],
                             capture_output=True, text=True, env=env, cwd=tmp_path)
    assert install.returncode == 0, install.stdout + install.stderr
    topic = new_topic()
    n = 50
    # cwd outside the checkout, so `import rafka` can only find the installed wheel.
    run = subprocess.run([py, "-c", PRODUCER, servers, topic, str(n)],
                         capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    got = json.loads(run.stdout.strip().splitlines()[-1])
    assert got["cargo"] == [None, None], got
    assert got["module"].startswith(os.path.join(venv, "lib")), got
    assert (got["left"], got["reports"], got["errors"]) == (0, n, []), got
    recs = consume(topic, n)
    assert sorted((raw(r, "key"), raw(r, "value")) for r in recs) == \
        sorted((b"k%d" % i, b"wheel-%d" % i) for i in range(n))
