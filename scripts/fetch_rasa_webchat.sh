#!/usr/bin/env bash
# Put the standard Rasa web widget, `rasa-webchat` from the npm registry, in the cache
# for tests/browser/test_rasa_webchat.py (the widget operators already use, pointed
# at this bot). Version and tarball checksum are pinned; once cached, nothing is
# downloaded again. Prints the path of its browser bundle (lib/index.js, the UMD
# file the widget's README loads with a <script> tag).
#
# Only the package itself is fetched (`npm pack`, which checks the registry's
# integrity hash; we check ours too): lib/index.js is a self-contained bundle, so
# the widget's build-time dependencies are not needed to run it in a page.
#
#   ANXIN_CACHE   the cache folder (default ~/.cache/anxin); the widget goes to
#                 $ANXIN_CACHE/npm/rasa-webchat-1.0.1/
set -euo pipefail

NAME=rasa-webchat
VERSION=1.0.1
INTEGRITY=sha512-Ld1zVJvTAaTrs6A5p8t70agNNrKYRyXlvqXZRgBoDvKKUXbA0jhJKECi5bdPGlaR6jsmqWtVylHS+YqIqo0x8w==
DIR=${ANXIN_CACHE:-$HOME/.cache/anxin}/npm/$NAME-$VERSION
BUNDLE=$DIR/lib/index.js

if [[ -s "$BUNDLE" ]]; then
  echo "$BUNDLE"
  exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
  echo "✗ npm is needed once to fetch $NAME@$VERSION for the browser tests (Node.js 18+ with npm)" >&2
  exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "→ fetching $NAME@$VERSION from the npm registry" >&2
npm pack "$NAME@$VERSION" --pack-destination "$tmp" --silent --cache "$tmp/npm-cache" >/dev/null
tarball=$tmp/$NAME-$VERSION.tgz
actual="sha512-$(openssl dgst -sha512 -binary "$tarball" | base64 -w0)"
if [[ "$actual" != "$INTEGRITY" ]]; then
  echo "✗ $NAME@$VERSION from the registry is not the pinned one ($actual)" >&2
  exit 1
fi
mkdir -p "$tmp/unpacked"
tar -xzf "$tarball" -C "$tmp/unpacked" package/lib/index.js package/package.json package/LICENSE
mkdir -p "$(dirname "$DIR")"
rm -rf "$DIR"
mv "$tmp/unpacked/package" "$DIR"
echo "✓ $NAME@$VERSION in $DIR" >&2
echo "$BUNDLE"
