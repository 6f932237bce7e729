"""Flower's deployment runtime on loopback: one SuperLink, N SuperNodes, `flwr run`, same apps.

Secure by default: fresh credentials (``make_credentials.py``: a private CA, the SuperLink's TLS
certificate, one EC key pair per SuperNode), the SuperLink serves TLS only and admits only
SuperNodes whose public keys were registered (``--enable-supernode-auth`` + ``flwr supernode
register``), and every SuperNode verifies the SuperLink's certificate. The script also checks
that no one else gets in: a plain-HTTP request to the SuperLink gets no answer, and an intruder
SuperNode with a valid but unregistered key is refused (it exits, and is never listed).
``--insecure`` runs the old way (no TLS, no authentication) for comparison.

Starts every process it needs in its own process group, with a private FLWR_HOME (so the user's
~/.flwr is untouched), waits for the run's summary.json, and stops everything it launched in a
``finally`` block. Usage::

    .venv/bin/python experiments/deployment_loopback.py --vehicles 2 --rounds 2

The equivalent manual commands are printed with ``--print-commands``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from make_credentials import certificates, supernode_keys

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_port(port: int, timeout: float, logs: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            s.settimeout(0.5)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.3)
    raise TimeoutError(f"nothing on 127.0.0.1:{port} after {timeout:.0f}s; logs in {logs}")


def _descendants(pids: list[int]) -> list[int]:
    """Every live descendant of ``pids`` (Flower detaches SuperExec/app processes into their
    own sessions, so killing our process groups alone would leave them running)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            children.setdefault(int(stat.rsplit(")", 1)[1].split()[1]), []).append(int(entry))
    found, stack = [], list(pids)
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _stop(procs: list[subprocess.Popen]) -> None:
    """SIGTERM everything launched (and its descendants), then SIGKILL what is left."""
    extra = _descendants([p.pid for p in procs])
    for proc in reversed(procs):
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    for pid in extra:
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    for proc in reversed(procs):
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(timeout=5)
    time.sleep(1.0)
    for pid in extra:
        if Path(f"/proc/{pid}").exists():
            _signal(pid, signal.SIGKILL)


def commands(
    link_port: int, node_ports: list[int], run_config: str, creds: dict | None = None
) -> list[list[str]]:
    """SuperLink, one SuperNode per port, then ``flwr run``; ``creds`` None means insecure."""
    n = len(node_ports)
    if creds is None:
        link_security = ["--insecure"]
    else:
        link_security = [
            "--ssl-ca-certfile",
            str(creds["ca"]),
            "--ssl-certfile",
            str(creds["cert"]),
            "--ssl-keyfile",
            str(creds["key"]),
            "--enable-supernode-auth",
        ]
    cmds = [
        [
            str(BIN / "flower-superlink"),
            *link_security,
            "--host",
            "127.0.0.1",
            "--port",
            str(link_port),
            "--disable-runtime-dependency-installation",
        ],
    ]
    for pid, port in enumerate(node_ports):
        if creds is None:
            node_security = ["--insecure"]
        else:
            node_security = [
                "--root-certificates",
                str(creds["ca"]),
                "--auth-supernode-private-key",
                str(creds["nodes"][pid][0]),
            ]
        cmds.append(
            [
                str(BIN / "flower-supernode"),
                *node_security,
                "--superlink",
                f"127.0.0.1:{link_port}",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--node-config",
                f"partition-id={pid} num-partitions={n}",
            ]
        )
    cmds.append(
        [
            str(BIN / "flwr"),
            "run",
            str(ROOT),
            "local-deployment",
            "--stream",
            "--run-config",
            run_config,
        ]
    )
    return cmds


def tls_handshake(port: int, ca: Path) -> str:
    """The SuperLink's certificate subject, verified against our CA (raises if it is not)."""
    context = ssl.create_default_context(cafile=str(ca))
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            subject = dict(x[0] for x in tls.getpeercert()["subject"])
    return subject.get("commonName", "")


