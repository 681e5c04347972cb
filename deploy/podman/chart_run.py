#!/usr/bin/env python3
"""The chart's pods, run for real: Redis, the coordinator and the workers of a `helm template` render started as
podman containers (chart2podman.py), probed as the kubelet probes them and replaced when they exit as their
Deployment/StatefulSet would replace them; then a sinusoid run through the `metacluster` CLI (in a container of the
same image) that survives `podman kill` of a worker and then of the coordinator and must end with θ bit-identical to
the same settings trained in one process; then `podman stop` of a worker (SIGTERM → /readyz 503 → exit within the
pod's grace period). deploy/podman/check.sh runs it (and cleans up after it, whatever happens).

    chart_run.py --render render.yaml --image metacluster:0.1.0=metacluster:ci --image redis:7=metacluster-redis:7-local

Exit status 0 when every check held, 1 when one did not (each says which), 2 when the render cannot be run here.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from chart2podman import LABEL, Pod, Probe, TranslationError, Translator, load  # noqa: E402

RUNTIME = os.environ.get("PODMAN_RUNTIME", "runc")
PODMAN = ["podman", *(["--runtime", RUNTIME] if RUNTIME else [])]
ULIMITS = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"]
CLI = "/app/metacluster"  # the CLI's place in the image (deploy/docker/Dockerfile*)
T0 = time.monotonic()


def log(text: str) -> None:
    print(f"[{time.monotonic() - T0:6.1f} s] {text}", flush=True)


def podman(*args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
    r = subprocess.run([*PODMAN, *args], capture_output=True, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise RuntimeError(f"podman {' '.join(args[:3])} … failed ({r.returncode}): {r.stderr.strip()[-600:]}")
    return r


def http_get(port: int, path: str, timeout: float) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as r:
            return r.status, r.read().decode(errors="replace")
    except urllib.error.HTTPError as e:
        return e.code, ""
    except (OSError, urllib.error.URLError):
        return 0, ""


class CheckFailed(Exception):
    pass


@dataclass
class Running:
    pod: Pod
    started_at: float
    started: bool = False  # startup probe passed (or none)
    ready: bool = False
    failures: dict[str, int] = field(default_factory=dict)
    due: dict[str, float] = field(default_factory=dict)
    replace: bool = True  # the controller starts another when this one exits
    exited: int | None = None


class Kubelet:
    """Starts a workload's pods, probes them as the kubelet does (startup, then liveness and readiness, each at its
    period, counted against its failureThreshold), kills a pod whose liveness fails, and starts a replacement — same
    replica, same host ports, fresh tmpfs emptyDirs — for a pod whose container exited, as its controller would."""

    def __init__(self, translator: Translator):
        self.t = translator
        self.lock = threading.Lock()
        self.pods: dict[tuple[str, int], Running] = {}
        self.generation: dict[tuple[str, int], int] = {}
        self.events: list[tuple[float, str]] = []
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def event(self, text: str) -> None:
        with self.lock:
            self.events.append((time.monotonic() - T0, text))
        log(text)

    def start(self, workload: str, replica: int) -> Running:
        key = (workload, replica)
        gen = self.generation.get(key, -1) + 1
        self.generation[key] = gen
        pod = self.t.pod(workload, replica, name=f"{self.t.session}-{workload}-{replica}" + (f"-r{gen}" if gen else ""))
        podman("run", "-d", *ULIMITS, *pod.run_args)
        now = time.monotonic()
        running = Running(pod, now, started="startup" not in pod.probes)
        running.due = {k: now + p.initial_delay for k, p in pod.probes.items()}
        with self.lock:
            self.pods[key] = running
        self.event(f"started {pod.name} (ports {sorted(set(pod.ports.values()))})")
        return running

    def get(self, workload: str, replica: int) -> Running:
        with self.lock:
            return self.pods[(workload, replica)]

    def wait_ready(self, workload: str, replica: int, timeout: float, replacing: str | None = None) -> float:
        """Seconds from the pod's start to ready; with `replacing`, of the pod that replaced the one of that name."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            r = self.get(workload, replica)
            if r.ready and r.exited is None and r.pod.name != replacing:
                return time.monotonic() - r.started_at
            time.sleep(0.1)
        r = self.get(workload, replica)
        tail = podman("logs", "--tail", "30", r.pod.name, check=False)
        raise CheckFailed(f"{r.pod.name} not ready within {timeout:.0f} s:\n{tail.stdout}{tail.stderr}")

    def _probe(self, pod: Pod, p: Probe) -> bool:
        if p.http:
            status, _ = http_get(p.http[1], p.http[0], p.timeout)
            return 200 <= status < 400
        if p.exec:
            try:
                return podman("exec", pod.name, *p.exec, timeout=p.timeout + 2, check=False).returncode == 0
            except subprocess.TimeoutExpired:
                return False
        import socket
        try:
            socket.create_connection(("127.0.0.1", p.tcp), timeout=p.timeout).close()
            return True
        except OSError:
            return False

    def _loop(self) -> None:
        while not self.stopped.is_set():
            try:
                self._tick()
            except Exception as e:  # noqa: BLE001 - the loop must go on; the scenario sees the effects
                log(f"kubelet loop: {e}")
            time.sleep(0.25)

    def _tick(self) -> None:
        ps = podman("ps", "--filter", f"label={LABEL}={self.t.session}", "--format", "{{.Names}}", check=False)
        alive = set(ps.stdout.split())
        with self.lock:
            pods = [(k, r) for k, r in self.pods.items() if r.exited is None]
        for key, r in pods:
            if r.pod.name not in alive and time.monotonic() - r.started_at > 2:
                state = podman("inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", r.pod.name, check=False)
                status = state.stdout.split()
                if status and status[0] in ("created", "running", "configured"):
                    continue
                r.exited, r.ready = int(status[1]) if len(status) > 1 else -1, False
                self.event(f"{r.pod.name} exited with {r.exited}")
                if r.replace:
                    self.start(*key)
                continue
            now = time.monotonic()
            kinds = ["startup"] if not r.started else [k for k in ("liveness", "readiness") if k in r.pod.probes]
            for kind in kinds:
                p = r.pod.probes[kind]
                if now < r.due[kind]:
                    continue
                ok = self._probe(r.pod, p)
                r.due[kind] = time.monotonic() + p.period
                if ok:
                    r.failures[kind] = 0
                    if kind == "startup":
                        r.started = True
                        self.event(f"{r.pod.name} startup probe passed after {now - r.started_at:.1f} s")
                    if kind == "readiness" and not r.ready:
                        r.ready = True
                        self.event(f"{r.pod.name} ready")
                    continue
                r.failures[kind] = r.failures.get(kind, 0) + 1
                if kind == "readiness" and r.ready:
                    r.ready = False  # one failure: the kubelet marks the pod unready at once (successThreshold 1)
                    self.event(f"{r.pod.name} unready (readiness probe failed)")
                if kind in ("startup", "liveness") and r.failures[kind] >= p.failure_threshold:
                    self.event(f"{r.pod.name} {kind} probe failed {r.failures[kind]} times: the kubelet kills it")
                    podman("kill", r.pod.name, check=False)

    def close(self) -> None:
        self.stopped.set()
        self.thread.join(timeout=10)


