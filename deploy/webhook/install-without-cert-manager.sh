#!/usr/bin/env bash
# Install the auto-NUMA webhook on a cluster without cert-manager:
#   1. kvnuma webhook gen-certs writes a CA and an ECDSA serving pair for the Service's DNS names;
#   2. the pair goes into the Secret the Deployment mounts;
#   3. the CA goes into the MutatingWebhookConfiguration's caBundle.
# Rotate by running it again: the webhook reloads the new files without a restart.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${CERT_DIR:-$(mktemp -d)}
kvnuma webhook gen-certs --out "$out" --service kvnuma-webhook --namespace kvnuma-system
kubectl apply -f "$here/namespace.yaml"
kubectl -n kvnuma-system create secret tls kvnuma-webhook-tls --cert="$out/tls.crt" --key="$out/tls.key" \
  --dry-run=client -o yaml | kubectl apply -f -
for f in rbac.yaml deployment.yaml pdb.yaml service.yaml mutatingwebhookconfiguration.yaml; do
  kubectl apply -f "$here/$f"
done
kubectl annotate mutatingwebhookconfiguration kvnuma-auto-numa cert-manager.io/inject-ca-from- 2>/dev/null || true
ca=$(base64 -w0 < "$out/ca.crt")
kubectl patch mutatingwebhookconfiguration kvnuma-auto-numa --type=json \
  -p "[{\"op\": \"add\", \"path\": \"/webhooks/0/clientConfig/caBundle\", \"value\": \"$ca\"}]"
echo "installed; certificates in $out"
