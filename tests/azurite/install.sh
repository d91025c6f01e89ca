#!/usr/bin/env bash
# Azurite, Microsoft's Azure Storage emulator, for the shared-file-store test (tests/sdk/test_shared_files.py):
# installed from the npm registry at the version package-lock.json pins (3.35.0, the last one that runs on
# Node.js 20), into tests/azurite/node_modules, once.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
if [[ ! -x node_modules/.bin/azurite-blob || package-lock.json -nt node_modules/.package-lock.json ]]; then
  echo "installing Azurite into $PWD/node_modules" >&2
  npm ci --no-audit --no-fund --loglevel=error
fi