def metric(port: int, name: str, labels: str = "") -> float | None:
    """The sum of a Prometheus series' samples (those whose labels contain `labels`) on a silo's /metrics."""
    status, text = http_get(port, "/metrics", 10)
    if status != 200:
        return None
    values = [float(m.group(2)) for m in re.finditer(rf"^{re.escape(name)}(\{{[^}}]*\}})? (\S+)", text, re.M)
              if labels in (m.group(1) or "")]
    return sum(values) if values else None


def cli_run_args(pod: Pod, name: str, session: str, entrypoint: list[str], env: bool = False) -> list[str]:
    """`podman run` options for a CLI container with the pod's user, read-only root, capabilities and tmpfs mounts
    (and, with env, its environment: the Redis connection string with the password, as NOTES.txt's commands use it)."""
    image_at = pod.run_args.index(pod.image)
    skip = {"--name", "--stop-timeout", "--entrypoint", "--label", "--memory", "--cpus"} | (set() if env else {"--env-file"})
    options, i = [], 0
    while i < image_at:
        if pod.run_args[i] in skip:
            i += 2
            continue
        options.append(pod.run_args[i])
        i += 1
    return ["--name", name, "--label", f"{LABEL}={session}", *options, "--entrypoint", json.dumps(entrypoint), pod.image]


def run_cli(args: list[str], timeout: float) -> tuple[int, str]:
    name = args[1]
    podman("run", "-d", *ULIMITS, *args)
    try:
        code = int(podman("wait", name, timeout=timeout).stdout.strip() or -1)
    except subprocess.TimeoutExpired:
        podman("kill", name, check=False)
        raise CheckFailed(f"{name} did not finish within {timeout:.0f} s") from None
    out = podman("logs", name, check=False)
    podman("rm", "-f", name, check=False)
    return code, out.stdout + out.stderr