def plaintext_answered(port: int) -> bool:
    """True if the SuperLink answers an unencrypted HTTP request (it must not)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        raw.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        raw.settimeout(5)
        try:
            reply = raw.recv(64)
        except (TimeoutError, ConnectionError):
            return False
    return reply.startswith(b"HTTP/")


def _flwr(args: list[str], env: dict, cwd: Path) -> str:
    proc = subprocess.run(
        [str(BIN / "flwr"), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=60
    )
    if proc.returncode != 0:
        raise RuntimeError(f"flwr {' '.join(args)} failed: {proc.stdout[-800:]}{proc.stderr}")
    return proc.stdout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vehicles", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--samples", type=int, default=40, help="samples per vehicle")
    parser.add_argument("--timeout", type=float, default=420.0, help="seconds for the whole run")
    parser.add_argument("--out", type=Path, default=None, help="results root (default: temp dir)")
    parser.add_argument(
        "--insecure",
        action="store_true",
        help="no TLS and no SuperNode authentication: anyone who reaches the port can join",
    )
    parser.add_argument("--print-commands", action="store_true")
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="dqfl-deploy-"))
    out_root = (args.out or work / "results").resolve()
    name = "deployment-loopback"
    run_config = (
        f'output_dir="{out_root}" name="{name}" data.n_vehicles={args.vehicles} '
        f"data.samples_per_vehicle={args.samples} federation.rounds={args.rounds}"
    )
    link_port = _free_port()
    node_ports = [_free_port() for _ in range(args.vehicles)]
    creds = None
    if not args.insecure:
        creds = certificates(work, ["127.0.0.1", "localhost"])
        # one key pair per vehicle, plus one that is never registered: the intruder's
        creds["nodes"] = supernode_keys(work, args.vehicles + 1)
    cmds = commands(link_port, node_ports, run_config, creds)
    if args.print_commands:
        for cmd in cmds:
            print(" ".join(f"'{c}'" if " " in c else c for c in cmd))
        return 0

    flwr_home = work / "flwr-home"
    flwr_home.mkdir()
    security = "insecure = true\n" if creds is None else f'root-certificates = "{creds["ca"]}"\n'
    (flwr_home / "config.toml").write_text(
        '[superlink]\ndefault = "local-deployment"\n\n'
        f'[superlink.local-deployment]\naddress = "127.0.0.1:{link_port}"\n{security}'
    )
    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "FLWR_HOME": str(flwr_home),
        "FLWR_TELEMETRY_ENABLED": "0",
        "FLWR_DISABLE_UPDATE_CHECK": "1",
        "PYTHONUNBUFFERED": "1",
    }
    logs = work / "logs"
    logs.mkdir()
    procs: list[subprocess.Popen] = []
    handles: list = []
    summary_path = out_root / name / "summary.json"
    t0 = time.monotonic()
    checks: dict = {"secure": creds is not None}

    def start(cmd: list[str], log_name: str, cwd: Path) -> subprocess.Popen:
        log = open(logs / log_name, "wb")
        handles.append(log)
        proc = subprocess.Popen(
            cmd, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        procs.append(proc)
        return proc

    try:
        start(cmds[0], "flower-superlink.log", work)
        _wait_port(link_port, 30, logs)
        intruder = None
        if creds is not None:
            checks["tls_certificate"] = tls_handshake(link_port, creds["ca"])
            checks["plaintext_refused"] = not plaintext_answered(link_port)
            for _, public in creds["nodes"][: args.vehicles]:
                _flwr(["supernode", "register", str(public), "local-deployment"], env, work)
            # a SuperNode with a well-formed key nobody registered: must be turned away
            intruder_cmd = [
                str(BIN / "flower-supernode"),
                "--root-certificates",
                str(creds["ca"]),
                "--auth-supernode-private-key",
                str(creds["nodes"][-1][0]),
                "--superlink",
                f"127.0.0.1:{link_port}",
                "--host",
                "127.0.0.1",
                "--port",
                str(_free_port()),
                "--node-config",
                f"partition-id=0 num-partitions={args.vehicles}",
            ]
            intruder = start(intruder_cmd, "intruder-supernode.log", work)
        nodes = [start(cmd, f"flower-supernode-{i}.log", work) for i, cmd in enumerate(cmds[1:-1])]
        start(cmds[-1], "flwr-run.log", ROOT)
        deadline = t0 + args.timeout
        while not summary_path.exists():
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {summary_path} after {args.timeout:.0f}s; logs in {logs}")
            dead = [p for p in [procs[0], *nodes] if p.poll() is not None]
            if dead:
                raise RuntimeError(
                    f"{dead[0].args[0]} exited early ({dead[0].returncode}); logs in {logs}"
                )
            time.sleep(1.0)
        summary = json.loads(summary_path.read_text())
        if intruder is not None:
            try:
                code = intruder.wait(timeout=30)
            except subprocess.TimeoutExpired:
                code = None
            listed = _flwr(["supernode", "list", "local-deployment"], env, work)
            checks["intruder_exit_code"] = code
            checks["intruder_refused"] = code not in (None, 0)
            checks["nodes_online"] = listed.count("online")
        ok = creds is None or (
            checks["plaintext_refused"]
            and checks["intruder_refused"]
            and checks["nodes_online"] == args.vehicles
        )
        result = {
            "ok": bool(ok),
            "wall_s": round(time.monotonic() - t0, 1),
            "summary": str(summary_path),
            "top1": summary.get("top1"),
            "rounds": summary.get("rounds"),
            "engine": summary.get("engine"),
            "vehicles_connected": summary.get("vehicles_connected"),
            **checks,
        }
        print(json.dumps(result))
        return 0 if ok else 1
    finally:
        _stop(procs)
        for handle in handles:
            handle.close()


if __name__ == "__main__":
    sys.exit(main())
