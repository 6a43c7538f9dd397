#!/usr/bin/python3
"""The deployment files say what the daemon does (TAP).

deploy/k8s/sluice.yaml and deploy/sluice.service must start the daemon the way
docs/operations.md says: the config checked before the daemon starts, probes
through `sluicectl health`, what DPDK needs from the node. And the config they
carry must pass `sluice --check-config` for real: the ConfigMap's sluice.conf,
with its paths moved into a scratch directory, is checked by the built daemon
against a real signed pack and real keys.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tap_checks import report  # noqa: E402

SOURCE = os.environ.get("SLUICE_SOURCE_ROOT", os.path.join(os.path.dirname(__file__), ".."))
BUILD = os.environ.get("SLUICE_BUILD_ROOT", os.path.join(SOURCE, "build"))
results = []


def check(name, ok, why=""):
    results.append((name, bool(ok), why))


def manifests():
    with open(os.path.join(SOURCE, "deploy/k8s/sluice.yaml")) as f:
        docs = [d for d in yaml.safe_load_all(f) if d is not None]
    return {d["kind"]: d for d in docs}


def k8s_checks(docs):
    check("the manifest holds a ConfigMap and a DaemonSet",
          "ConfigMap" in docs and "DaemonSet" in docs, sorted(docs))
    pod = docs["DaemonSet"]["spec"]["template"]["spec"]
    daemon = pod["containers"][0]
    init = pod["initContainers"][0]
    check("the init container runs --check-config on the mounted config",
          init["command"][1:] == ["--check-config", "--config", "/etc/sluice/sluice.conf"],
          init["command"])
    args = daemon["args"]
    check("the daemon reads the same config after '--'",
          args[args.index("--") + 1:] == ["--config", "/etc/sluice/sluice.conf"], args)
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        cmd = daemon[probe]["exec"]["command"]
        check(f"{probe} runs sluicectl health", cmd[0].endswith("sluicectl") and
              cmd[-1] == "health", cmd)
    res = daemon["resources"]
    check("requests equal limits (Guaranteed QoS: whole CPUs for the static CPU manager)",
          res["requests"] == res["limits"], res)
    check("hugepages are requested as a resource",
          any(k.startswith("hugepages-") for k in res["limits"]), res["limits"])
    mounts = {m["mountPath"]: m["name"] for m in daemon["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    check("every mount has its volume", all(n in volumes for n in mounts.values()), mounts)
    hp = volumes[mounts.get("/dev/hugepages", "")]
    check("/dev/hugepages is a HugePages emptyDir",
          hp.get("emptyDir", {}).get("medium", "").startswith("HugePages"), hp)
    check("the control socket's directory is mounted where sluice.conf puts it",
          "/run/sluice" in mounts)
    caps = daemon["securityContext"]["capabilities"]
    with open(os.path.join(SOURCE, "deploy/sluice.service")) as f:
        unit = f.read()
    bounding = re.search(r"^CapabilityBoundingSet=(.*)$", unit, re.M).group(1).split()
    check("the pod adds exactly the unit's capabilities",
          sorted("CAP_" + c for c in caps["add"]) == sorted(bounding), (caps, bounding))
    check("all other capabilities are dropped", caps.get("drop") == ["ALL"], caps)
    check("host networking, with cluster DNS", pod["hostNetwork"] is True and
          pod["dnsPolicy"] == "ClusterFirstWithHostNet")


def unit_checks():
    with open(os.path.join(SOURCE, "deploy/sluice.service")) as f:
        unit = f.read()
    check("the unit checks the config before starting",
          re.search(r"^ExecStartPre=\S*sluice --check-config", unit, re.M))
    check("the unit reloads with SIGHUP (reopen the events file and the audit log)",
          re.search(r"^ExecReload=/bin/kill -HUP \$MAINPID$", unit, re.M))
    after = re.search(r"^After=(.*)$", unit, re.M).group(1).split()
    check("the unit starts after the network and the message bus",
          "network-online.target" in after and "nats-server.service" in after, after)


def run(argv, **kw):
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, **kw)


def config_checks(docs):
    conf = docs["ConfigMap"]["data"]["sluice.conf"]
    tmp = tempfile.mkdtemp(prefix="sluice-deploy-")
    try:
        # Every absolute path of the config moves under tmp.
        moved = re.sub(r"= (/\S+)", lambda m: "= " + tmp + m.group(1), conf)
        paths = re.findall(r"= (" + re.escape(tmp) + r"/\S+)", moved)
        for p in paths:
            os.makedirs(os.path.dirname(p), exist_ok=True)
        pack_tool = os.path.join(BUILD, "patterns/sluice-pack")
        pack = next(p for p in paths if p.endswith(".pack"))
        pub = next(p for p in paths if p.endswith(".pub"))
        hash_key = next(p for p in paths if p.endswith(".key"))
        signer = os.path.join(tmp, "signer")
        private = signer + ".key"
        r = run([pack_tool, "compile", os.path.join(SOURCE, "patterns/rules/default.yaml"),
                 "-o", pack])
        check("the bundled rules compile for the check", r.returncode == 0, r.stderr)
        r = run([pack_tool, "keygen", signer])
        check("a signing key is made", r.returncode == 0, r.stdout + r.stderr)
        shutil.copy(signer + ".pub", pub)
        r = run([pack_tool, "sign", pack, "--key", private])
        check("the pack is signed", r.returncode == 0, r.stdout + r.stderr)
        with open(hash_key, "w") as f:
            f.write(os.urandom(16).hex() + "\n")
        conf_path = os.path.join(tmp, "sluice.conf")
        with open(conf_path, "w") as f:
            f.write(moved)
        sluice = os.path.join(BUILD, "dataplane/sluice")
        r = run([sluice, "--check-config", "--config", conf_path])
        check("the ConfigMap's sluice.conf passes sluice --check-config",
              r.returncode == 0 and "config ok" in r.stdout, r.stdout + r.stderr)
        check("it reports the keyed hash and the rotation",
              "hash keyed" in r.stdout and "rotates at 512 MiB, 5 kept" in r.stdout, r.stdout)
        port = docs["DaemonSet"]["spec"]["template"]["metadata"]["annotations"][
            "prometheus.io/port"]
        check("the metrics endpoint is where the pod's scrape annotation says",
              re.search(r"^metrics-listen = \S+:" + port + "$", conf, re.M) and
              "9470" in r.stdout, r.stdout)
        # And the check can fail: an unsigned pack under require-signed.
        r = run([pack_tool, "compile", os.path.join(SOURCE, "patterns/rules/default.yaml"),
                 "-o", pack])
        r = run([sluice, "--check-config", "--config", conf_path])
        check("an unsigned pack fails the same check (exit 2, the reason)",
              r.returncode == 2 and "not signed" in r.stdout + r.stderr, r.stdout + r.stderr)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    try:
        docs = manifests()
        k8s_checks(docs)
        unit_checks()
        config_checks(docs)
    except Exception as e:  # a missing key is a failed check, not a crash
        check("the deployment files read as expected", False, repr(e))
    return report(results)


if __name__ == "__main__":
    sys.exit(main())
