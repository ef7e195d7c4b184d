#!/usr/bin/env bash
# Runs every test of the project, installing the real DNS clients the tests use first.
# Missing tools make the tests that need them fail (IPSECOE_REQUIRE_TOOLS=1), never skip.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/sbin:/sbin"

# Debian packages the tests drive: dig and delv (bind9-dnsutils), dnssec-keygen
# and named-checkzone (bind9-utils), the unbound validating resolver, Libreswan's pluto and
# iproute2's ip for the IPsec end-to-end test, ldns-read-zone (ldnsutils), and Knot DNS's
# knotd (knot) and BIND's named (bind9), which the secondary tests run as secondaries.
packages=(bind9-dnsutils bind9-dnsutils bind9-utils bind9-utils unbound libreswan iproute2 ldnsutils knot bind9)
tools=(dig delv dnssec-keygen named-checkzone unbound ipsec ip ldns-read-zone knotd named)

missing=()
for i in "${!tools[@]}"; do
  command -v "${tools[$i]}" >/dev/null 2>&1 || missing+=("${packages[$i]}")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing: ${missing[*]}"
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  # Only the programs are wanted: no resolver or name server is started as a service. A
  # policy-rc.d that refuses every start (exit 101) keeps the packages' services (unbound,
  # knot, named) down while they install; it is removed after, unless the machine had one.
  policy=/usr/sbin/policy-rc.d
  own_policy=""
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
    $sudo chmod 755 "$policy"
    own_policy=1
    trap '$sudo rm -f "$policy"' EXIT
  fi
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
    $(printf '%s\n' "${missing[@]}" | sort -u) >/dev/null
  if [ -n "$own_policy" ]; then
    $sudo rm -f "$policy"
    trap - EXIT
  fi
fi

# strongSwan's charon with the ipseckey and unbound plugins, built once per machine.
IPSECOE_STRONGSWAN=$(scripts/strongswan.sh); export IPSECOE_STRONGSWAN

export IPSECOE_REQUIRE_TOOLS=1
go vet ./...
unformatted=$(gofmt -l .)
if [ -n "$unformatted" ]; then
  echo "gofmt would change: $unformatted" >&2
  exit 1
fi
go test -count=1 "$@" ./...
# The benchmarks run once, on small inputs, so that they cannot rot; bench/ measures.
go test -count=1 -short -run '^$' -bench . -benchtime 1x ./...
