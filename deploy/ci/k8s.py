"""CI helper for deploy/kubernetes (no kubectl or kustomize here).

  k8s.py render DIR
      Renders DIR/kustomization.yaml the way `kustomize build` does for what our kustomizations use
      (`resources`: files, or directories holding a kustomization; `patches` with a `target` and a
      `path` to an RFC 6902 JSON patch: add, remove, replace, move), to stdout as a multi-document
      YAML stream. Anything else in a kustomization is an error, so that it cannot be ignored.

  k8s.py ci-variant FILE --proxy-port N --admin-port N --app-port N --otlp-port N --jaeger-udp-port N
      The rendered FILE made runnable by `podman kube play` on this machine: the pod on the host
      network with every address on 127.0.0.1 and these ports, local images (imagePullPolicy: Never),
      one replica, no Service (kube play has no use for it), no containerPorts (they become port
      mappings, which the host network refuses; the probes get the admin port's number), and the
      namespace as a literal. The ConfigMap keeps its keys.
"""
from __future__ import annotations

import argparse
import copy
import os
import sys

import yaml

KNOWN_KEYS = {"apiVersion", "kind", "resources", "patches"}


def _load_all(path: str) -> list[dict]:
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


def _pointer(path: str) -> list[str]:
    if not path.startswith("/"):
        raise ValueError(f"JSON pointer {path!r} does not start with /")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _parent(doc, parts: list[str]):
    node = doc
    for p in parts[:-1]:
        node = node[int(p)] if isinstance(node, list) else node[p]
    return node, parts[-1]


def _get(doc, path: str):
    node, last = _parent(doc, _pointer(path))
    return node[int(last)] if isinstance(node, list) else node[last]


def _remove(doc, path: str):
    node, last = _parent(doc, _pointer(path))
    if isinstance(node, list):
        return node.pop(int(last))
    return node.pop(last)


def _add(doc, path: str, value):
    node, last = _parent(doc, _pointer(path))
    if isinstance(node, list):
        node.insert(len(node) if last == "-" else int(last), value)
    else:
        node[last] = value


def apply_json_patch(doc: dict, ops: list[dict]) -> dict:
    doc = copy.deepcopy(doc)
    for op in ops:
        kind = op["op"]
        if kind == "add":
            _add(doc, op["path"], copy.deepcopy(op["value"]))
        elif kind == "remove":
            _remove(doc, op["path"])
        elif kind == "replace":
            _remove(doc, op["path"])
            _add(doc, op["path"], copy.deepcopy(op["value"]))
        elif kind == "move":
            _add(doc, op["path"], _remove(doc, op["from"]))
        else:
            raise ValueError(f"unsupported JSON patch op {kind!r}")
    return doc


def _matches(doc: dict, target: dict) -> bool:
    group, _, version = doc.get("apiVersion", "").rpartition("/")
    want = {"group": group, "version": version, "kind": doc.get("kind"),
            "name": doc.get("metadata", {}).get("name")}
    return all(want[k] == v for k, v in target.items())


def render(directory: str) -> list[dict]:
    kfile = os.path.join(directory, "kustomization.yaml")
    with open(kfile) as f:
        k = yaml.safe_load(f)
    unknown = set(k) - KNOWN_KEYS
    if unknown:
        raise ValueError(f"{kfile}: keys this renderer does not implement: {sorted(unknown)}")
    docs: list[dict] = []
    for res in k.get("resources", []):
        path = os.path.normpath(os.path.join(directory, res))
        docs.extend(render(path) if os.path.isdir(path) else _load_all(path))
    for patch in k.get("patches", []):
        with open(os.path.join(directory, patch["path"])) as f:
            ops = yaml.safe_load(f)
        hits = [i for i, d in enumerate(docs) if _matches(d, patch["target"])]
        if len(hits) != 1:
            raise ValueError(f"{kfile}: patch target {patch['target']} matches {len(hits)} resources")
        docs[hits[0]] = apply_json_patch(docs[hits[0]], ops)
    return docs


def ci_variant(docs: list[dict], a) -> list[dict]:
    out = []
    for d in docs:
        d = copy.deepcopy(d)
        if d["kind"] == "Service":
            continue
        if d["kind"] == "ConfigMap":
            cfg = yaml.safe_load(d["data"]["traceproxy.yaml"])
            cfg.update({"listen": f"127.0.0.1:{a.proxy_port}", "admin": f"127.0.0.1:{a.admin_port}",
                        "upstream": f"http://127.0.0.1:{a.app_port}"})
            d["data"]["traceproxy.yaml"] = yaml.safe_dump(cfg, sort_keys=False)
        if d["kind"] == "Deployment":
            # The pod becomes tpd-web-pod-0: deploy/test.sh's names all start with tpd-.
            d["metadata"]["name"] = "tpd-" + d["metadata"]["name"]
            d["spec"]["replicas"] = 1
            pod = d["spec"]["template"]["spec"]
            pod["hostNetwork"] = True
            for c in pod.get("initContainers", []) + pod["containers"]:
                c["imagePullPolicy"] = "Never"
                c["image"] = {"traceproxy:latest": "localhost/traceproxy:ci",
                              "traceproxy-demo-app:latest": "localhost/traceproxy-demo-app:latest"}[c["image"]]
                env = {e["name"]: e for e in c.get("env", [])}
                for name, e in env.items():
                    # podman kube play knows fieldRef metadata.name but not metadata.namespace.
                    if e.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") == "metadata.namespace":
                        env[name] = {"name": name, "value": "default"}
                new = {"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{a.otlp_port}",
                       "APP_PORT": str(a.app_port), "JAEGER_AGENT_HOST": "127.0.0.1",
                       "JAEGER_AGENT_PORT": str(a.jaeger_udp_port), "JAEGER_FLUSH_INTERVAL_S": "0.2"}
                for name, value in new.items():
                    if name in env or (name == "JAEGER_FLUSH_INTERVAL_S" and "JAEGER_AGENT_HOST" in env):
                        env[name] = {"name": name, "value": value}
                if env:
                    c["env"] = list(env.values())
                # podman kube play turns containerPorts into port mappings, which the host network
                # refuses: drop them, and give the probes the admin port's number instead of its name.
                numbers = {"http": a.proxy_port, "admin": a.admin_port}
                c.pop("ports", None)
                for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
                    if probe in c:
                        c[probe]["httpGet"]["port"] = numbers[c[probe]["httpGet"]["port"]]
        out.append(d)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("render")
    r.add_argument("dir")
    c = sub.add_parser("ci-variant")
    c.add_argument("file")
    for name in ("proxy", "admin", "app", "otlp", "jaeger-udp"):
        c.add_argument(f"--{name}-port", type=int, required=True)
    a = ap.parse_args()
    docs = render(a.dir) if a.cmd == "render" else ci_variant(_load_all(a.file), a)
    yaml.safe_dump_all(docs, sys.stdout, sort_keys=False)


if __name__ == "__main__":
    main()
