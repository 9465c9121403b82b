"""Local Apache Kafka clusters (KRaft, combined broker+controller nodes) for rafka's tests and benchmarks.

`scripts/kafka` is the command over this module (its CLI, output and exit codes are documented in
docs/local-kafka.md and `scripts/kafka help`); Python code (tests/harness, bench/) uses
`LocalKafka` directly.

State layout of one cluster (the state dir, RAFKA_KAFKA_STATE):
  cluster.env                     BROKERS, VERSION, PORT, CONTROLLER_PORT, CLUSTER_ID, BOOTSTRAP, SECURITY
  node-N/{server.properties,pid,data/,server.log,format.log}
  log4j*-{INFO,WARN}.properties   logging of the brokers and of the short-lived tool JVMs
  tls/                            the test CA and certificates of `up --security ssl|sasl_ssl`
  .lock                           flock held by up, down and restart
Jar cache (RAFKA_CACHE): kafka-V/{pom.xml,libs/,fetch.log} and tool-<hash>/ (KafkaHarnessTool).

A process only ever gets a signal through the pid recorded in its node dir, after checking that
this pid still runs that node's server.properties.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, List, Mapping, Optional, Sequence

DEFAULT_VERSION = "4.3.1"  # newest 4.x whose broker, clients and tools all resolve
DEFAULT_STATE = "/tmp/rafka-kafka"
DEFAULT_PORT = 19092
CONTROLLER_OFFSET = 1000  # controller port = broker port + 1000
SECURE_OFFSET = 100  # up --security: secured listener port = broker port + 100
SECURITY_PROTOCOLS = ("sasl_plaintext", "ssl", "sasl_ssl")
# up --security: the users every SASL mechanism knows (PLAIN via JAAS, SCRAM via --add-scram).
SASL_USERS = (("alice", "alice-secret"), ("bob", "bob-secret"))
SCRIPTS_DIR = Path(__file__).resolve().parent.parent
HARNESS_TOOL = SCRIPTS_DIR / "KafkaHarnessTool.java"
MAX_PORT = 65535 - 3 - CONTROLLER_OFFSET


class KafkaError(Exception):
    """A failure with what went wrong (`message`) and what to do about it (`hints`): exit 1."""

    def __init__(self, message: str, *hints: str):
        super().__init__(message)
        self.message = message
        self.hints = hints

    def __str__(self) -> str:
        return "\n".join([self.message, *(f"  {h}" for h in self.hints)])


class UsageError(Exception):
    """The command line is wrong: exit 2."""


def is_uint(text: str) -> bool:
    return re.fullmatch(r"[0-9]+", text) is not None


@dataclass
class ClusterState:
    """What cluster.env records of a started cluster."""

    brokers: int
    version: str
    port: int
    controller_port: int
    cluster_id: str
    bootstrap: str
    security: str
    # The node id serving each slot's broker port: 1..brokers, until `replace` puts a new
    # broker-only node in a slot (cluster.env's NODES).
    nodes: List[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.nodes:
            self.nodes = list(range(1, self.brokers + 1))

    def slot(self, node: int) -> int:
        """The slot (1..brokers) of a node id: where a replacement serves, or an original node's own."""
        return self.nodes.index(node) + 1 if node in self.nodes else node

    def broker_port(self, node: int) -> int:
        return self.port + self.slot(node) - 1

    def controller_port_of(self, node: int) -> int:
        return self.controller_port + node - 1

    @property
    def secure_bootstrap(self) -> Optional[str]:
        if not self.security:
            return None
        host = "localhost" if self.security.endswith("ssl") else "127.0.0.1"  # the name in the test server certificate
        return ",".join(f"{host}:{self.broker_port(n) + SECURE_OFFSET}" for n in range(1, self.brokers + 1))

    def env_text(self) -> str:
        return (f"BROKERS={self.brokers}\nVERSION={self.version}\nPORT={self.port}\nCONTROLLER_PORT={self.controller_port}\n"
                f"CLUSTER_ID={self.cluster_id}\nBOOTSTRAP={self.bootstrap}\nSECURITY={self.security}\n"
                f"NODES={','.join(map(str, self.nodes))}\n")

    @classmethod
    def parse(cls, text: str, path: Path) -> "ClusterState":
        values = {}
        for line in text.splitlines():
            key, sep, value = line.partition("=")
            if sep:
                values[key.strip()] = value.strip()
        try:
            s = cls(int(values["BROKERS"]), values["VERSION"], int(values["PORT"]), int(values["CONTROLLER_PORT"]),
                    values.get("CLUSTER_ID", ""), values["BOOTSTRAP"], values.get("SECURITY", ""),
                    [int(n) for n in values.get("NODES", "").split(",") if n])
            if len(s.nodes) != s.brokers:
                raise ValueError(f"NODES names {len(s.nodes)} nodes for {s.brokers} brokers")
            return s
        except (KeyError, ValueError) as e:
            raise KafkaError(f"{path} is damaged ({e!r})", "remove the state dir and start over with 'scripts/kafka up'")


@dataclass
class UpResult:
    """What `up` prints on stdout: the PLAINTEXT bootstrap, and the secured one with --security."""

    bootstrap: str
    secure_bootstrap: Optional[str]

    def lines(self) -> List[str]:
        out = [f"secure.bootstrap.servers={self.secure_bootstrap}"] if self.secure_bootstrap else []
        return out + [f"bootstrap.servers={self.bootstrap}"]


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


@contextmanager
def _flock(path: Path) -> Iterator[None]:
    """An exclusive flock on `path` for the block (the file descriptor is not inherited by children)."""
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        yield


