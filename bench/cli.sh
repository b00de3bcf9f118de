#!/usr/bin/env bash
# Times `hallmark sign/verify` against `notation sign/verify` (v1.3.2, from
# tools/) as whole processes, on the same image in the same local distribution
# registry, with hyperfine (Debian package `hyperfine`).
#
#   bash bench/cli.sh            # from the repository root
#
# Both tools sign with an RSA-2048 key held in their own local store and
# verify against a strict trust policy that trusts that key.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v hyperfine >/dev/null || { echo "bench/cli.sh needs hyperfine: apt-get install hyperfine" >&2; exit 1; }

work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
tools=$(go run ./internal/testpeers/cmd/buildpeers)
go build -o "$work/hallmark" ./cmd/hallmark
export HALLMARK_HOME="$work/store" HALLMARK_PASSPHRASE=bench NOTATION_CONFIG="$work/notation" DOCKER_CONFIG="$work/docker"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$work/registry.yml" <<YAML
version: 0.1
log: {level: error}
storage: {inmemory: {}}
http: {addr: 127.0.0.1:$port}
YAML
OTEL_TRACES_EXPORTER=none "$tools/registry" serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/v2/" >/dev/null && break; sleep 0.1; done
host=127.0.0.1:$port

echo hello >"$work/payload.txt"
(cd "$work" && "$tools/oras" push --plain-http "$host/bench:v1" payload.txt >/dev/null)
digest=$("$tools/oras" resolve --plain-http "$host/bench:v1")
ref="$host/bench@$digest"

"$work/hallmark" key create bench --subject "CN=bench,O=Hallmark,ST=WA,C=US" >/dev/null
"$tools/notation" cert generate-test --default bench >/dev/null
mkdir -p "$work/ts/x509/ca/hallmark"
"$work/hallmark" key export-cert bench --root-only >"$work/ts/x509/ca/hallmark/root.pem"
cp "$NOTATION_CONFIG"/localkeys/bench.crt "$work/ts/x509/ca/hallmark/notation.pem"
mkdir -p "$NOTATION_CONFIG/truststore/x509/ca/hallmark"
cp "$work/ts/x509/ca/hallmark/"*.pem "$NOTATION_CONFIG/truststore/x509/ca/hallmark/"
cat >"$work/policy.json" <<JSON
{"version":"1.0","trustPolicies":[{"name":"bench","registryScopes":["*"],
 "signatureVerification":{"level":"strict"},"trustStores":["ca:hallmark"],"trustedIdentities":["*"]}]}
JSON
cp "$work/policy.json" "$NOTATION_CONFIG/trustpolicy.json"
# One signature each, so verify has one to check.
"$work/hallmark" sign "$ref" --key bench --plain-http >/dev/null
"$tools/notation" sign --insecure-registry "$ref" >/dev/null 2>&1

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(go version | cut -d' ' -f3)"
hyperfine -N --warmup 3 --runs "${RUNS:-30}" --export-markdown "$work/sign.md" \
  -n "hallmark sign (COSE)" "$work/hallmark sign $ref --key bench --plain-http" \
  -n "notation sign (COSE)" "$tools/notation sign --insecure-registry --signature-format cose $ref"
hyperfine -N --warmup 3 --runs "${RUNS:-30}" --export-markdown "$work/verify.md" \
  -n "hallmark verify" "$work/hallmark verify $ref --plain-http --trust-policy $work/policy.json --trust-store $work/ts" \
  -n "notation verify" "$tools/notation verify --insecure-registry $ref"
cat "$work/sign.md" "$work/verify.md"
