#!/usr/bin/env bash
# Runs manifests_test.js on deploy/k8s with the npm oracles' node_modules.
set -euo pipefail
root="$(dirname "$(readlink -f "$TEST_SRCDIR/$TEST_WORKSPACE/tests/oracles/package.json")")"
export NODE_PATH="$root/node_modules"
cd "$TEST_SRCDIR/$TEST_WORKSPACE"
exec node tests/deploy/manifests_test.js deploy/k8s \
  "$PWD/services/target/target" "$PWD/services/draft/draft" "$PWD/services/orchestrator/orchestrator"