def _proc_state(pid: int) -> Optional[str]:
    """The one-letter state of /proc/PID/stat (the field after the parenthesised command name)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2:].split(" ", 1)[0]


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


class LocalKafka:
    """One cluster's state dir, and every operation on it.

    Settings come from `env` (default: os.environ) as scripts/kafka documents them: RAFKA_KAFKA_STATE,
    RAFKA_KAFKA_PORT, RAFKA_CACHE, RAFKA_KAFKA_TIMEOUT, RAFKA_KAFKA_HEAP, RAFKA_KAFKA_JVM_OPTS,
    JAVA_HOME/JAVA, JAVAC; `state` overrides RAFKA_KAFKA_STATE. Progress notes go to `log` (stderr
    by default). Failures raise KafkaError, bad arguments UsageError.
    """

    def __init__(self, state: Optional[os.PathLike | str] = None, env: Optional[Mapping[str, str]] = None,
                 log: Optional[Callable[[str], None]] = None):
        self.env = dict(os.environ if env is None else env)
        e = self.env
        self.state = Path(state if state is not None else (e.get("RAFKA_KAFKA_STATE") or DEFAULT_STATE))
        home = e.get("HOME") or os.path.expanduser("~")
        self.cache = Path(e.get("RAFKA_CACHE") or os.path.join(home, ".cache", "rafka"))
        timeout = e.get("RAFKA_KAFKA_TIMEOUT") or "90"
        if not is_uint(timeout):
            raise UsageError(f"RAFKA_KAFKA_TIMEOUT must be whole seconds, got '{timeout}'")
        self.ready_timeout = int(timeout)
        self.heap = e.get("RAFKA_KAFKA_HEAP") or "1g"
        self.jvm_opts = (e.get("RAFKA_KAFKA_JVM_OPTS") or "").split()
        java_home = e.get("JAVA_HOME")
        self.java = e.get("JAVA") or (f"{java_home}/bin/java" if java_home else "") or "java"
        self.javac = e.get("JAVAC") or (f"{java_home}/bin/javac" if java_home else "") or "javac"
        self.log = log or _stderr
        self.port_setting = e.get("RAFKA_KAFKA_PORT") or None

    # -------------------------------------------------------------------------------------
    # Java and the jar cache

    def java_major(self) -> Optional[str]:
        try:
            p = subprocess.run([self.java, "-version"], capture_output=True, text=True, env=self.env)
        except OSError:
            return None
        if p.returncode != 0:
            return None
        first = ((p.stderr or p.stdout).splitlines() or [""])[0]
        m = re.search(r'version "([^"]+)"', first)
        v = m.group(1) if m else first
        if v.startswith("1."):
            v = v[2:]
        return re.split(r"[.+-]", v, maxsplit=1)[0]

    def check_java(self, version: str) -> None:
        want = 11 if version.startswith("3.") else 17
        if shutil.which(self.java, path=self.env.get("PATH")) is None:
            raise KafkaError(f"java not found (JAVA={self.java})",
                             f"install a JDK {want}+ (Debian: apt-get install openjdk-17-jdk-headless) or set JAVA_HOME")
        major = self.java_major()
        if major is None:
            raise KafkaError(f"'{self.java} -version' failed", "check the JDK installation or set JAVA_HOME")
        if not is_uint(major):
            raise KafkaError(f"cannot read the java version from '{self.java} -version'")
        if int(major) < want:
            raise KafkaError(f"Kafka {version} needs Java {want} or newer, but {self.java} is Java {major}",
                             "install a newer JDK (apt-get install openjdk-17-jdk-headless) and set JAVA_HOME")

    def libs_dir(self, version: str) -> Path:
        return self.cache / f"kafka-{version}" / "libs"

    def classpath(self, version: str) -> str:
        """The Java classpath of the Kafka jars (broker, clients, tools) of `version`."""
        return f"{self.libs_dir(version)}/*"

    def fetch(self, version: str) -> Path:
        """Makes sure the jars of `version` are in the cache (one fetch per version at a time)."""
        d = self.cache / f"kafka-{version}"
        libs = d / "libs"
        if (libs / ".complete").is_file():
            return libs
        if not re.fullmatch(r"[0-9]+\.[0-9]+\.[0-9]+", version):
            raise KafkaError(f"'{version}' is not a Kafka version (expected e.g. {DEFAULT_VERSION} or 3.9.1)")
        mvn = shutil.which("mvn", path=self.env.get("PATH"))
        if mvn is None:
            raise KafkaError(f"mvn not found: it fetches Kafka {version} from Maven Central",
                             "install Maven (Debian: apt-get install maven)")
        d.mkdir(parents=True, exist_ok=True)
        with _flock(d / ".lock"):
            if (libs / ".complete").is_file():
                return libs
            self.log(f"fetching Kafka {version} and its dependencies from Maven Central into {libs} ...")
            (d / "pom.xml").write_text(pom_text(version))
            tmp = Path(f"{libs}.tmp")
            shutil.rmtree(tmp, ignore_errors=True)
            with open(d / "fetch.log", "w") as flog:
                code = subprocess.run([mvn, "-B", "-q", "-Dstyle.color=never", "-f", str(d / "pom.xml"),
                                       "dependency:copy-dependencies", f"-DoutputDirectory={tmp}", "-DincludeScope=runtime"],
                                      stdout=flog, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=self.env).returncode
            if code != 0:
                errors = [l for l in (d / "fetch.log").read_text(errors="replace").splitlines() if "ERROR" in l][:5]
                for line in errors:
                    print(line, file=sys.stderr)
                raise KafkaError(f"Maven could not fetch Kafka {version} (full log: {d / 'fetch.log'})",
                                 f"is Maven Central reachable (proxy, ~/.m2/settings.xml)? Is {version} a released Kafka version?")
            if not (tmp / f"kafka_2.13-{version}.jar").is_file():
                raise KafkaError(f"Maven finished but kafka_2.13-{version}.jar is missing from {tmp}")
            (tmp / ".complete").touch()
            shutil.rmtree(libs, ignore_errors=True)
            tmp.rename(libs)
            self.log(f"Kafka {version} cached in {libs}")
        return libs

    def tool_classes(self, version: str) -> Path:
        """KafkaHarnessTool compiled once per (source, version) into the cache."""
        digest = hashlib.sha256(HARNESS_TOOL.read_bytes() + version.encode()).hexdigest()[:16]
        out = self.cache / f"tool-{digest}"
        if (out / ".complete").is_file():
            return out
        if shutil.which(self.javac, path=self.env.get("PATH")) is None:
            raise KafkaError("javac not found: a JDK (not just a JRE) is needed", "apt-get install openjdk-17-jdk-headless")
        self.cache.mkdir(parents=True, exist_ok=True)
        with _flock(Path(f"{out}.lock")):
            if (out / ".complete").is_file():
                return out
            tmp = Path(f"{out}.tmp")
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True)
            code = subprocess.run([self.javac, "-nowarn", "-encoding", "UTF-8", "-cp", self.classpath(version), "-d", str(tmp),
                                   str(HARNESS_TOOL)], stdout=2, env=self.env).returncode  # javac's output on our stderr
            if code != 0:
                raise KafkaError(f"compiling {HARNESS_TOOL} failed")
            (tmp / ".complete").touch()
            shutil.rmtree(out, ignore_errors=True)
            tmp.rename(out)
        return out

    def _tool_jvm(self, version: str, logdir: Path, classpath: str) -> List[str]:
        return [self.java, "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Djava.awt.headless=true",
                log_opt(version, logdir, "WARN"), "-cp", classpath]

    def java_cmd(self, version: str, logdir: Path, main: str, *args: str) -> List[str]:
        """A short-lived tool JVM on the Kafka classpath running `main`."""
        return [*self._tool_jvm(version, logdir, self.classpath(version)), main, *args]

    def tool_cmd(self, version: str, logdir: Path, *args: str) -> List[str]:
        """The harness tool (probe, await-node, consume)."""
        classes = self.tool_classes(version)
        return [*self._tool_jvm(version, logdir, f"{classes}:{self.classpath(version)}"), "KafkaHarnessTool", *args]

    def _run(self, cmd: Sequence[str], capture: bool, timeout: Optional[float] = None, **kw) -> subprocess.CompletedProcess:
        return subprocess.run(list(cmd), env=self.env, capture_output=capture, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL, **kw)

    # -------------------------------------------------------------------------------------
    # Cluster state

    def load_state(self) -> Optional[ClusterState]:
        path = self.state / "cluster.env"
        try:
            text = path.read_text()
        except FileNotFoundError:
            return None
        return ClusterState.parse(text, path)

    def require_cluster(self) -> ClusterState:
        s = self.load_state()
        if s is None:
            raise KafkaError(f"no cluster in {self.state}",
                             "start one with 'scripts/kafka up' (or set RAFKA_KAFKA_STATE to the state dir of the one you mean)")
        return s

    def node_dir(self, node: int) -> Path:
        return self.state / f"node-{node}"

    def node_pid(self, node: int) -> Optional[int]:
        """The pid of that node's broker if it is alive and is ours (not a reused pid, not a zombie)."""
        d = self.node_dir(node)
        try:
            text = (d / "pid").read_text().strip()
        except OSError:
            return None
        if not is_uint(text):
            return None
        pid = int(text)
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            return None
        if f"{d}/server.properties" not in cmdline:
            return None
        state = _proc_state(pid)
        if state is None or state == "Z":
            return None
        return pid

    def node_state(self, node: int) -> str:
        pid = self.node_pid(node)
        if pid is None:
            return "down"
        return "paused" if _proc_state(pid) == "T" else "running"

    def status_lines(self, s: ClusterState) -> List[str]:
        lines = [f"cluster: {s.brokers} node(s), Kafka {s.version}, state dir {self.state}"]
        for n in s.nodes:
            pid = self.node_pid(n)
            role = (f"controller 127.0.0.1:{s.controller_port_of(n)}" if n <= s.brokers
                    else f"broker only, replaced node {s.slot(n)}")
            lines.append(f"node {n}: {self.node_state(n):<8} pid {pid if pid is not None else '-':<8} "
                         f"broker 127.0.0.1:{s.broker_port(n)} {role}")
        return lines

    def _check_node_id(self, s: ClusterState, node: str) -> int:
        if not (is_uint(node) and int(node) in s.nodes):
            retired = is_uint(node) and self.node_dir(int(node)).is_dir()
            raise KafkaError(f"{'node ' + node + ' was replaced' if retired else 'no node ' + repr(node)} in the cluster of {self.state}",
                             f"node ids are {','.join(map(str, s.nodes))}")
        return int(node)

    def log_tail(self, node: int) -> None:
        path = self.node_dir(node) / "server.log"
        try:
            lines = path.read_text(errors="replace").splitlines()
        except OSError:
            lines = None
        # The first errors say why a broker stopped; the tail of a shutdown does not.
        error = re.compile(r"^\[[^]]*\] (ERROR|FATAL)")
        if lines and any(error.match(l) for l in lines):
            self.log(f"---- first errors in {path} ----")
            shown: set = set()
            for i, l in enumerate(lines):
                if error.match(l):
                    shown.update(range(i, min(i + 4, len(lines))))
            out: List[str] = []
            for i in sorted(shown):
                if out and i - 1 not in shown:
                    out.append("--")  # as grep -A3 separates groups
                out.append(lines[i])
            self._log_lines(out[:20])
        self.log(f"---- last lines of {path} ----")
        if lines is None:
            self.log("(no log)")
        else:
            for l in lines[-25:]:
                self.log(l)
        self.log("----")

    def any_node_down(self, s: ClusterState) -> Optional[int]:
        return next((n for n in s.nodes if self.node_pid(n) is None), None)

    # -------------------------------------------------------------------------------------
    # Starting and stopping nodes

    def start_node(self, s: ClusterState, node: int) -> int:
        """Starts one broker JVM in its own session (it outlives us and ignores our Ctrl-C) and records its pid."""
        d = self.node_dir(node)
        (d / "pid").unlink(missing_ok=True)
        cmd = [self.java, f"-Xms{self.heap}", f"-Xmx{self.heap}", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20",
               "-XX:+ExitOnOutOfMemoryError", "-Djava.awt.headless=true", log_opt(s.version, self.state, "INFO"),
               *self.jvm_opts, "-cp", self.classpath(s.version), "kafka.Kafka", str(d / "server.properties")]
        with open(d / "server.log", "ab") as out:
            try:
                p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                     start_new_session=True, env=self.env)
            except OSError as e:
                raise KafkaError(f"node {node} did not start ({e})")
        (d / "pid").write_text(f"{p.pid}\n")
        # Popen may return while exec is still setting up the new image (vfork), when
        # /proc/PID/cmdline is still empty: return once the pid is seen running this node's
        # config, so that node_pid() is true of a broker we just started.
        for _ in range(50):
            if p.poll() is not None or self.node_pid(node) == p.pid:
                break
            time.sleep(0.02)
        return p.pid

    def stop_node(self, node: int, grace_s: float) -> None:
        """TERM, wait, then KILL; never anything but the recorded pid."""
        pid = self.node_pid(node)
        pidfile = self.node_dir(node) / "pid"
        if pid is None:
            pidfile.unlink(missing_ok=True)
            return
        for sig in (signal.SIGCONT, signal.SIGTERM):  # a paused JVM cannot act on TERM
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        if not self._wait_gone(node, grace_s):
            self.log(f"node {node} (pid {pid}) still running after {grace_s:g}s, sending KILL")
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self._wait_gone(node, 5)
        pidfile.unlink(missing_ok=True)

    def _wait_gone(self, node: int, seconds: float) -> bool:
        for _ in range(int(seconds * 10)):
            if self.node_pid(node) is None:
                return True
            time.sleep(0.1)
        return self.node_pid(node) is None

    def _format_cmd(self, s: ClusterState, node: int) -> List[str]:
        scram = []
        if s.security:
            for user, password in SASL_USERS:
                for mech in ("SCRAM-SHA-256", "SCRAM-SHA-512"):
                    scram += ["--add-scram", f"{mech}=[name={user},password={password}]"]
        return self.java_cmd(s.version, self.state, "kafka.tools.StorageTool", "format", "-t", s.cluster_id, "-c",
                             str(self.node_dir(node) / "server.properties"), *scram)

    def _port_in_use(self, port: int) -> bool:
        ss = shutil.which("ss")
        if ss:
            # TIME-WAIT sockets left by a stopped cluster do not block a new bind (SO_REUSEADDR).
            p = subprocess.run([ss, "-Htan", "exclude", "time-wait", f"sport = :{port}"], capture_output=True, text=True)
            return bool(p.stdout.strip())
        return _port_open(port)

    def _port_owner(self, port: int) -> str:
        ss = shutil.which("ss")
        if not ss:
            return ""
        out = subprocess.run([ss, "-Hltnp", f"sport = :{port}"], capture_output=True, text=True).stdout
        m = re.search(r'users:\(\("([^"]+)",pid=([0-9]+)', out)
        return f" (held by {m.group(1)}, pid {m.group(2)})" if m else ""

    def _wait_ready(self, s: ClusterState, deadline: float) -> None:
        """Listeners open, then a topic replicated to every broker can be created and deleted."""
        cleanup = "'scripts/kafka down' cleans up"
        for n in range(1, s.brokers + 1):
            port = s.broker_port(n)
            while not _port_open(port):
                if self.node_pid(n) is None:
                    self.log_tail(n)
                    raise KafkaError(f"broker {n} (Kafka {s.version}, port {port}) exited during startup",
                                     f"see {self.node_dir(n)}/server.log; {cleanup}")
                if time.time() >= deadline:
                    self.log_tail(n)
                    raise KafkaError(f"broker {n} did not open port {port} within {self.ready_timeout}s",
                                     f"see {self.node_dir(n)}/server.log; {cleanup}")
                time.sleep(0.2)
        remaining = max(1, int(deadline - time.time()))
        # Probe while watching the brokers, so that one dying after opening its port (a listener
        # that cannot bind, a bad setting) fails at once rather than after the whole timeout.
        probe = subprocess.Popen(self.tool_cmd(s.version, self.state, "probe", s.bootstrap, str(s.brokers), str(remaining)),
                                 env=self.env, stdin=subprocess.DEVNULL)
        while probe.poll() is None:
            dead = self.any_node_down(s)
            if dead is not None:
                probe.terminate()
                probe.wait()
                self.log_tail(dead)
                raise KafkaError(f"broker {dead} (Kafka {s.version}) exited during startup",
                                 f"see {self.node_dir(dead)}/server.log; {cleanup}")
            time.sleep(0.2)
        if probe.returncode != 0:
            self.log_tail(1)
            raise KafkaError(f"the cluster did not accept a topic creation within {self.ready_timeout}s",
                             f"see {self.state}/node-*/server.log; {cleanup}")

    # -------------------------------------------------------------------------------------
    # Commands

    def up(self, brokers: Optional[int] = None, version: Optional[str] = None, port: Optional[int] = None,
           settings: Sequence[str] = (), security: Optional[str] = None,
           controller_port: Optional[int] = None) -> UpResult:
        """Starts a cluster, or finds the one running from this state dir with these brokers, version and port.

        `port` defaults to RAFKA_KAFKA_PORT, then 19092; `settings` are extra broker settings
        (key=value); `security` adds a second listener on port+100 (sasl_plaintext, ssl, sasl_ssl);
        `controller_port` (default port+1000) is the first controller's port, for a caller confined
        to a port range.
        """
        if port is None and self.port_setting is not None:
            if not is_uint(self.port_setting):
                raise UsageError(f"port must be a number between 1024 and {MAX_PORT}, got '{self.port_setting}'")
            port = int(self.port_setting)
        if brokers not in (None, 1, 3):
            raise UsageError(f"--brokers must be 1 or 3, got '{brokers}'")
        if port is not None and not 1024 <= port <= MAX_PORT:
            raise UsageError(f"port must be a number between 1024 and {MAX_PORT}, got '{port}'")
        if security and security not in SECURITY_PROTOCOLS:
            raise UsageError(f"--security takes sasl_plaintext, ssl or sasl_ssl, got '{security}'")
        for kv in settings:
            if "=" not in kv or re.search(r"\s", kv):
                raise UsageError(f"--set takes key=value without spaces, got '{kv}'")

        self.state.mkdir(parents=True, exist_ok=True)
        with _flock(self.state / ".lock"):
            old = self.load_state()
            if old is not None:
                running = sum(1 for n in old.nodes if self.node_pid(n) is not None)
                if running:
                    if ((brokers is not None and brokers != old.brokers) or (version and version != old.version)
                            or (port is not None and port != old.port)):
                        self._log_lines(self.status_lines(old))
                        raise KafkaError(f"a different cluster is already running from {self.state}",
                                         "stop it with 'scripts/kafka down', or start a second one beside it with another "
                                         "RAFKA_KAFKA_STATE and --port")
                    if running < old.brokers:
                        self._log_lines(self.status_lines(old))
                        raise KafkaError(f"the cluster in {self.state} is only partly running",
                                         "bring nodes back with 'scripts/kafka restart ID', or start over with "
                                         "'scripts/kafka down' then 'up'")
                    self.log(f"cluster already running from {self.state}")
                    self._log_lines(self.status_lines(old))
                    return UpResult(old.bootstrap, old.secure_bootstrap)
                self.log(f"found a stopped cluster in {self.state}; starting a new one")
            return self._start_cluster(brokers or 1, version or DEFAULT_VERSION, port or DEFAULT_PORT, settings,
                                       security or "", controller_port)

    def _log_lines(self, lines: Sequence[str]) -> None:
        for line in lines:
            self.log(line)

    def _start_cluster(self, brokers: int, version: str, port: int, settings: Sequence[str], security: str,
                       controller_port: Optional[int] = None) -> UpResult:
        s = ClusterState(brokers, version, port, controller_port or port + CONTROLLER_OFFSET, "",
                         ",".join(f"127.0.0.1:{port + n}" for n in range(brokers)), security)
        self.check_java(version)
        # A --set listeners=... replaces the secured listener's port: P+100 is then not ours to
        # check (it may be another cluster's broker port).
        own_listeners = any(kv.split("=", 1)[0].strip() == "listeners" for kv in settings)
        for n in range(1, brokers + 1):
            secure = [s.broker_port(n) + SECURE_OFFSET] if security and not own_listeners else []
            ports = [s.broker_port(n), s.controller_port_of(n)] + secure
            for p in ports:
                if self._port_in_use(p):
                    raise KafkaError(
                        f"port {p} is already in use{self._port_owner(p)}",
                        f"if it is a cluster of ours: 'scripts/kafka status' / 'scripts/kafka down' (RAFKA_KAFKA_STATE={self.state})",
                        f"or choose other ports: scripts/kafka up --port P (or RAFKA_KAFKA_PORT=P); brokers use P.., "
                        f"controllers P+{CONTROLLER_OFFSET}..")
        self.fetch(version)

        started = time.monotonic()
        # Wipe everything from an earlier cluster in this state dir (its pids are all dead).
        for entry in self.state.iterdir():
            if entry.name == ".lock":
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
        s.cluster_id = new_cluster_id()
        write_log_configs(version, self.state)
        if security.endswith("ssl"):
            make_test_ca(self.state / "tls")
        for n in range(1, brokers + 1):
            self.node_dir(n).mkdir(parents=True, exist_ok=True)
            (self.node_dir(n) / "server.properties").write_text(server_properties(s, n, self.state, settings))
        # Format all nodes at once: each is a JVM start, and there are two cores to use.
        formats = []
        for n in range(1, brokers + 1):
            with open(self.node_dir(n) / "format.log", "w") as flog:
                formats.append(subprocess.Popen(self._format_cmd(s, n), stdout=flog, stderr=subprocess.STDOUT,
                                                stdin=subprocess.DEVNULL, env=self.env))
        failed = False
        for n, fmt in enumerate(formats, start=1):
            if fmt.wait() != 0:
                self.log(f"---- {self.node_dir(n)}/format.log ----")
                self._log_lines((self.node_dir(n) / "format.log").read_text(errors="replace").splitlines())
                failed = True
        if failed:
            raise KafkaError("formatting KRaft storage failed (see above)")

        (self.state / "cluster.env").write_text(s.env_text())
        for n in range(1, brokers + 1):
            self.start_node(s, n)
        self.log(f"started {brokers} node(s) of Kafka {version} from {self.state}, waiting until ready ...")
        self._wait_ready(s, time.time() + self.ready_timeout)
        ms = int((time.monotonic() - started) * 1000)
        self.log(f"cluster ready in {ms // 1000}.{ms % 1000:03d} s")
        self._log_lines(self.status_lines(s))
        return UpResult(s.bootstrap, s.secure_bootstrap)

    def down(self) -> None:
        """Stops the brokers started from this state dir and removes their data (logs stay)."""
        if not self.state.is_dir():
            self.log(f"nothing to stop: no state dir {self.state}")
            return
        with _flock(self.state / ".lock"):
            s = self.load_state()
            if s is None:
                self.log(f"nothing to stop: no cluster in {self.state}")
                return
            # Stop all nodes together: stopped one by one, the last ones lose their quorum and
            # linger in controlled shutdown.
            # Every node dir, replaced nodes' included.
            every = sorted({*s.nodes, *(int(d.name[5:]) for d in self.state.glob("node-*") if is_uint(d.name[5:]))})
            threads = [threading.Thread(target=self.stop_node, args=(n, 10)) for n in every]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            for n in every:
                pid = self.node_pid(n)
                if pid is not None:
                    raise KafkaError(f"node {n} is still running (pid {pid}); kill it by that pid")
                shutil.rmtree(self.node_dir(n) / "data", ignore_errors=True)
            (self.state / "cluster.env").unlink(missing_ok=True)
            self.log(f"stopped {s.brokers} node(s) and removed their data (logs kept in {self.state}/node-*/server.log)")

    def bootstrap(self) -> str:
        """The bootstrap string of the running cluster."""
        s = self.require_cluster()
        if all(self.node_pid(n) is None for n in s.nodes):
            raise KafkaError(f"the cluster in {self.state} is not running", "start it with 'scripts/kafka up'")
        return s.bootstrap

    def pids(self) -> List[int]:
        """The pids of the running (or paused) brokers of this state dir."""
        s = self.load_state()
        if s is None:
            return []
        return [p for p in (self.node_pid(n) for n in s.nodes) if p is not None]

    def _running_node(self, node: str | int) -> tuple[ClusterState, int, int]:
        s = self.require_cluster()
        n = self._check_node_id(s, str(node))
        pid = self.node_pid(n)
        if pid is None:
            raise KafkaError(f"node {n} is not running", "see 'scripts/kafka status'")
        return s, n, pid

    def kill(self, node: str | int) -> None:
        """SIGKILL one broker."""
        _, n, pid = self._running_node(node)
        os.kill(pid, signal.SIGKILL)
        self._wait_gone(n, 5)
        (self.node_dir(n) / "pid").unlink(missing_ok=True)
        self.log(f"node {n} (pid {pid}) killed")

    def pause(self, node: str | int) -> None:
        """SIGSTOP one broker; returns once every thread of it has stopped."""
        _, n, pid = self._running_node(node)
        os.kill(pid, signal.SIGSTOP)
        # SIGSTOP reaches a JVM's threads one by one: return only once every thread has stopped,
        # so that a test's next step meets a broker that answers nothing.
        for _ in range(100):
            states = [_proc_state(int(t.name)) for t in Path(f"/proc/{pid}/task").glob("*")]
            if all(st in (None, "t", "T") for st in states):
                break
            time.sleep(0.02)
        self.log(f"node {n} (pid {pid}) paused")

    def resume(self, node: str | int) -> None:
        """SIGCONT one broker."""
        _, n, pid = self._running_node(node)
        os.kill(pid, signal.SIGCONT)
        self.log(f"node {n} (pid {pid}) resumed")

    def restart(self, node: str | int) -> None:
        """Stops (if running) and starts one broker; returns once it is registered and back in the ISR of
        every partition it replicates."""
        s = self.require_cluster()
        n = self._check_node_id(s, str(node))
        port = s.broker_port(n)
        deadline = time.time() + self.ready_timeout
        with _flock(self.state / ".lock"):
            self.stop_node(n, 20)
            self.start_node(s, n)
            while not _port_open(port):
                if self.node_pid(n) is None:
                    self.log_tail(n)
                    raise KafkaError(f"node {n} exited while restarting")
                if time.time() >= deadline:
                    self.log_tail(n)
                    raise KafkaError(f"node {n} did not open port {port} within {self.ready_timeout}s")
                time.sleep(0.2)
            remaining = max(1, int(deadline - time.time()))
            code = self._run(self.tool_cmd(s.version, self.state, "await-node", s.bootstrap, str(n), str(remaining)),
                             capture=False).returncode
            if code != 0:
                self.log_tail(n)
                raise KafkaError(f"node {n} restarted but did not rejoin within {self.ready_timeout}s")
            self.log(f"node {n} is back (pid {self.node_pid(n)}) and in sync")

    def replace(self, node: str | int, new_id: str | int) -> None:
        """Retires node `node` for good, as a lost machine: SIGKILL, its data left behind, its controller
        a missing voter (two of three remain a quorum). Starts a broker-only node `new_id`, with
        empty storage, on the retired node's broker port, and returns once it is registered. The
        partitions the old node held keep it in their replica lists: move them with `topic reassign`."""
        s = self.require_cluster()
        n = self._check_node_id(s, str(node))
        used = {*range(1, s.brokers + 1), *s.nodes,
                *(int(d.name[5:]) for d in self.state.glob("node-*") if is_uint(d.name[5:]))}
        if not (is_uint(str(new_id)) and int(new_id) not in used and 0 < int(new_id) < 2**31):
            raise KafkaError(f"--new-id {new_id!r} is not a free node id",
                             f"give a positive number other than the ids used so far: {','.join(map(str, sorted(used)))}")
        new = int(new_id)
        deadline = time.time() + self.ready_timeout
        with _flock(self.state / ".lock"):
            pid = self.node_pid(n)
            if pid is not None:
                os.kill(pid, signal.SIGKILL)
                self._wait_gone(n, 5)
            (self.node_dir(n) / "pid").unlink(missing_ok=True)
            s.nodes[s.nodes.index(n)] = new
            d = self.node_dir(new)
            d.mkdir(parents=True)
            # The settings `up --set` gave the cluster carry over to the new node.
            old_props = (self.node_dir(n) / "server.properties").read_text()
            extra = old_props.partition("# Added with up --set\n")[2].split()
            (d / "server.properties").write_text(server_properties(s, new, self.state, extra))
            with open(d / "format.log", "w") as flog:
                if subprocess.run(self._format_cmd(s, new), stdout=flog, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL, env=self.env).returncode != 0:
                    raise KafkaError(f"formatting the storage of node {new} failed", f"see {d}/format.log")
            (self.state / "cluster.env").write_text(s.env_text())
            self.log(f"node {n} (pid {pid if pid is not None else '-'}) retired; starting node {new} on port {s.broker_port(new)}")
            self.start_node(s, new)
            while not _port_open(s.broker_port(new)):
                if self.node_pid(new) is None:
                    self.log_tail(new)
                    raise KafkaError(f"node {new} exited while starting", f"see {d}/server.log")
                if time.time() >= deadline:
                    self.log_tail(new)
                    raise KafkaError(f"node {new} did not open port {s.broker_port(new)} within {self.ready_timeout}s")
                time.sleep(0.2)
            remaining = max(1, int(deadline - time.time()))
            if self._run(self.tool_cmd(s.version, self.state, "await-node", s.bootstrap, str(new), str(remaining)),
                         capture=False).returncode != 0:
                self.log_tail(new)
                raise KafkaError(f"node {new} started but did not register within {self.ready_timeout}s")
            self.log(f"node {new} replaced node {n} (pid {self.node_pid(new)})")

    def _target(self, bootstrap: Optional[str]) -> tuple[str, str, Path]:
        """(bootstrap, version, log config dir) for the data commands: this state dir's cluster, or `bootstrap`."""
        if bootstrap:
            s = self.load_state()
            version = s.version if s else DEFAULT_VERSION
            logdir = self.cache / f"kafka-{version}"
            self.check_java(version)
            self.fetch(version)
            logdir.mkdir(parents=True, exist_ok=True)
            write_log_configs(version, logdir)
            return bootstrap, version, logdir
        s = self.require_cluster()
        return s.bootstrap, s.version, self.state

    def topic_command(self, args: Sequence[str], bootstrap: Optional[str] = None, capture: bool = True,
                      timeout: Optional[float] = None) -> subprocess.CompletedProcess:
        """Kafka's TopicCommand with `args` (e.g. ["--list"]) against this cluster or `bootstrap`."""
        target, version, logdir = self._target(bootstrap)
        return self._run(self.java_cmd(version, logdir, "org.apache.kafka.tools.TopicCommand", "--bootstrap-server", target,
                                       *args), capture=capture, timeout=timeout)

    def create_topic(self, name: str, partitions: int, replication_factor: Optional[int] = None,
                     configs: Optional[Mapping[str, str]] = None, bootstrap: Optional[str] = None) -> None:
        """Creates a topic; raises KafkaError with TopicCommand's output if it fails."""
        args = ["--create", "--topic", name, "--partitions", str(partitions)]
        if replication_factor is not None:
            args += ["--replication-factor", str(replication_factor)]
        for k, v in (configs or {}).items():
            args += ["--config", f"{k}={v}"]
        self._checked(self.topic_command(args, bootstrap), f"topic create {name}")

    def reassign_partition(self, name: str, partition: int, replicas: Sequence[int], bootstrap: Optional[str] = None,
                           timeout_s: float = 90) -> None:
        """Moves one partition onto `replicas` (the first is the preferred leader) with Kafka's
        ReassignPartitionsCommand, and waits until Kafka says the move is complete."""
        target, version, logdir = self._target(bootstrap)
        plan = {"version": 1, "partitions": [{"topic": name, "partition": partition, "replicas": list(replicas)}]}
        plan_file = logdir / f"reassign-{name}-{partition}-{os.getpid()}.json"
        plan_file.write_text(json.dumps(plan))
        tool = "org.apache.kafka.tools.reassign.ReassignPartitionsCommand"
        try:
            base = self.java_cmd(version, logdir, tool, "--bootstrap-server", target, "--reassignment-json-file", str(plan_file))
            self._checked(self._run([*base, "--execute"], capture=True), f"topic reassign {name}")
            deadline = time.monotonic() + timeout_s
            while True:
                out = self._checked(self._run([*base, "--verify"], capture=True), f"topic reassign {name} --verify").stdout
                if "is completed" in out and "still in progress" not in out:
                    return
                if time.monotonic() > deadline:
                    raise KafkaError(f"topic reassign {name}: not complete after {timeout_s:.0f} s:\n{out}")
                time.sleep(0.5)
        finally:
            plan_file.unlink(missing_ok=True)

    def client_quota(self, setting: Optional[str], bootstrap: Optional[str] = None) -> str:
        """Kafka's ConfigCommand: sets `setting` (e.g. "producer_byte_rate=1024") as the default
        quota of every client, or with None removes producer_byte_rate from it."""
        target, version, logdir = self._target(bootstrap)
        change = ["--add-config", setting] if setting else ["--delete-config", "producer_byte_rate"]
        cmd = self.java_cmd(version, logdir, "kafka.admin.ConfigCommand", "--bootstrap-server", target, "--alter",
                            *change, "--entity-type", "clients", "--entity-default")
        return self._checked(self._run(cmd, capture=True), "quota").stdout

    def delete_topic(self, name: str, bootstrap: Optional[str] = None) -> subprocess.CompletedProcess:
        """Deletes a topic; returns TopicCommand's result (deleting a missing topic is not an error here)."""
        return self.topic_command(["--delete", "--topic", name], bootstrap)

    def describe_topic(self, name: str, bootstrap: Optional[str] = None) -> str:
        return self._checked(self.topic_command(["--describe", "--topic", name], bootstrap), f"topic describe {name}").stdout

    def consume(self, topic: str, max_records: Optional[int] = None, timeout_s: int = 10, read_committed: bool = False,
                bootstrap: Optional[str] = None, capture: bool = True,
                run_timeout: Optional[float] = None) -> subprocess.CompletedProcess:
        """Kafka's own consumer reading `topic` from the beginning, one JSON object per record on stdout."""
        target, version, logdir = self._target(bootstrap)
        cmd = self.tool_cmd(version, logdir, "consume", target, topic, str(-1 if max_records is None else max_records),
                            str(timeout_s), "read_committed" if read_committed else "read_uncommitted")
        return self._run(cmd, capture=capture, timeout=run_timeout)

    def group_offsets(self, group: str, bootstrap: Optional[str] = None) -> tuple[int, List[dict]]:
        """The committed offsets of consumer group `group`, read by Kafka's ConsumerGroupCommand
        (kafka-consumer-groups --describe --offsets): (exit code, [{"topic", "partition", "offset"}]).
        A group that does not exist, or a partition without a committed offset, gives no entry."""
        target, version, logdir = self._target(bootstrap)
        p = self._run(self.java_cmd(version, logdir, "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
                                    "--bootstrap-server", target, "--describe", "--offsets", "--group", group), capture=True)
        text = (p.stdout or "") + (p.stderr or "")
        if "does not exist" in text:
            return 0, []
        if p.returncode != 0:
            _stderr(text.strip())
            return p.returncode, []
        out: List[dict] = []
        columns: List[str] = []
        for line in (p.stdout or "").splitlines():
            fields = line.split()
            if fields[:1] == ["GROUP"]:
                columns = fields
            elif columns and len(fields) >= len(columns) - 3 and fields[0] == group:
                row = dict(zip(columns, fields))
                offset = row.get("CURRENT-OFFSET", "-")
                if offset != "-":
                    out.append({"topic": row["TOPIC"], "partition": int(row["PARTITION"]), "offset": int(offset)})
        out.sort(key=lambda r: (r["topic"], r["partition"]))
        return 0, out

    def _checked(self, p: subprocess.CompletedProcess, what: str) -> subprocess.CompletedProcess:
        if p.returncode != 0:
            raise KafkaError(f"{what} exited {p.returncode}: {(p.stderr or p.stdout or '').strip()[-3000:]}")
        return p


