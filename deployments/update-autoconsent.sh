#!/usr/bin/env bash
# Refresh the vendored DuckDuckGo autoconsent (content script + rules) from the npm registry.
set -euo pipefail
version="${1:-latest}"
dest="$(cd "$(dirname "$0")/.." && pwd)/tasks/vendor/autoconsent"
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
cd "$work"
npm pack "@duckduckgo/autoconsent@$version" >/dev/null
tar xzf ./*.tgz
cp package/dist/autoconsent.playwright.js package/rules/compact-rules.json package/LICENSE "$dest/"
node -p "require('./package/package.json').version" > "$dest/VERSION"
echo "autoconsent $(cat "$dest/VERSION") vendored into $dest"