def theta(code: int, output: str, what: str) -> str:
    lines = [l for l in output.splitlines() if l.startswith("{")]
    if code != 0 or not lines:
        raise CheckFailed(f"{what} exited with {code}:\n{output[-2000:]}")
    return json.loads(lines[-1])["theta_sha256"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--render", required=True)
    parser.add_argument("--image", action="append", default=[], metavar="FROM=TO")
    parser.add_argument("--state", required=True, help="folder for env-files and the summary")
    parser.add_argument("--namespace", default="metacluster")
    parser.add_argument("--session", default="mcpod")
    parser.add_argument("--iterations", type=int, default=4000)
    parser.add_argument("--kill-worker-at", type=int, default=400, help="round of the coordinator's counter")
    parser.add_argument("--kill-coordinator-at", type=int, default=1600,
                        help="round of the coordinator's counter (once the worker's replacement is ready)")
    a = parser.parse_args()
    settings = ["--iterations", str(a.iterations), "--meta-batch", "25", "--seed", "11", "--checkpoint-every", "50",
                "--no-eval", "--json"]
    try:
        t = Translator(load(a.render), dict(i.split("=", 1) for i in a.image), a.state, a.namespace, session=a.session)
    except TranslationError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    names = list(t.workloads)
    redis = next(n for n in names if t.workloads[n].kind == "StatefulSet" and n.endswith("-redis"))
    coordinator = next(n for n in names if n.endswith("-coordinator"))
    worker = next(n for n in names if n.endswith("-worker"))
    # The pods share the host network: a port already taken would make a pod fail for a reason of this machine's.
    import socket
    for name in names:
        for replica in range(t.workloads[name].replicas):
            for port in sorted(set(t.host_ports(t.workloads[name], replica).values())):
                with socket.socket() as s:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers bind: TIME_WAIT is no owner
                    try:
                        s.bind(("127.0.0.1", port))
                    except OSError:
                        print(f"error: port {port} ({name}) is in use on this machine; stop what holds it", file=sys.stderr)
                        return 2
    summary: dict = {"session": a.session}
    kubelet = Kubelet(t)
    try:
        # --- the reference: the same settings in one process, in a container of the image, while the cluster starts ---
        ref_pod = t.pod(coordinator, 0, name=f"{a.session}-template")
        ref_args = cli_run_args(ref_pod, f"{a.session}-reference", a.session, [CLI])
        ref_result: dict = {}

        def reference() -> None:
            started = time.monotonic()
            try:
                ref_result["theta"] = theta(*run_cli([*ref_args, "train", "--in-process", "--checkpoint-dir", "/checkpoints/reference",
                                                      *settings], 900), "the in-process reference run")
            except Exception as e:  # noqa: BLE001 - reported by the main thread
                ref_result["error"] = e
            ref_result["seconds"] = time.monotonic() - started

        ref_thread = threading.Thread(target=reference, daemon=True)  # a failure elsewhere must not wait for it
        ref_thread.start()

        # --- cluster up: Redis, then the coordinator, then the workers, each probed until ready ---
        up = time.monotonic()
        kubelet.start(redis, 0)
        kubelet.wait_ready(redis, 0, 90)
        kubelet.start(coordinator, 0)
        for r in range(t.workloads[worker].replicas):
            kubelet.start(worker, r)
        kubelet.wait_ready(coordinator, 0, 240)
        for r in range(t.workloads[worker].replicas):
            kubelet.wait_ready(worker, r, 240)
        summary["cluster_up_s"] = round(time.monotonic() - up, 1)
        log(f"cluster up in {summary['cluster_up_s']} s: Redis, coordinator, {t.workloads[worker].replicas} workers ready")

        # --- /metrics as Prometheus scrapes it, on every silo ---
        silos = [kubelet.get(coordinator, 0)] + [kubelet.get(worker, r) for r in range(t.workloads[worker].replicas)]
        for s in silos:
            # As Prometheus scrapes (the chart's ServiceMonitor: a 10 s timeout, every 15 s): three tries.
            for _ in range(3):
                status, text = http_get(s.pod.http_port(), "/metrics", 10)
                if status == 200:
                    break
                time.sleep(5)
            series = [l for l in text.splitlines() if l and not l.startswith("#")]
            if status != 200 or not any(l.startswith("orleans_") for l in series):
                raise CheckFailed(f"{s.pod.name} /metrics answered {status} with {len(series)} samples, no orleans_ series")
            log(f"{s.pod.name} /metrics: {len(series)} samples")

        # --- the run through the CLI, a worker killed, then the coordinator ---
        # As NOTES.txt starts a run: the CLI reads the cluster from a silo pod's environment (a container of its own
        # here, not an exec into the coordinator, which is killed under it), checkpoints under /checkpoints.
        run_id = f"{a.session}-run"
        cli_args = cli_run_args(kubelet.get(coordinator, 0).pod, f"{a.session}-cli", a.session, ["/bin/sh", "-c",
            'exec metacluster train --cluster "redis://$MetaCluster__Redis" --service-id "$MetaCluster__ServiceId" '
            '--cluster-id "$MetaCluster__ClusterId" "$@"', "metacluster"], env=True)
        cli_result: dict = {}

        def follow() -> None:
            try:
                # Per-silo dispatch: θ and the hubs' partial sums cross the containers over the bulk channel, through the kills.
                argv = [*cli_args, "--run-id", run_id, "--checkpoint-dir", f"/checkpoints/{run_id}", "--stall-timeout", "180", "--per-silo", *settings]
                code, output = run_cli(argv, 900)
                if code == 2 and "cannot connect to the cluster" in output:
                    # The CLI gives a cluster 20 s to answer; on a machine loaded far past its cores that can pass with
                    # ready silos. A user would run it again: so do we, once, and say so.
                    log(f"the CLI could not connect ({output.strip().splitlines()[-1][:160]}); starting it again")
                    code, output = run_cli(argv, 900)
                cli_result["theta"] = theta(code, output, "the cluster run")
            except Exception as e:  # noqa: BLE001 - reported by the main thread
                cli_result["error"] = e

        ref_thread.join(900)  # the reference shared the machine with the cluster's start only, not with the run
        run_started = time.monotonic()
        cli_thread = threading.Thread(target=follow, daemon=True)
        cli_thread.start()

        def rounds() -> float:
            c = kubelet.get(coordinator, 0)
            return metric(c.pod.http_port(), "metacluster_rounds_completed_total", f'run_id="{run_id}"') or 0

        def wait_rounds(n: int, what: str) -> float:
            while cli_thread.is_alive():
                if (now := rounds()) >= n:
                    return now
                time.sleep(0.5)
            raise CheckFailed(f"the run ended before {what} (raise --iterations): {cli_result}")

        at = wait_rounds(a.kill_worker_at, "the worker kill")
        victim = kubelet.get(worker, 0)
        podman("kill", victim.pod.name)
        kubelet.event(f"podman kill {victim.pod.name} at coordinator round {at:.0f}")
        replaced = kubelet.wait_ready(worker, 0, 180, replacing=victim.pod.name)
        at = wait_rounds(a.kill_coordinator_at, "the coordinator kill")
        if at > a.iterations - 500:
            raise CheckFailed(f"the run was at round {at:.0f} of {a.iterations} when the coordinator could be killed: "
                              "raise --iterations, the kill must leave it rounds to recover")
        victim = kubelet.get(coordinator, 0)
        podman("kill", victim.pod.name)
        kubelet.event(f"podman kill {victim.pod.name} at its round {at:.0f}")
        if not cli_thread.is_alive():
            raise CheckFailed("the run ended before the coordinator was killed (raise --iterations)")
        back = kubelet.wait_ready(coordinator, 0, 180, replacing=victim.pod.name)
        summary["worker_replacement_ready_s"], summary["coordinator_replacement_ready_s"] = round(replaced, 1), round(back, 1)
        cli_thread.join(900)
        ref_thread.join(900)
        for what, result in (("reference", ref_result), ("cluster run", cli_result)):
            if "error" in result:
                raise result["error"]
            if "theta" not in result:
                raise CheckFailed(f"the {what} did not finish")
        summary["run_s"] = round(time.monotonic() - run_started, 1)
        summary["reference_s"] = round(ref_result["seconds"], 1)
        summary["theta_sha256"] = cli_result["theta"]
        log(f"cluster run {summary['run_s']} s (reference {summary['reference_s']} s): θ {cli_result['theta'][:16]}…, "
            f"in-process {ref_result['theta'][:16]}…")
        if cli_result["theta"] != ref_result["theta"]:
            raise CheckFailed(f"θ differs from the in-process run: {cli_result['theta']} vs {ref_result['theta']}")
        # After the kill a surviving silo took the run over from its checkpoint in Redis — the restarted coordinator or,
        # when placement activated it first elsewhere, a worker: its /metrics counts the recovery and the last rounds.
        took_over = []
        for s in [kubelet.get(coordinator, 0)] + [kubelet.get(worker, r) for r in range(t.workloads[worker].replicas)]:
            port = s.pod.http_port()
            recoveries = metric(port, "metacluster_coordinator_recoveries_total", f'run_id="{run_id}"') or 0
            if recoveries >= 1:
                took_over.append((s.pod.name, recoveries, metric(port, "metacluster_rounds_completed_total", f'run_id="{run_id}"') or 0))
        summary["took_over"] = took_over
        if not took_over:
            raise CheckFailed("no silo's /metrics counts a coordinator recovery: the run was not taken over after the kill")
        log("θ bit-identical to the in-process run; the run was taken over by " +
            ", ".join(f"{n} ({r:.0f} recovery, its last {d:.0f} rounds)" for n, r, d in took_over))

        # --- podman stop: SIGTERM → /readyz 503 → the silo leaves and exits within the grace period ---
        leaving = kubelet.get(worker, t.workloads[worker].replicas - 1)
        leaving.replace = False
        port, grace = leaving.pod.http_port(), leaving.pod.grace_seconds
        stop_at = time.monotonic()
        stopper = threading.Thread(target=lambda: podman("stop", leaving.pod.name, timeout=grace + 30), daemon=True)
        stopper.start()
        unready = None
        while stopper.is_alive():
            if unready is None and http_get(port, "/readyz", 1)[0] != 200:
                unready = time.monotonic() - stop_at
            time.sleep(0.05)
        gone = time.monotonic() - stop_at
        code = int(podman("inspect", "--format", "{{.State.ExitCode}}", leaving.pod.name).stdout.strip())
        summary.update(stop_unready_s=round(unready or -1, 2), stop_exit_s=round(gone, 1), stop_exit_code=code, grace_s=grace)
        log(f"podman stop {leaving.pod.name}: /readyz not 200 after {unready:.2f} s, exited with {code} after {gone:.1f} s "
            f"(grace period {grace} s)")
        if unready is None or code != 0 or gone >= grace:
            raise CheckFailed(f"{leaving.pod.name} did not leave gracefully: exit code {code} after {gone:.1f} s, "
                              f"unready after {unready}")
        logs = podman("logs", leaving.pod.name, check=False)
        if "Application is shutting down" not in logs.stdout + logs.stderr:
            raise CheckFailed(f"{leaving.pod.name} logged no graceful shutdown")
        # It left the cluster: its row in the Orleans membership table (a Redis hash) says Dead (6), not Active.
        silo = f"127.0.0.1:{leaving.pod.ports['silo']}"
        rows = podman("exec", kubelet.get(redis, 0).pod.name, "sh", "-c",
                      'redis-cli --scan | while read -r k; do [ "$(redis-cli type "$k")" = hash ] && redis-cli hgetall "$k"; done',
                      check=False).stdout
        mine = [r for r in rows.splitlines() if silo in r and '"Status"' in r]
        if not mine or not all('"Status":6' in r or '"Status":"Dead"' in r for r in mine):
            raise CheckFailed(f"the membership table does not show {silo} as Dead after its stop: {mine or 'no row'}")
        log(f"the membership table shows {silo} Dead: it left the cluster")

        unexpected = [e for _, e in kubelet.events if "the kubelet kills it" in e]
        summary["liveness_kills"] = unexpected
        summary["events"] = [f"{s:.1f} s {e}" for s, e in kubelet.events]
        log("all checks held" + (f"; liveness kills: {unexpected}" if unexpected else ""))
        return 0
    except (CheckFailed, RuntimeError, subprocess.TimeoutExpired) as e:
        log(f"FAILED: {e}")
        summary["failed"] = str(e)
        for r in list(kubelet.pods.values()):
            tail = podman("logs", "--tail", "15", r.pod.name, check=False)
            print(f"--- {r.pod.name} (last lines)\n{tail.stdout}{tail.stderr}", flush=True)
        return 1
    finally:
        kubelet.close()
        with open(os.path.join(a.state, "summary.json"), "w", encoding="utf-8") as f:
            json.dump(summary, f, indent=2)


if __name__ == "__main__":
    sys.exit(main())