# ---------------------------------------------------------------------------------------------
# Files a cluster is made of


def pom_text(version: str) -> str:
    if version.startswith("3."):
        # Kafka 3.x logs through slf4j 1.7 to reload4j (log4j 1.x API).
        logging = """
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-reload4j</artifactId><version>1.7.36</version></dependency>
    <dependency><groupId>ch.qos.reload4j</groupId><artifactId>reload4j</artifactId><version>1.2.25</version></dependency>"""
    else:
        # Kafka 4.x uses log4j2 but its POMs bring no backend. They depend on slf4j-api 1.7.36,
        # so the binding that matches is log4j-slf4j-impl (slf4j 1.x), as in Kafka's own tarball.
        logging = """
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-core</artifactId><version>2.24.3</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j-impl</artifactId><version>2.24.3</version></dependency>"""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<!-- Generated by rafka scripts/kafka: the classpath of a local Kafka {version} broker and its tools. -->
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.rafka</groupId>
  <artifactId>kafka-classpath</artifactId>
  <version>{version}</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>{version}</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-clients</artifactId><version>{version}</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-tools</artifactId><version>{version}</version></dependency>{logging}
  </dependencies>
  <build>
    <plugins>
      <plugin>
        <groupId>org.apache.maven.plugins</groupId>
        <artifactId>maven-dependency-plugin</artifactId>
        <version>3.6.1</version>
      </plugin>
    </plugins>
  </build>
