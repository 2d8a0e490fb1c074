#!/usr/bin/env bash
# What the test suite needs from the operating system, installed when missing (Debian's packages; as root,
# which CI is — elsewhere it says what to install and the tests that need it fail, never skip).
#   chromium, chromium-driver   the browser tests (GraphiQL offline, the reference portal)
#   libengine-gost-openssl      an independent GOST R 34.10-2012 verifier for the ЕСИА signatures
set -u
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium chromium-driver)
[ -e "$(openssl version -e 2>/dev/null | sed -n 's/^ENGINESDIR: "\(.*\)"/\1/p')/gost.so" ] || need+=(libengine-gost-openssl)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "system_deps: installing ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q "${need[@]}" >/dev/null 2>&1 || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q "${need[@]}" >/dev/null; } \
    || echo "system_deps: could not install ${need[*]}; the tests that need them will fail" >&2
else
  echo "system_deps: missing ${need[*]} — install them (sudo apt-get install ${need[*]}); the tests that need them will fail" >&2
fi
exit 0
