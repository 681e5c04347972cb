#!/usr/bin/env python3
"""Checks chart2podman.py's translation of a default render (no podman needed; check.sh runs it before the pods):
every setting the podman arguments carry must be the rendered one, mapped as the table in chart2podman.py says.

    test_chart2podman.py render.yaml      # helm template mc helm/metacluster --namespace metacluster
"""
import base64
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from chart2podman import TranslationError, Translator, load  # noqa: E402


def main(render: str) -> int:
    docs = load(render)
    secret = next(d for d in docs if d.get("kind") == "Secret")
    password = base64.b64decode(secret["data"]["redis-password"]).decode()
    with tempfile.TemporaryDirectory() as state:
        t = Translator(docs, {"redis:7": "local-redis:1"}, state, "metacluster", port_base=20000, session="t")
        names = {w.kind + "/" + n.rsplit("-", 1)[-1]: n for n, w in t.workloads.items()}
        coordinator = t.pod(names["Deployment/coordinator"], 0)
        w0, w1 = t.pod(names["Deployment/worker"], 0), t.pod(names["Deployment/worker"], 1)
        redis = t.pod(names["StatefulSet/redis"], 0)
        checks = []

        def check(what: str, ok: bool) -> None:
            checks.append(ok)
            print(("ok    " if ok else "FAIL  ") + what)

        # Ports: each pod its own slot; the env settings carrying them follow; Redis keeps 6379.
        check("coordinator ports shifted by the base", coordinator.ports["http"] == 28080 and coordinator.ports["silo"] == 31111)
        check("workers take the next slots", (w0.ports["http"], w1.ports["http"], w1.ports["gateway"]) == (28081, 28082, 50002))
        check("the port settings follow the ports", w1.env["MetaCluster__HttpPort"] == "28082"
              and w1.env["MetaCluster__SiloPort"] == "31113" and w1.env["MetaCluster__GatewayPort"] == "50002")
        check("Redis keeps its port (no setting carries it)", redis.ports == {"6379": 6379, "redis": 6379})
        # Env: the Secret's password, $(VAR) expanded, the Service name to loopback, the pod IP to 127.0.0.1.
        check("REDIS_PASSWORD from the rendered Secret", coordinator.env["REDIS_PASSWORD"] == password)
        check("$(REDIS_PASSWORD) expanded and the Service mapped",
              coordinator.env["MetaCluster__Redis"] == f"127.0.0.1:6379,password={password},abortConnect=false")
        check("$(POD_IP) → 127.0.0.1", coordinator.env["MetaCluster__AdvertisedIP"] == "127.0.0.1")
        check("the password only in a 0600 env-file", password not in " ".join(coordinator.run_args)
              and oct(os.stat(os.path.join(state, f"{coordinator.name}.env")).st_mode & 0o777) == "0o600")
        # securityContext, volumes, limits, grace, probes.
        a = " ".join(coordinator.run_args)
        check("user 10001:10001, fsGroup, read-only root with no tmpfs of podman's own",
              "--user 10001:10001" in a and "--group-add 10001" in a and "--read-only --read-only-tmpfs=false" in a)
        check("capabilities dropped, no privilege escalation", "--cap-drop ALL" in a and "no-new-privileges" in a)
        check("emptyDirs as tmpfs with their size limits", "--tmpfs /tmp:rw,mode=0777,size=1g" in a
              and "--tmpfs /checkpoints:rw,mode=0777,size=2g" in a)
        check("memory limit and grace period", "--memory 4g" in a and "--stop-timeout 40" in a)
        check("probes on the pod's own http port", coordinator.probes["readiness"].http == ("/readyz", 28080)
              and coordinator.probes["startup"].failure_threshold == 60 and coordinator.probes["liveness"].timeout == 5)
        r = " ".join(redis.run_args)
        check("Redis: the mapped image, its command as entrypoint, UID 999, its claim as a volume",
              "local-redis:1" in redis.run_args and "--entrypoint" in redis.run_args and "--user 999:999" in r
              and f"t-{names['StatefulSet/redis']}-0-data:/data:U" in r)
        check("Redis exec probe", redis.probes["readiness"].exec == ["redis-cli", "ping"])
        # What cannot be run here is an error naming it.
        sts = next(d for d in docs if d.get("kind") == "StatefulSet")
        sts["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] = 1
        try:
            Translator(docs, {}, state, "metacluster").pod(names["StatefulSet/redis"], 0)
            check("a device limit is refused", False)
        except TranslationError as e:
            check(f"a device limit is refused ({e})", "nvidia.com/gpu" in str(e))
    print(f"chart2podman: {sum(checks)} of {len(checks)} checks held")
    return 0 if all(checks) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
