#!/usr/bin/env python3
"""The chart's pods as podman containers: reads `helm template` output and turns each Deployment's and StatefulSet's
pod template into `podman run` arguments, probes and a grace period — every setting taken from the rendered YAML, none
written here a second time.

    helm template mc helm/metacluster > render.yaml
    deploy/podman/chart2podman.py render.yaml --image redis:7=metacluster-redis:7-local --state /tmp/mc   # prints them

What Kubernetes gives a pod and a single machine does not is mapped so (the table deploy/README.md repeats):

  Kubernetes                              here (podman, --network host)
  pod IP (status.podIP), status.hostIP    127.0.0.1
  metadata.name / metadata.namespace      the container's name / --namespace
  Service DNS name <svc>[.<ns>[.svc…]]:P  127.0.0.1:<host port of the Service's targetPort on its first pod>
  a pod's containerPort N                 N + port_base + slot (slot: 0 for the first pod, 1, 2, … after it), so pods
                                          share the host network; an env value that is exactly "N" becomes the shifted
                                          port. A pod with a port no env value carries (Redis: 6379 is in no setting)
                                          keeps its ports as they are.
  secretKeyRef                            the rendered Secret's value, in a 0600 env-file (never on a command line)
  $(VAR) in env values                    expanded from the variables before it, as the kubelet does
  emptyDir (sizeLimit)                    tmpfs, mode 0777 as the kubelet makes emptyDirs, size=sizeLimit (runc gives a
                                          tmpfs over a directory of the image that directory's mode instead: the
                                          image makes /checkpoints 1777 for that)
  volumeClaimTemplates                    a podman volume named <session>-<workload>-<replica>-<claim>, chowned to the user (:U, as fsGroup)
  hostPath                                a bind mount
  securityContext                         --user, --group-add (fsGroup, supplementalGroups), --read-only with no
                                          tmpfs of podman's own, --cap-drop/--cap-add, no-new-privileges;
                                          runAsNonRoot is checked
  resources.limits memory / cpu           --memory / --cpus (requests have no podman meaning)
  terminationGracePeriodSeconds           --stop-timeout (podman stop: SIGTERM, then SIGKILL after it)
  image                                   --image FROM=TO renames (the images build.sh made)

Anything else in a pod spec this file does not know (a configMap volume, a GPU limit, an init container) is an error
naming it, not something silently dropped.
"""
from __future__ import annotations

import argparse
import base64
import json
import os
import re
import shlex
import sys
from dataclasses import dataclass, field

import yaml

LOOPBACK = "127.0.0.1"
LABEL = "io.metacluster.podman-check"


class TranslationError(Exception):
    """A rendered setting this translation cannot reproduce with podman."""


@dataclass
class Probe:
    kind: str  # startup | liveness | readiness
    http: tuple[str, int] | None  # (path, host port)
    exec: list[str] | None
    tcp: int | None
    period: float
    timeout: float
    failure_threshold: int
    initial_delay: float


@dataclass
class Pod:
    """One replica of a workload, as one podman container (the charts' pods have one container each)."""
    name: str
    workload: str
    kind: str
    replica: int
    image: str
    run_args: list[str]  # after `podman run`: options, image, container args
    env: dict[str, str]
    ports: dict[str, int]  # port name (or number as text) -> host port
    probes: dict[str, Probe]
    grace_seconds: int
    volumes: list[str] = field(default_factory=list)  # podman volumes it uses (removed at clean-up)

    def http_port(self, name: str = "http") -> int:
        return self.ports[name]


@dataclass
class Workload:
    kind: str
    name: str
    replicas: int
    labels: dict[str, str]
    spec: dict
    claims: list[dict]


def load(path: str) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d]


def workloads(docs: list[dict]) -> list[Workload]:
    found = []
    for d in docs:
        if d.get("kind") in ("Deployment", "StatefulSet"):
            spec = d["spec"]
            template = spec["template"]
            found.append(Workload(d["kind"], d["metadata"]["name"], int(spec.get("replicas", 1)),
                                  template.get("metadata", {}).get("labels", {}), template["spec"],
                                  spec.get("volumeClaimTemplates", []) if d["kind"] == "StatefulSet" else []))
    return found


def secrets(docs: list[dict]) -> dict[str, dict[str, str]]:
    out = {}
    for d in docs:
        if d.get("kind") == "Secret":
            values = {k: base64.b64decode(v).decode() for k, v in (d.get("data") or {}).items()}
            values.update(d.get("stringData") or {})
            out[d["metadata"]["name"]] = values
    return out


