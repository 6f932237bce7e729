"""Flower's deployment runtime on loopback: one SuperLink, N SuperNodes, `flwr run`, same apps.

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
import subprocess
import sys
import tempfile
import time
from pathlib import Path

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


def commands(link_port: int, node_ports: list[int], run_config: str) -> list[list[str]]:
    n = len(node_ports)
    cmds = [
        [
            str(BIN / "flower-superlink"),
            "--insecure",
            "--host",
            "127.0.0.1",
            "--port",
            str(link_port),
            "--disable-runtime-dependency-installation",
        ],
    ]
    for pid, port in enumerate(node_ports):
        cmds.append(
            [
                str(BIN / "flower-supernode"),
                "--insecure",
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vehicles", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--samples", type=int, default=40, help="samples per vehicle")
    parser.add_argument("--timeout", type=float, default=420.0, help="seconds for the whole run")
    parser.add_argument("--out", type=Path, default=None, help="results root (default: temp dir)")
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
    cmds = commands(link_port, node_ports, run_config)
    if args.print_commands:
        for cmd in cmds:
            print(" ".join(f"'{c}'" if " " in c else c for c in cmd))
        return 0

    flwr_home = work / "flwr-home"
    flwr_home.mkdir()
    (flwr_home / "config.toml").write_text(
        '[superlink]\ndefault = "local-deployment"\n\n'
        f'[superlink.local-deployment]\naddress = "127.0.0.1:{link_port}"\ninsecure = true\n'
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
    try:
        for i, cmd in enumerate(cmds[:-1]):
            log = open(logs / f"{Path(cmd[0]).name}-{i}.log", "wb")
            handles.append(log)
            procs.append(
                subprocess.Popen(
                    cmd,
                    cwd=work,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
            if i == 0:
                _wait_port(link_port, 30, logs)
        run_log = open(logs / "flwr-run.log", "wb")
        handles.append(run_log)
        procs.append(
            subprocess.Popen(
                cmds[-1],
                cwd=ROOT,
                env=env,
                stdout=run_log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        )
        deadline = t0 + args.timeout
        while not summary_path.exists():
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {summary_path} after {args.timeout:.0f}s; logs in {logs}")
            dead = [p for p in procs[:-1] if p.poll() is not None]
            if dead:
                raise RuntimeError(
                    f"{dead[0].args[0]} exited early ({dead[0].returncode}); logs in {logs}"
                )
            time.sleep(1.0)
        summary = json.loads(summary_path.read_text())
        result = {
            "ok": True,
            "wall_s": round(time.monotonic() - t0, 1),
            "summary": str(summary_path),
            "top1": summary.get("top1"),
            "rounds": summary.get("rounds"),
            "engine": summary.get("engine"),
            "vehicles_connected": summary.get("vehicles_connected"),
        }
        print(json.dumps(result))
        return 0
    finally:
        _stop(procs)
        for handle in handles:
            handle.close()


if __name__ == "__main__":
    sys.exit(main())