</project>
"""


def write_log_configs(version: str, d: Path) -> None:
    """Console logging to stderr at INFO (brokers) and WARN (tool JVMs), for log4j 1 (3.x) or log4j2 (4.x)."""
    for level in ("INFO", "WARN"):
        if version.startswith("3."):
            (d / f"log4j-{level}.properties").write_text(
                f"log4j.rootLogger={level}, out\n"
                "log4j.appender.out=org.apache.log4j.ConsoleAppender\n"
                "log4j.appender.out.Target=System.err\n"
                "log4j.appender.out.layout=org.apache.log4j.PatternLayout\n"
                "log4j.appender.out.layout.ConversionPattern=[%d] %p %m (%c)%n\n")
        else:
            (d / f"log4j2-{level}.properties").write_text(
                "status = warn\n"
                "appender.out.type = Console\n"
                "appender.out.name = OUT\n"
                "appender.out.target = SYSTEM_ERR\n"
                "appender.out.layout.type = PatternLayout\n"
                "appender.out.layout.pattern = [%d] %p %m (%c)%n\n"
                f"rootLogger.level = {level}\n"
                "rootLogger.appenderRef.out.ref = OUT\n")


def log_opt(version: str, d: Path, level: str) -> str:
    """The JVM flag that points the logging backend at its config."""
    if version.startswith("3."):
        return f"-Dlog4j.configuration=file:{d}/log4j-{level}.properties"
    return f"-Dlog4j2.configurationFile={d}/log4j2-{level}.properties"


def new_cluster_id() -> str:
    """A Kafka Uuid as text: 16 random bytes, URL-safe base64 without padding; Kafka refuses ids starting with '-'."""
    while True:
        cid = base64.urlsafe_b64encode(os.urandom(16)).decode().rstrip("=")
        if not cid.startswith("-"):
            return cid


def server_properties(s: ClusterState, node: int, state: Path, extra: Sequence[str] = ()) -> str:
    d = state / f"node-{node}"
    rf = 3 if s.brokers >= 3 else 1
    isr = 2 if s.brokers >= 3 else 1
    voters = ",".join(f"{n}@127.0.0.1:{s.controller_port_of(n)}" for n in range(1, s.brokers + 1))
    # Nodes 1..brokers are combined broker+controller nodes; a node `replace` adds is a broker only,
    # on the broker port of the node it replaces (the controller quorum keeps the original voters).
    combined = node <= s.brokers
    what = f"node {node}" if combined else f"broker-only node {node}, replacing node {s.slot(node)},"
    roles = "broker,controller" if combined else "broker"
    controller_listener = f",CONTROLLER://127.0.0.1:{s.controller_port_of(node)}" if combined else ""
    text = f"""# Generated by scripts/kafka for {what} of a {s.brokers}-node local cluster (Kafka {s.version}).
