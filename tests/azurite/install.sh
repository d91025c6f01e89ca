#!/usr/bin/env bash
# Microsoft's Azure Storage tools for the tests, from the npm registry at the versions package-lock.json pins,
# into tests/azurite/node_modules, once: Azurite (the emulator the shared-file-store test runs replicas on;
# 3.35.0 is the last release that runs on Node.js 20) and AzCopy (test_upload_sessions.py), whose Linux build
# needs libsecret, installed from Debian when missing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
if [[ ! -x node_modules/.bin/azurite-blob || package-lock.json -nt node_modules/.package-lock.json ]]; then
  echo "installing Azurite and AzCopy into $PWD/node_modules" >&2
  npm ci --no-audit --no-fund --loglevel=error
fi
azcopy=node_modules/@azure-tools/azcopy-linux/dist/bin/azcopy_linux_amd64
if [[ -f "$azcopy" ]]; then
  chmod +x "$azcopy"
  if ! "$azcopy" --version >/dev/null 2>&1 && command -v apt-get >/dev/null && [[ "$(id -u)" == 0 ]]; then
    echo "installing libsecret-1-0 for AzCopy" >&2
    apt-get install -y -qq libsecret-1-0 >/dev/null 2>&1 \
      || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq libsecret-1-0 >/dev/null 2>&1; } \
      || echo "libsecret-1-0 could not be installed: the AzCopy tests will be skipped" >&2
  fi
fi
