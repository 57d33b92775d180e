#!/usr/bin/env bash
# Build the ckrv-server and ckrv-worker container images from this checkout's wheel.
#
#   scripts/build-images.sh                               # ckrv-server:latest, ckrv-worker:latest
#   scripts/build-images.sh --tag 0.1.0 --registry registry.example.com/ckrv --push
#   scripts/build-images.sh --agents "@anthropic-ai/claude-code" --pip-agents "aider-chat"
#
# Options (or the environment variable in brackets):
#   --tag TAG           image tag [TAG, default latest]
#   --registry PREFIX   prefix the image names, e.g. registry.example.com/ckrv [REGISTRY]
#   --agents PKGS       npm packages of agent CLIs baked into the worker [AGENTS]
#   --pip-agents PKGS   pip packages of agent CLIs baked into the worker [PIP_AGENTS]
#   --push              push both images after building
# DOCKER picks the container CLI (docker, podman, nerdctl); PYTHON the interpreter that builds
# the wheel.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

tag="${TAG:-latest}"
registry="${REGISTRY:-}"
agents="${AGENTS:-}"
pip_agents="${PIP_AGENTS:-}"
push=0
docker="${DOCKER:-docker}"

usage() { sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; }

while [[ $# -gt 0 ]]; do
  case "$1" in
    --tag) tag="$2"; shift 2 ;;
    --registry) registry="$2"; shift 2 ;;
    --agents) agents="$2"; shift 2 ;;
    --pip-agents) pip_agents="$2"; shift 2 ;;
    --push) push=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "build-images: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
done

if [[ -z "${PYTHON:-}" ]]; then
  if [[ -x .venv/bin/python ]]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
command -v "$docker" >/dev/null || { echo "build-images: $docker not found (set DOCKER)" >&2; exit 1; }

prefix="${registry:+${registry%/}/}"
server_image="${prefix}ckrv-server:${tag}"
worker_image="${prefix}ckrv-worker:${tag}"

# A clean build context: the wheel and the two image directories, nothing else of the checkout.
context="$(mktemp -d "${TMPDIR:-/tmp}/ckrv-images.XXXXXX")"
trap 'rm -rf "$context"' EXIT
echo "build-images: building the ckrv wheel"
"$PYTHON" -m pip wheel --quiet --no-deps --wheel-dir "$context/wheels" .
cp -R worker server "$context/"

echo "build-images: $worker_image"
"$docker" build --file "$context/worker/Dockerfile" \
  --build-arg AGENTS="$agents" --build-arg PIP_AGENTS="$pip_agents" \
  --tag "$worker_image" "$context"

echo "build-images: $server_image"
"$docker" build --file "$context/server/Dockerfile" --tag "$server_image" "$context"

if [[ "$push" -eq 1 ]]; then
  "$docker" push "$worker_image"
  "$docker" push "$server_image"
fi
echo "build-images: done: $server_image $worker_image"