process.roles={roles}
node.id={node}
controller.quorum.voters={voters}
listeners=PLAINTEXT://127.0.0.1:{s.broker_port(node)}{controller_listener}
advertised.listeners=PLAINTEXT://127.0.0.1:{s.broker_port(node)}
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
log.dirs={d}/data

# Small machine (2 cores): few threads.
num.network.threads=1
num.io.threads=2
num.replica.fetchers=1
background.threads=4
log.cleaner.threads=1
num.recovery.threads.per.data.dir=1

# Topics are created explicitly by tests, so a producer sees UNKNOWN_TOPIC for a typo.
auto.create.topics.enable=false
num.partitions=1
default.replication.factor={rf}
min.insync.replicas=1

# Internal topics: replicated on 3 nodes, single-replica on 1; few partitions so that the
# first consumer group or transaction does not wait for 50 partitions to be created.
offsets.topic.replication.factor={rf}
offsets.topic.num.partitions=4
transaction.state.log.replication.factor={rf}
transaction.state.log.min.isr={isr}
transaction.state.log.num.partitions=4
share.coordinator.state.topic.replication.factor={rf}
share.coordinator.state.topic.min.isr={isr}
share.coordinator.state.topic.num.partitions=4
group.initial.rebalance.delay.ms=0

# Fault tests: notice a killed broker within seconds rather than the 9 s default.
broker.heartbeat.interval.ms=1000
broker.session.timeout.ms=6000
"""
    if s.security:
        text += security_properties(s, node, state)
    if extra:
        text += "\n# Added with up --set\n" + "".join(f"{kv}\n" for kv in extra)
    return text


def security_properties(s: ClusterState, node: int, state: Path) -> str:
    """The secured listener of up --security, appended to server.properties (later keys win in a properties file)."""
    port = s.broker_port(node)
    controller = f",CONTROLLER://127.0.0.1:{s.controller_port_of(node)}" if node <= s.brokers else ""
    plain_users = "".join(f' user_{u}="{p}"' for u, p in SASL_USERS)
    ssl = s.security.endswith("ssl")
    host, bind = ("localhost", "") if ssl else ("127.0.0.1", "127.0.0.1")
    text = f"""
