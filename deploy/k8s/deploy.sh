#!/usr/bin/env bash
# Deploy an overlay with an exact image (by digest), run the migrations, wait for the rollout.
#
#   deploy/k8s/deploy.sh staging|production ghcr.io/OWNER/nsl@sha256:...
#
# Uses the current kubectl context, or the kubeconfig in $KUBECONFIG_DATA (base64) when set (CI).
# Rolling back is the same command with the previous release's digest (docs/deploy.md).
set -euo pipefail

if [[ $# -ne 2 || ! "$1" =~ ^(staging|production)$ || "$2" != *@sha256:* ]]; then
  echo "usage: $0 staging|production IMAGE@sha256:DIGEST" >&2
  exit 2
fi
overlay="$(cd "$(dirname "${BASH_SOURCE[0]}")/overlays/$1" && pwd)"
image="${2%@*}"
digest="${2#*@}"
namespace=nsl

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
if [[ -n "${KUBECONFIG_DATA:-}" ]]; then
  printf '%s' "$KUBECONFIG_DATA" | base64 -d > "$work/kubeconfig"
  chmod 0600 "$work/kubeconfig"
  export KUBECONFIG="$work/kubeconfig"
fi

mkdir "$work/release"
cat > "$work/release/kustomization.yaml" <<YAML
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - $overlay
images:
  - name: ghcr.io/neo-service-layer/nsl
    newName: $image
    digest: $digest
YAML

# A Job's pod template is immutable: the previous release's migration Job goes first.
kubectl -n "$namespace" delete job nsl-migrate --ignore-not-found --wait=true
kubectl apply -k "$work/release"
kubectl -n "$namespace" wait --for=condition=complete job/nsl-migrate --timeout=15m
kubectl -n "$namespace" rollout status daemonset/nsl-enclave --timeout=15m
kubectl -n "$namespace" rollout status deployment/nsl-api --timeout=15m
kubectl -n "$namespace" rollout status deployment/nsl-worker --timeout=15m
echo "deployed $2 to $1"
