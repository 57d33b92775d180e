#!/usr/bin/env bash
# The whole CLI flow against ckrv in a real cluster (set up by scripts/k3d-up.sh, or any
# cluster where k8s/ is applied with an `e2e` agent configured):
#
#   CKRV_E2E_KUBECONFIG=$(k3d kubeconfig write ckrv) scripts/e2e-k3d.sh
#
# 1. a user and an API token made with `ckrv admin` inside the server pod;
# 2. `ckrv run --cloud --wait` of a spec on a public repository with the model-free agent;
# 3. the job's Job and Secret in ckrv-jobs: labelled, the Secret owned by the Job, no secret
#    value in the Job;
# 4. `ckrv status`, `ckrv logs`, `ckrv pull` into a fresh clone (the file the agent wrote);
# 5. a long job cancelled with `ckrv cancel`: its Job and Secret are gone.
#
# Environment: CKRV_E2E_KUBECONFIG (required), CKRV_E2E_CONTEXT (default: current),
# CKRV_E2E_REPO / CKRV_E2E_BRANCH (a public repository the pods can clone), CKRV_E2E_PORT
# (local port of the port-forward, 18420), CKRV (the ckrv command on this machine,
# default `ckrv`).
set -euo pipefail

: "${CKRV_E2E_KUBECONFIG:?set CKRV_E2E_KUBECONFIG to the kubeconfig of the cluster}"
repo_url="${CKRV_E2E_REPO:-https://github.com/octocat/Hello-World.git}"
branch="${CKRV_E2E_BRANCH:-master}"
port="${CKRV_E2E_PORT:-18420}"
read -r -a ckrv <<< "${CKRV:-ckrv}"  # may hold arguments: CKRV="python3 -m ckrv"

kube=(kubectl --kubeconfig "$CKRV_E2E_KUBECONFIG")
[[ -n "${CKRV_E2E_CONTEXT:-}" ]] && kube+=(--context "$CKRV_E2E_CONTEXT")

work="$(mktemp -d "${TMPDIR:-/tmp}/ckrv-e2e.XXXXXX")"
forward_pid=""
# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
  if [[ -n "$forward_pid" ]]; then kill "$forward_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "e2e-k3d: FAIL: $*" >&2; exit 1; }
step() { echo "e2e-k3d: $*"; }

step "waiting for the server"
"${kube[@]}" -n ckrv rollout status deployment/ckrv-server --timeout=180s

step "port-forward 127.0.0.1:$port -> svc/ckrv-server"
"${kube[@]}" -n ckrv port-forward svc/ckrv-server "$port:8420" >"$work/forward.log" 2>&1 &
forward_pid=$!
for _ in $(seq 1 50); do
  curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
  sleep 0.2
done
curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null || fail "server not reachable on :$port"

step "creating a user and a token in the server pod"
email="e2e-$(date +%s)@example.com"
admin=("${kube[@]}" -n ckrv exec -i deployment/ckrv-server -- ckrv admin --data-dir /data)
head -c 24 /dev/urandom | base64 | "${admin[@]}" user add "$email" --tier pro --password-stdin
CKRV_TOKEN="$("${admin[@]}" token create "$email" --expires 1d)"
export CKRV_TOKEN CHAKRAVARTI_API_URL="http://127.0.0.1:$port/v1"
export CKRV_CONFIG_DIR="$work/config"

printf '# Say hello from k3d\nWrite E2E.md.\n' > "$work/spec.md"
step "ckrv run --cloud --wait ($repo_url @ $branch)"
"${ckrv[@]}" run --cloud --spec "$work/spec.md" --repo "$repo_url" --base-branch "$branch" \
  --agent e2e --wait --json > "$work/job.json" || fail "the job did not succeed: $(cat "$work/job.json")"
job_id="$(python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])' < "$work/job.json")"
step "job $job_id succeeded"

step "checking its Job and Secret"
"${kube[@]}" -n ckrv-jobs get job "ckrv-job-$job_id" -o json > "$work/k8s-job.json"
"${kube[@]}" -n ckrv-jobs get secret "ckrv-job-$job_id-env" -o json > "$work/k8s-secret.json"
python3 - "$work/k8s-job.json" "$work/k8s-secret.json" "$CKRV_TOKEN" <<'PY' || fail "Job/Secret check"
import base64, json, sys
job, secret = (json.load(open(p)) for p in sys.argv[1:3])
labels = job["metadata"]["labels"]
assert labels["app.kubernetes.io/managed-by"] == "ckrv", labels
assert job["spec"]["backoffLimit"] == 0
assert any(c["type"] == "Complete" for c in job["status"]["conditions"])
owner = secret["metadata"]["ownerReferences"][0]
assert owner["kind"] == "Job" and owner["uid"] == job["metadata"]["uid"], owner
text = json.dumps(job)
for key, value in secret["data"].items():
    plain = base64.b64decode(value).decode()
    if key != "CKRV_API_URL" and key != "CKRV_JOB_ID" and len(plain) >= 8:
        assert plain not in text, f"{key} leaks into the Job"
PY

step "ckrv status / logs / pull"
"${ckrv[@]}" status "$job_id" > /dev/null || fail "ckrv status"
"${ckrv[@]}" logs "$job_id" > "$work/log.txt" || fail "ckrv logs"
grep -q "cloning" "$work/log.txt" || fail "the log has no clone step: $(cat "$work/log.txt")"
git clone --quiet --branch "$branch" "$repo_url" "$work/checkout"
(cd "$work/checkout" && "${ckrv[@]}" pull "$job_id") || fail "ckrv pull"
grep -q "hello from k3d" "$work/checkout/E2E.md" || fail "the pulled diff lacks E2E.md"

step "a long job, cancelled"
printf '# Wait\n' > "$work/wait.md"
"${ckrv[@]}" run --cloud --spec "$work/wait.md" --repo "$repo_url" --base-branch "$branch" \
  --agent e2e --setup "sleep 600" --json > "$work/long.json"
long_id="$(python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])' < "$work/long.json")"
for _ in $(seq 1 120); do
  "${kube[@]}" -n ckrv-jobs get job "ckrv-job-$long_id" >/dev/null 2>&1 && break
  sleep 1
done
"${ckrv[@]}" cancel "$long_id" || fail "ckrv cancel"
for _ in $(seq 1 60); do
  if ! "${kube[@]}" -n ckrv-jobs get job "ckrv-job-$long_id" >/dev/null 2>&1 \
     && ! "${kube[@]}" -n ckrv-jobs get secret "ckrv-job-$long_id-env" >/dev/null 2>&1; then
    step "PASS"
    exit 0
  fi
  sleep 1
done
fail "the cancelled job's Job or Secret is still there"