# Added with up --security {s.security}
listeners=PLAINTEXT://127.0.0.1:{port}{controller},SECURE://{bind}:{port + SECURE_OFFSET}
advertised.listeners=PLAINTEXT://127.0.0.1:{port},SECURE://{host}:{port + SECURE_OFFSET}
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SECURE:{s.security.upper()}
sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512,OAUTHBEARER
listener.name.secure.sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512,OAUTHBEARER
listener.name.secure.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required{plain_users};
listener.name.secure.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.secure.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.secure.oauthbearer.sasl.jaas.config=org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required unsecuredLoginStringClaim_sub="admin";
"""
    if ssl:
        text += f"""listener.name.secure.ssl.keystore.type=PEM
listener.name.secure.ssl.keystore.location={state}/tls/server-keystore.pem
listener.name.secure.ssl.truststore.type=PEM
listener.name.secure.ssl.truststore.location={state}/tls/ca.pem
listener.name.secure.ssl.client.auth=none
"""
    return text


def make_test_ca(d: Path) -> None:
    """A CA, a server certificate for DNS:localhost, a client certificate, and an unrelated CA (for
    "untrusted" tests). Test material only: unencrypted keys."""
    d.mkdir(parents=True, exist_ok=True)
    quiet: dict = {"stderr": subprocess.DEVNULL}
    steps: list = [
        (["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
          "-subj", "/CN=rafka test CA"], quiet),
        (["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "other-ca.key", "-out", "other-ca.pem", "-days", "2",
          "-subj", "/CN=rafka other CA"], quiet),
        (["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost"], quiet),
        ("server.ext", "subjectAltName=DNS:localhost\n"),
        (["x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.pem",
          "-days", "2", "-extfile", "server.ext"], quiet),
        (["pkcs8", "-topk8", "-nocrypt", "-in", "server.key", "-out", "server.pk8"], {}),
        (["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "client.key", "-out", "client.csr", "-subj", "/CN=rafka-client"], quiet),
        ("client.ext", "extendedKeyUsage=clientAuth\n"),  # an X.509 v3 certificate: webpki refuses v1
        (["x509", "-req", "-in", "client.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "client.pem",
          "-days", "2", "-extfile", "client.ext"], quiet),
    ]
    try:
        for step, arg in steps:
            if isinstance(step, str):
                (d / step).write_text(arg)
                continue
            subprocess.run(["openssl", *step], cwd=d, check=True, stdin=subprocess.DEVNULL, **arg)
            if step[0] == "pkcs8":
                (d / "server-keystore.pem").write_bytes(b"".join((d / f).read_bytes() for f in ("server.pk8", "server.pem", "ca.pem")))
    except (OSError, subprocess.CalledProcessError):
        raise KafkaError("making the test CA and certificates with openssl failed")


# ---------------------------------------------------------------------------------------------
# The command line of scripts/kafka

USAGE = """usage: scripts/kafka COMMAND [options]