def quantity(q: str | int, unit: str) -> str:
    """A Kubernetes quantity as podman wants it: memory 2Gi -> 2g, 512Mi -> 512m; cpu 500m -> 0.5."""
    q = str(q)
    if unit == "cpu":
        return str(int(q[:-1]) / 1000) if q.endswith("m") else q
    m = re.fullmatch(r"(\d+)(Ki|Mi|Gi|Ti|k|M|G|T)?", q)
    if not m:
        raise TranslationError(f"memory quantity {q!r} is not one this translation reads (use Mi or Gi)")
    number, suffix = int(m.group(1)), m.group(2) or ""
    return {"": f"{number}b", "Ki": f"{number}k", "Mi": f"{number}m", "Gi": f"{number}g", "Ti": f"{number * 1024}g",
            "k": f"{number * 1000}b", "M": f"{number * 10**6}b", "G": f"{number * 10**9}b", "T": f"{number * 10**12}b"}[suffix]


_ref = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)")


def expand(value: str, env: dict[str, str]) -> str:
    """Kubernetes' $(VAR) expansion: a defined earlier variable is substituted, $$ is a literal $, anything else stays."""
    return _ref.sub(lambda m: "$" if m.group(0) == "$$" else env.get(m.group(1), m.group(0)), value)


class Translator:
    def __init__(self, docs: list[dict], images: dict[str, str], state_dir: str, namespace: str = "default",
                 port_base: int = 20000, session: str = "chart", limits: bool = True):
        self.docs, self.images, self.state_dir, self.namespace = docs, images, state_dir, namespace
        self.port_base, self.session, self.limits = port_base, session, limits
        self.secrets = secrets(docs)
        self.workloads = {w.name: w for w in workloads(docs)}
        self.services = [d for d in docs if d.get("kind") == "Service"]
        # Host-port slots: each relocatable workload's replicas take the next ones (a replacement pod reuses its slot).
        self.first_slot, slot = {}, 0
        for w in self.workloads.values():
            if self._relocatable(w):
                self.first_slot[w.name], slot = slot, slot + w.replicas

    # --- ports ------------------------------------------------------------------------------------------------------
    def _container(self, w: Workload) -> dict:
        if w.spec.get("initContainers"):
            raise TranslationError(f"{w.kind} {w.name}: init containers are not translated")
        containers = w.spec["containers"]
        if len(containers) != 1:
            raise TranslationError(f"{w.kind} {w.name}: {len(containers)} containers; one per pod is translated")
        return containers[0]

    def _relocatable(self, w: Workload) -> bool:
        """Whether every declared port appears as an env value: then the pod can move to other host ports."""
        c = self._container(w)
        values = {str(e.get("value")) for e in c.get("env", []) if "value" in e}
        return all(str(p["containerPort"]) in values for p in c.get("ports", []))

    def host_ports(self, w: Workload, replica: int) -> dict[str, int]:
        shift = self.port_base + self.first_slot[w.name] + replica if w.name in self.first_slot else 0
        if shift == 0 and replica > 0:
            raise TranslationError(f"{w.kind} {w.name}: a second replica would need other ports, and no setting carries them")
        ports = {}
        for p in self._container(w).get("ports", []):
            host = int(p["containerPort"]) + shift
            ports[str(p["containerPort"])] = host
            if "name" in p:
                ports[p["name"]] = host
        return ports

    def _service_address(self, name: str, port: int) -> str:
        for s in self.services:
            if s["metadata"]["name"] != name:
                continue
            selector = s["spec"].get("selector", {})
            target = next((p.get("targetPort", p["port"]) for p in s["spec"]["ports"] if int(p["port"]) == port), None)
            if target is None:
                raise TranslationError(f"Service {name} has no port {port}")
            for w in self.workloads.values():
                if selector and all(w.labels.get(k) == v for k, v in selector.items()):
                    return f"{LOOPBACK}:{self.host_ports(w, 0)[str(target)]}"
            raise TranslationError(f"Service {name} selects no rendered pod")
        raise TranslationError(f"no Service {name}")

    def _resolve_services(self, value: str) -> str:
        names = "|".join(re.escape(s["metadata"]["name"]) for s in self.services)
        if not names:
            return value
        ns = re.escape(self.namespace)
        pattern = re.compile(rf"(?<![\w.-])({names})(?:\.{ns}(?:\.svc(?:\.cluster\.local)?)?)?:(\d+)\b")
        return pattern.sub(lambda m: self._service_address(m.group(1), int(m.group(2))), value)

    # --- one pod ----------------------------------------------------------------------------------------------------
    def pod(self, workload: str, replica: int, name: str | None = None) -> Pod:
        """Replica number `replica` of a workload; a replacement pod (name given) takes the same host ports."""
        w = self.workloads[workload]
        c = self._container(w)
        name = name or f"{self.session}-{w.name}-{replica}"
        ports = self.host_ports(w, replica)
        shift = {str(int(k)): str(v) for k, v in ports.items() if k.isdigit()}
        image = self.images.get(c["image"], c["image"])
        args = ["--name", name, "--label", f"{LABEL}={self.session}", "--network", "host",
                "--stop-timeout", str(int(w.spec.get("terminationGracePeriodSeconds", 30)))]

        env: dict[str, str] = {}
        for e in c.get("env", []):
            if "value" in e:
                value = shift.get(str(e["value"]), str(e["value"]))
                env[e["name"]] = self._resolve_services(expand(value, env))
            elif "fieldRef" in e.get("valueFrom", {}):
                path = e["valueFrom"]["fieldRef"]["fieldPath"]
                known = {"metadata.name": name, "metadata.namespace": self.namespace, "status.podIP": LOOPBACK,
                         "status.hostIP": LOOPBACK, "spec.nodeName": os.uname().nodename}
                if path not in known:
                    raise TranslationError(f"{w.name}: env {e['name']} from fieldRef {path} is not translated")
                env[e["name"]] = known[path]
            elif "secretKeyRef" in e.get("valueFrom", {}):
                ref = e["valueFrom"]["secretKeyRef"]
                try:
                    env[e["name"]] = self.secrets[ref["name"]][ref["key"]]
                except KeyError:
                    raise TranslationError(f"{w.name}: env {e['name']} needs Secret {ref['name']} key {ref['key']}, "
                                           "which the render does not hold (an existingSecret: create it and pass it)") from None
            else:
                raise TranslationError(f"{w.name}: env {e['name']} has a source that is not translated: {e}")
        if c.get("envFrom"):
            raise TranslationError(f"{w.name}: envFrom is not translated")
        os.makedirs(self.state_dir, exist_ok=True)
        env_file = os.path.join(self.state_dir, f"{name}.env")
        fd = os.open(env_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            for k, v in env.items():
                if "\n" in v:
                    raise TranslationError(f"{w.name}: env {k} spans lines; an env-file cannot carry it")
                f.write(f"{k}={v}\n")
        args += ["--env-file", env_file]

        args += self._security(w, c)
        volumes = self._volumes(w, c, f"{self.session}-{w.name}-{replica}", args)
        limits = (c.get("resources") or {}).get("limits") or {}
        for key in limits:
            if key not in ("memory", "cpu"):
                raise TranslationError(f"{w.name}: resource limit {key} (a device) is not translated; render with it off")
        if self.limits and "memory" in limits:
            args += ["--memory", quantity(limits["memory"], "memory")]
        if self.limits and "cpu" in limits:
            args += ["--cpus", quantity(limits["cpu"], "cpu")]

        if c.get("command"):
            args += ["--entrypoint", json.dumps(c["command"])]
        args.append(image)
        args += [expand(str(a), env) for a in c.get("args", [])]

        probes = {}
        for kind in ("startup", "liveness", "readiness"):
            p = c.get(f"{kind}Probe")
            if p:
                probes[kind] = self._probe(w, kind, p, ports)
        return Pod(name, w.name, w.kind, replica, image, args, env, ports, probes,
                   int(w.spec.get("terminationGracePeriodSeconds", 30)), volumes)

    def _security(self, w: Workload, c: dict) -> list[str]:
        pod_sc = w.spec.get("securityContext") or {}
        sc = {**{k: v for k, v in pod_sc.items() if k in ("runAsUser", "runAsGroup", "runAsNonRoot", "seccompProfile")},
              **(c.get("securityContext") or {})}
        args = []
        user, group = sc.get("runAsUser"), sc.get("runAsGroup")
        if user is not None:
            args += ["--user", f"{user}:{group}" if group is not None else str(user)]
        if sc.get("runAsNonRoot") and (user is None or int(user) == 0):
            raise TranslationError(f"{w.name}: runAsNonRoot with runAsUser {user}: the kubelet would refuse to start it")
        for g in [pod_sc.get("fsGroup"), *(pod_sc.get("supplementalGroups") or [])]:
            if g is not None:
                args += ["--group-add", str(g)]
        if sc.get("readOnlyRootFilesystem"):
            # No tmpfs of podman's own on /tmp, /run, /var/tmp: a write there must fail as it would in the pod.
            args += ["--read-only", "--read-only-tmpfs=false"]
        caps = sc.get("capabilities") or {}
        args += [a for cap in caps.get("drop", []) for a in ("--cap-drop", cap)]
        args += [a for cap in caps.get("add", []) for a in ("--cap-add", cap)]
        if sc.get("allowPrivilegeEscalation") is False:
            args += ["--security-opt", "no-new-privileges"]
        if sc.get("privileged"):
            raise TranslationError(f"{w.name}: privileged containers are not translated")
        seccomp = (sc.get("seccompProfile") or {}).get("type", "RuntimeDefault")
        if seccomp == "Unconfined":
            args += ["--security-opt", "seccomp=unconfined"]
        elif seccomp != "RuntimeDefault":
            raise TranslationError(f"{w.name}: seccompProfile {seccomp} is not translated")
        return args

    def _volumes(self, w: Workload, c: dict, claim_prefix: str, args: list[str]) -> list[str]:
        sources = {v["name"]: v for v in w.spec.get("volumes", [])}
        claims = {t["metadata"]["name"]: t for t in w.claims}
        made = []
        for m in c.get("volumeMounts", []):
            path, ro = m["mountPath"], ",ro" if m.get("readOnly") else ""
            v = sources.get(m["name"])
            if v is not None and "emptyDir" in v:
                size = (v["emptyDir"] or {}).get("sizeLimit")
                args += ["--tmpfs", f"{path}:rw,mode=0777" + (f",size={quantity(size, 'memory')}" if size else "")]
            elif v is not None and "hostPath" in v:
                args += ["-v", f"{v['hostPath']['path']}:{path}:{'ro' if ro else 'rw'}"]
            elif v is None and m["name"] in claims:
                volume = f"{claim_prefix}-{m['name']}"  # per replica, as a StatefulSet's claim outlives its pods
                made.append(volume)
                args += ["-v", f"{volume}:{path}:U" + ro]
            elif v is not None and "persistentVolumeClaim" in v:
                raise TranslationError(f"{w.name}: volume {m['name']} is an existing PersistentVolumeClaim; "
                                       "render with a hostPath instead (dataset.hostPath) to run it here")
            else:
                raise TranslationError(f"{w.name}: volume {m['name']} ({v}) is not translated")
        return made

    def _probe(self, w: Workload, kind: str, p: dict, ports: dict[str, int]) -> Probe:
        http = tcp = execute = None
        if "httpGet" in p:
            port = str(p["httpGet"]["port"])
            if port not in ports:
                raise TranslationError(f"{w.name}: {kind} probe port {port} is not a port the container declares")
            http = (p["httpGet"].get("path", "/"), ports[port])
        elif "tcpSocket" in p:
            tcp = ports[str(p["tcpSocket"]["port"])]
        elif "exec" in p:
            execute = [str(a) for a in p["exec"]["command"]]
        else:
            raise TranslationError(f"{w.name}: {kind} probe {p} is not translated")
        return Probe(kind, http, execute, tcp, float(p.get("periodSeconds", 10)), float(p.get("timeoutSeconds", 1)),
                     int(p.get("failureThreshold", 3)), float(p.get("initialDelaySeconds", 0)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("render", help="helm template output")
    parser.add_argument("--image", action="append", default=[], metavar="FROM=TO", help="use image TO where the chart says FROM")
    parser.add_argument("--state", required=True, help="folder for the env-files (they hold the Redis password: 0600)")
    parser.add_argument("--namespace", default="default")
    parser.add_argument("--port-base", type=int, default=20000)
    parser.add_argument("--session", default="chart", help="container name prefix and label value")
    a = parser.parse_args()
    images = dict(i.split("=", 1) for i in a.image)
    try:
        t = Translator(load(a.render), images, a.state, a.namespace, a.port_base, a.session)
        for w in t.workloads.values():
            for replica in range(w.replicas):
                pod = t.pod(w.name, replica)
                print(f"# {w.kind} {w.name}, replica {replica}: ports {pod.ports}, grace {pod.grace_seconds} s")
                for p in pod.probes.values():
                    print(f"#   {p.kind} probe: {p.http or p.exec or p.tcp} every {p.period:g} s, timeout {p.timeout:g} s, "
                          f"{p.failure_threshold} failures")
                print("podman run -d " + shlex.join(pod.run_args))
    except TranslationError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
