#!/usr/bin/env bash
# Builds strongSwan's charon with the ipseckey and unbound plugins, which Debian's own
# packages leave out, from Debian's strongSwan source, into a private prefix for the
# strongSwan end-to-end test (test/strongswan_test.go). Nothing is installed outside the
# prefix and the cache beside it; the machine's apt sources are not changed (the source
# index is fetched into the cache).
#
# A finished build leaves a stamp with the version and the recipe; while it matches, a run
# does nothing but print the prefix. The prefix is the only line on standard output, for
#   export IPSECOE_STRONGSWAN=$(scripts/strongswan.sh)
# (IPSECOE_STRONGSWAN is where the test looks; without it, /var/cache/ipsecoe/strongswan).
# Progress and errors go to standard error.
#
#   IPSECOE_STRONGSWAN_CACHE   the cache directory (default /var/cache/ipsecoe)
#
# Needs root (or sudo) for apt-get install of the build dependencies.
set -euo pipefail

cache=${IPSECOE_STRONGSWAN_CACHE:-/var/cache/ipsecoe}
link=$cache/strongswan

# What is built: charon for IKEv2 only, swanctl and vici to drive it, pki to make keys;
# OpenSSL for the crypto, the key formats the test and the docs use (PEM, PKCS#1, PKCS#8,
# raw public keys, DNSKEY blobs of IPSECKEY records), netlink and the default socket; then
# the two plugins this build is for. Changing this list changes the recipe and rebuilds.
configure_flags=(
  --disable-defaults
  --enable-charon --enable-ikev2 --enable-swanctl --enable-vici --enable-pki
  --enable-openssl --enable-random --enable-nonce --enable-kdf
  --enable-pem --enable-pkcs1 --enable-pkcs8 --enable-pubkey --enable-x509 --enable-dnskey
  --enable-kernel-netlink --enable-socket-default
  --enable-ipseckey --enable-unbound
)
build_deps=(build-essential pkg-config dpkg-dev libssl-dev libunbound-dev libldns-dev)
recipe=$(printf '%s\n' "${configure_flags[@]}" | sha256sum | cut -c1-12)

# Cached: the prefix the link points at is complete and built by this recipe.
cached() {
  [ -L "$link" ] && [ -f "$link/.ipsecoe-stamp" ] && [ -x "$link/libexec/ipsec/charon" ] &&
    grep -qx "recipe $recipe" "$link/.ipsecoe-stamp"
}
if cached; then
  readlink -f "$link"
  exit 0
fi

sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo"
$sudo mkdir -p "$cache"
[ -w "$cache" ] || $sudo chown "$(id -u):$(id -g)" "$cache"
# One build at a time on a machine; whoever waited finds the other's build.
exec 9>"$cache/.lock"
flock 9
if cached; then
  readlink -f "$link"
  exit 0
fi

export DEBIAN_FRONTEND=noninteractive
log=$(mktemp /tmp/ipsecoe-strongswan-build.XXXXXX.log)
fail() {
  echo "strongswan.sh: $*; the last lines of $log:" >&2
  tail -n 30 "$log" >&2
  exit 1
}

missing=()
for p in "${build_deps[@]}"; do
  dpkg-query -W -f '${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "strongswan.sh: installing ${missing[*]}" >&2
  { $sudo apt-get update -qq && $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >>"$log" 2>&1 ||
    fail "apt-get install ${missing[*]} failed"
fi

# The source index of the archives the machine already uses, kept in the cache: the same
# URIs, suites and components as its "deb" entries, as "deb-src".
apt_dir=$cache/apt
rm -rf "$apt_dir"
mkdir -p "$apt_dir/parts" "$apt_dir/lists/partial" "$apt_dir/cache"
: >"$apt_dir/empty.list"
for f in /etc/apt/sources.list.d/*.sources; do
  [ -f "$f" ] || continue
  sed -n 's/^Types:.*\bdeb\b.*/Types: deb-src/p; /^Types:/!p' "$f" >"$apt_dir/parts/$(basename "$f")"
done
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
  [ -f "$f" ] || continue
  sed -n 's/^[[:space:]]*deb[[:space:]]/deb-src /p' "$f" >>"$apt_dir/parts/src.list"
done
apt_opts=(-o "Dir::Etc::SourceList=$apt_dir/empty.list" -o "Dir::Etc::SourceParts=$apt_dir/parts"
  -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache" -o "APT::Sandbox::User=root")
apt-get "${apt_opts[@]}" -qq update >>"$log" 2>&1 || fail "apt-get update of the source index failed"

# The newest source version that the archives actually serve.
work=$(mktemp -d /tmp/ipsecoe-strongswan.XXXXXX)
trap 'rm -rf "$work"' EXIT
version=""
for v in $(apt-cache "${apt_opts[@]}" showsrc strongswan | sed -n 's/^Version: //p' | sort -rV | uniq); do
  rm -rf "${work:?}"/*
  if (cd "$work" && apt-get "${apt_opts[@]}" -q source "strongswan=$v") >>"$log" 2>&1; then
    version=$v
    break
  fi
done
[ -n "$version" ] || fail "apt-get source strongswan failed for every version the index lists"
src=$(find "$work" -mindepth 1 -maxdepth 1 -type d -name 'strongswan-*' | head -n 1)
[ -n "$src" ] || fail "no source tree after apt-get source"

prefix=$cache/strongswan-$version
echo "strongswan.sh: building strongSwan $version into $prefix (a few minutes, once per machine)" >&2
start=$(date +%s)
cd "$src"
# Debian's patches touch src/libtls/Makefile.am; a newer Makefile.in keeps make from
# wanting automake.
touch src/libtls/Makefile.in
rm -rf "$prefix"
# The PID file directory is fixed at build time: the test gives each charon its own by a
# bind mount over it.
./configure --prefix="$prefix" --sysconfdir="$prefix/etc" --with-piddir="$prefix/run" \
  "${configure_flags[@]}" >>"$log" 2>&1 || fail "configure failed"
make -j"$(nproc)" >>"$log" 2>&1 || fail "make failed"
make install >>"$log" 2>&1 || fail "make install failed"
mkdir -p "$prefix/run"
[ -x "$prefix/libexec/ipsec/charon" ] || fail "make install left no $prefix/libexec/ipsec/charon"
printf 'strongswan %s\nrecipe %s\n' "$version" "$recipe" >"$prefix/.ipsecoe-stamp"
ln -sfn "$(basename "$prefix")" "$link.tmp" && mv -T "$link.tmp" "$link"
# Older builds by other recipes or versions go.
for old in "$cache"/strongswan-*; do
  [ "$old" = "$prefix" ] || rm -rf "$old"
done
rm -rf "$apt_dir" "$log"
echo "strongswan.sh: built in $(($(date +%s) - start)) s" >&2
echo "$prefix"