Cluster:
  up [--brokers 1|3] [--version V] [--port P] [--set key=value]... [--security sasl_plaintext|ssl|sasl_ssl]
                      start a local cluster (or find the running one); the last line
                      printed is bootstrap.servers=127.0.0.1:P[,...]
                      --security adds a second listener on P+100 with that protocol
                      (printed as secure.bootstrap.servers=... before the last line; the
                      PLAINTEXT one stays for tools), SASL mechanisms PLAIN, SCRAM-SHA-256,
                      SCRAM-SHA-512 and OAUTHBEARER (unsecured JWTs), users alice/alice-secret
                      and bob/bob-secret; ssl/sasl_ssl: a test CA and certificates made with
                      openssl in STATE/tls (ca.pem; server cert for DNS:localhost only, the
                      listener advertised as localhost; client.pem/client.key for mutual TLS,
                      which --set listener.name.secure.ssl.client.auth=required turns on)
  down                stop the brokers started from this state dir and remove their data
  status              show nodes, pids and whether each is running, paused or down
  bootstrap           print the bootstrap string of the running cluster
  fetch [--version V] download the Kafka jars into the cache (up does this itself)
  classpath [--version V]
                      print the Java classpath of the Kafka jars (fetching them if needed)

Faults (ID is a node id, 1..brokers):
  kill ID             SIGKILL one broker
  pause ID            SIGSTOP one broker        resume ID   SIGCONT it
  restart ID          stop (if running) and start one broker, wait until it is back in sync
  replace ID --new-id NEW
                      retire node ID as a lost machine (SIGKILL, data left behind) and start a
                      broker-only node NEW, empty, on ID's broker port; returns once NEW is
                      registered (its partitions still name ID: move them with topic reassign)

Data:
  topic create NAME --partitions P [--replication-factor R] [--config k=v]...
  topic alter NAME --partitions P   (raise the partition count)
  topic reassign NAME --partition P --replicas ID[,ID...]
                      move a partition onto those brokers (the first leads) with Kafka's
                      ReassignPartitionsCommand; returns once Kafka says the move is complete
  topic delete NAME
  topic describe NAME
  topic list
  consume TOPIC [--max N] [--timeout S] [--read-committed]
                      print TOPIC from the beginning, one JSON object per record
  group offsets GROUP the committed offsets of a consumer group (Kafka's kafka-consumer-groups
                      --describe --offsets), one JSON object per partition:
                      {"topic":T,"partition":P,"offset":O}; nothing for a group that does not exist
  quota set KEY=VALUE the default quota of every client (Kafka's kafka-configs --alter
                      --add-config KEY=VALUE --entity-type clients --entity-default),
                      e.g. producer_byte_rate=1024 to make brokers throttle producers
  quota clear         remove producer_byte_rate from that default
  (topic, consume, group and quota take --bootstrap HOST:PORT to talk to another cluster)

Environment:
  RAFKA_KAFKA_STATE   state dir (pids, ports, configs, data, logs)  [/tmp/rafka-kafka]
  RAFKA_KAFKA_PORT    first broker port; broker n uses P+n-1, its controller P+1000+n-1  [19092]
  RAFKA_CACHE         jar cache, outside the repo                   [$HOME/.cache/rafka]
  RAFKA_KAFKA_TIMEOUT seconds to wait for readiness                 [90]
  RAFKA_KAFKA_HEAP    broker -Xmx                                    [1g]
  JAVA_HOME / JAVA    the java to run (17+ for Kafka 4.x)
Default Kafka version: {default} (3.9.1 works too: --version 3.9.1).
""".replace("{default}", DEFAULT_VERSION)


class _Args:
    """Walks a command's options as the shell version did: `--opt VALUE`, the value never empty."""

    def __init__(self, args: Sequence[str]):
        self.args = list(args)

    def __bool__(self) -> bool:
        return bool(self.args)

    def peek(self) -> str:
        return self.args[0]

    def next(self) -> str:
        return self.args.pop(0)

    def value(self, option: str) -> str:
        if not self.args or not self.args[0]:
            raise UsageError(f"option {option} needs a value")
        return self.args.pop(0)


def _version_option(cmd: str, args: _Args) -> str:
    version = DEFAULT_VERSION
    while args:
        opt = args.next()
        if opt == "--version":
            version = args.value(opt)
        else:
            raise UsageError(f"{cmd}: unknown option '{opt}'")
    return version


def _no_args(cmd: str, args: _Args) -> None:
    if args:
        raise UsageError(f"{cmd} takes no arguments")


def _one_node(cmd: str, args: _Args) -> str:
    if len(args.args) != 1:
        raise UsageError(f"{cmd} takes one node id")
    return args.next()


def _cmd_replace(k: LocalKafka, args: _Args) -> int:
    if len(args.args) != 3 or args.args[1] != "--new-id":
        raise UsageError("replace takes a node id and --new-id ID")
    node = args.next()
    args.next()
    k.replace(node, args.value("--new-id"))
    return 0


def _cmd_up(k: LocalKafka, args: _Args) -> int:
    brokers = version = port = security = None
    settings: List[str] = []
    while args:
        opt = args.next()
        if opt == "--brokers":
            brokers = args.value(opt)
        elif opt == "--version":
            version = args.value(opt)
        elif opt == "--port":
            port = args.value(opt)
        elif opt == "--security":
            security = args.value(opt)
            if security not in SECURITY_PROTOCOLS:
                raise UsageError(f"--security takes sasl_plaintext, ssl or sasl_ssl, got '{security}'")
        elif opt == "--set":
            kv = args.value(opt)
            if "=" not in kv or re.search(r"\s", kv):
                raise UsageError(f"--set takes key=value without spaces, got '{kv}'")
            settings.append(kv)
        elif opt in ("-h", "--help"):
            print(USAGE, end="")
            return 0
        else:
            raise UsageError(f"up: unknown option '{opt}'")
    if brokers is not None and brokers not in ("1", "3"):
        raise UsageError(f"--brokers must be 1 or 3, got '{brokers}'")
    port_text = port if port is not None else k.port_setting
    if port_text is not None and not (is_uint(port_text) and 1024 <= int(port_text) <= MAX_PORT):
        raise UsageError(f"port must be a number between 1024 and {MAX_PORT}, got '{port_text}'")
    result = k.up(int(brokers) if brokers else None, version, int(port_text) if port_text is not None else None,
                  settings, security)
    print("\n".join(result.lines()), flush=True)
    return 0


