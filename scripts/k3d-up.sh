#!/usr/bin/env bash
# A local Kubernetes cluster running ckrv: create a k3d cluster, build the images from this
# checkout and import them, apply k8s/ (kustomize), and wait for the server.
#
#   scripts/k3d-up.sh                 # cluster "ckrv" (CLUSTER=name to change)
#   scripts/e2e-k3d.sh                # then run the end-to-end flow against it
#   k3d cluster delete ckrv           # when done
#
# The server's config is k8s/ckrv.toml with two changes for the test cluster: the public URL
# is the port-forward e2e-k3d.sh opens, and an agent `e2e` that needs no model API.
# Needs docker, k3d and kubectl.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

cluster="${CLUSTER:-ckrv}"
context="k3d-$cluster"
local_port="${CKRV_E2E_PORT:-18420}"

for tool in docker k3d kubectl; do
  command -v "$tool" >/dev/null || { echo "k3d-up: $tool is required" >&2; exit 1; }
done

if k3d cluster get "$cluster" >/dev/null 2>&1; then
  echo "k3d-up: cluster $cluster exists"
else
  echo "k3d-up: creating cluster $cluster"
  k3d cluster create "$cluster" --agents 1 --wait --timeout 180s
fi

scripts/build-images.sh --tag latest
echo "k3d-up: importing images"
k3d image import --cluster "$cluster" ckrv-server:latest ckrv-worker:latest

echo "k3d-up: applying k8s/"
kubectl --context "$context" apply -k k8s/

# The test cluster's config: reachable through the port-forward, plus a model-free agent.
config="$(mktemp "${TMPDIR:-/tmp}/ckrv-k3d.XXXXXX")"
trap 'rm -f "$config"' EXIT
sed "s|^public_url = .*|public_url = \"http://127.0.0.1:${local_port}\"|" k8s/ckrv.toml > "$config"
cat >> "$config" <<'TOML'

[agents.e2e]
command = ["sh", "-c", "printf 'hello from k3d\\n' > E2E.md"]
TOML
kubectl --context "$context" -n ckrv create configmap ckrv-config \
  --from-file=ckrv.toml="$config" --dry-run=client -o yaml \
  | kubectl --context "$context" apply -f -
kubectl --context "$context" -n ckrv rollout restart deployment/ckrv-server
kubectl --context "$context" -n ckrv rollout status deployment/ckrv-server --timeout=180s

echo "k3d-up: ready. kubeconfig: $(k3d kubeconfig write "$cluster")"
echo "  CKRV_E2E_KUBECONFIG=\$(k3d kubeconfig write $cluster) scripts/e2e-k3d.sh"