def _cmd_status(k: LocalKafka, args: _Args) -> int:
    _no_args("status", args)
    s = k.load_state()
    if s is None:
        print(f"no cluster in {k.state}")
        return 3
    print("\n".join(k.status_lines(s)), flush=True)
    if any(k.node_state(n) != "running" for n in s.nodes):
        return 3
    print("\n".join(UpResult(s.bootstrap, s.secure_bootstrap).lines()))
    return 0


def _cmd_fetch(k: LocalKafka, args: _Args) -> int:
    version = _version_option("fetch", args)
    k.check_java(version)
    k.fetch(version)
    k.tool_classes(version)
    print(k.libs_dir(version))
    return 0


def _cmd_classpath(k: LocalKafka, args: _Args) -> int:
    version = _version_option("classpath", args)
    k.check_java(version)
    k.fetch(version)
    print(k.classpath(version))
    return 0


def _cmd_topic(k: LocalKafka, args: _Args) -> int:
    if not args:
        raise UsageError("topic needs a subcommand: create, alter, delete, describe, reassign or list")
    sub = args.next()
    name = ""
    if sub in ("create", "alter", "delete", "describe", "reassign"):
        if not args or args.peek().startswith("-"):
            raise UsageError(f"topic {sub} needs a topic name")
        name = args.next()
    elif sub != "list":
        raise UsageError(f"unknown topic subcommand '{sub}' (create, alter, delete, describe, reassign, list)")
    partitions = rf = bootstrap = partition = replicas = ""
    configs: List[str] = []
    while args:
        opt = args.next()
        if opt == "--partitions":
            if sub not in ("create", "alter"):
                raise UsageError("--partitions is for topic create and alter")
            partitions = args.value(opt)
        elif opt == "--replication-factor":
            if sub != "create":
                raise UsageError("--replication-factor is for topic create")
            rf = args.value(opt)
        elif opt == "--config":
            if sub != "create":
                raise UsageError("--config is for topic create")
            configs += ["--config", args.value(opt)]
        elif opt == "--bootstrap":
            bootstrap = args.value(opt)
        elif opt in ("--partition", "--replicas"):
            if sub != "reassign":
                raise UsageError(f"{opt} is for topic reassign")
            if opt == "--partition":
                partition = args.value(opt)
            else:
                replicas = args.value(opt)
        else:
            raise UsageError(f"topic {sub}: unknown option '{opt}'")
    if sub == "reassign":
        if not is_uint(partition):
            raise UsageError("topic reassign needs --partition P (a number)")
        ids = replicas.split(",") if replicas else []
        if not ids or not all(is_uint(i) for i in ids):
            raise UsageError("topic reassign needs --replicas ID[,ID...] (broker node ids)")
        k.reassign_partition(name, int(partition), [int(i) for i in ids], bootstrap or None)
        print(f"reassigned {name}-{partition} to {replicas}")
        return 0
    if sub in ("create", "alter"):
        if not partitions:
            raise UsageError(f"topic {sub} needs --partitions P")
        if not is_uint(partitions):
            raise UsageError("--partitions must be a number")
    if sub == "create":
        if rf and not is_uint(rf):
            raise UsageError("--replication-factor must be a number")
        cmd = ["--create", "--topic", name, "--partitions", partitions, *(["--replication-factor", rf] if rf else []), *configs]
    elif sub == "alter":
        cmd = ["--alter", "--topic", name, "--partitions", partitions]
    elif sub == "delete":
        cmd = ["--delete", "--topic", name]
    elif sub == "describe":
        cmd = ["--describe", "--topic", name]
    else:
        cmd = ["--list"]
    return k.topic_command(cmd, bootstrap, capture=False).returncode


def _cmd_consume(k: LocalKafka, args: _Args) -> int:
    topic = bootstrap = None
    max_records: Optional[int] = None
    timeout = 10
    committed = False
    while args:
        opt = args.next()
        if opt == "--max":
            v = args.value(opt)
            if not is_uint(v):
                raise UsageError("--max must be a number")
            max_records = int(v)
        elif opt == "--timeout":
            v = args.value(opt)
            if not is_uint(v):
                raise UsageError("--timeout must be whole seconds")
            timeout = int(v)
        elif opt == "--bootstrap":
            bootstrap = args.value(opt)
        elif opt == "--read-committed":
            committed = True
        elif opt.startswith("-"):
            raise UsageError(f"consume: unknown option '{opt}'")
        else:
            if topic is not None:
                raise UsageError("consume takes one topic")
            topic = opt
    if not topic:
        raise UsageError("consume needs a topic")
    return k.consume(topic, max_records, timeout, committed, bootstrap, capture=False).returncode


def _cmd_group(k: LocalKafka, args: _Args) -> int:
    if not args or args.next() != "offsets":
        raise UsageError("group needs a subcommand: offsets")
    group = bootstrap = None
    while args:
        opt = args.next()
        if opt == "--bootstrap":
            bootstrap = args.value(opt)
        elif opt.startswith("-"):
            raise UsageError(f"group offsets: unknown option '{opt}'")
        elif group is not None:
            raise UsageError("group offsets takes one group")
        else:
            group = opt
    if not group:
        raise UsageError("group offsets needs a group id")
    code, rows = k.group_offsets(group, bootstrap)
    for r in rows:
        print(json.dumps(r, separators=(",", ":")))
    return code


def _cmd_quota(k: LocalKafka, args: _Args) -> int:
    sub = args.next() if args else None
    if sub not in ("set", "clear"):
        raise UsageError("quota needs a subcommand: set KEY=VALUE | clear")
    setting = bootstrap = None
    while args:
        opt = args.next()
        if opt == "--bootstrap":
            bootstrap = args.value(opt)
        elif opt.startswith("-") or sub == "clear" or setting is not None or "=" not in opt:
            raise UsageError(f"quota {sub}: unexpected '{opt}'")
        else:
            setting = opt
    if sub == "set" and setting is None:
        raise UsageError("quota set needs KEY=VALUE")
    print(k.client_quota(setting, bootstrap), end="")
    return 0


def _dispatch(cmd: str, args: _Args) -> int:
    if cmd in ("help", "-h", "--help"):
        print(USAGE, end="")
        return 0
    k = LocalKafka()
    if cmd == "up":
        return _cmd_up(k, args)
    if cmd == "down":
        _no_args("down", args)
        k.down()
        return 0
    if cmd == "status":
        return _cmd_status(k, args)
    if cmd == "bootstrap":
        _no_args("bootstrap", args)
        print(k.bootstrap())
        return 0
    if cmd == "fetch":
        return _cmd_fetch(k, args)
    if cmd == "classpath":
        return _cmd_classpath(k, args)
    if cmd in ("kill", "pause", "resume", "restart"):
        node = _one_node(cmd, args)
        getattr(k, cmd)(node)
        return 0
    if cmd == "replace":
        return _cmd_replace(k, args)
    if cmd == "topic":
        return _cmd_topic(k, args)
    if cmd == "consume":
        return _cmd_consume(k, args)
    if cmd == "group":
        return _cmd_group(k, args)
    if cmd == "quota":
        return _cmd_quota(k, args)
    raise UsageError(f"unknown command '{cmd}'")


def main(argv: Sequence[str]) -> int:
    """scripts/kafka: exit 0 on success, 1 on a failure (message and hints on stderr), 2 on bad usage,
    3 from `status` when the cluster is not (fully) running; topic and consume exit as Kafka's tool did."""
    if not argv:
        print(USAGE, end="", file=sys.stderr)
        return 2
    try:
        return _dispatch(argv[0], _Args(argv[1:]))
    except UsageError as e:
        _stderr(f"scripts/kafka: {e}")
        _stderr("run 'scripts/kafka help' for usage")
        return 2
    except KafkaError as e:
        _stderr(f"scripts/kafka: error: {e.message}")
        for hint in e.hints:
            _stderr(f"  {hint}")
        return 1
    except KeyboardInterrupt:
        return 130
