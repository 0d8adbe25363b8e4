#!/usr/bin/env bash
# Vendor the files of the GraphiQL page into api/static/graphiql/, where api/ide.py serves
# them: GET /graphql in a browser then needs nothing from the internet.
#
# Usage: scripts/vendor-graphiql.sh        (needs npm and python3; run it, review, commit)
#
# The packages are those strawberry's own graphiql.html loads from a CDN, at the same
# versions (strawberry-graphql 0.341: the files below are byte for byte the ones its page
# pins with `integrity=` hashes). js-cookie, which that page loads to forward Django's
# `csrftoken` cookie, is left out: omnishelf authenticates with bearer tokens.
#
# Each tarball comes from npm's configured registry (`npm pack`) and must match the npm
# integrity (sha512) pinned below before anything is extracted. The chosen files are copied
# under stable names with the packages' licences; SHA256SUMS records every file's sum
# (tests/unit/test_graphiql_assets.py checks the committed files against it) and SOURCES
# says where each file came from.
#
# Upgrading: change a package's version and integrity below (`npm view PACKAGE@VERSION
# dist.integrity`), run the script, load /graphql in a browser, run
# tests/e2e/test_graphiql_offline.py, and commit the directory.

set -euo pipefail
cd "$(dirname "$0")/.."

DEST=api/static/graphiql

# package@version  npm integrity of the tarball
PACKAGES=(
    "react@18.2.0 sha512-/3IjMdb2L9QbBdWiW5e3P2/npwMBaU9mHCSCUzNln0ZCYbcfTsGbTJrU/kGemdH2IWmB2ioZ+zkxtmq6g09fGQ=="
    "react-dom@18.2.0 sha512-6IMTriUmvsjHUjNtEDudZfuDQUoWXVxKHhlEGSk81n4YFS+r/Kl99wXiwlVXtPBtJenozv2P+hxDsw9eA7Xo6g=="
    "graphiql@3.8.3 sha512-cuPDYtXVKV86Pu5PHBX642Odi/uVEE2y1Jxq5rGO/Qy1G2lRp7ZZ7a/T30RzxhuLSWo9zUbzq0P3U49//H0Ugw=="
    "@graphiql/plugin-explorer@1.0.2 sha512-9j+kg2UjtLZD5EBmGjeWHkoVVxtbShYg2DzbUVebibnZYZM/iMBEF4vaccXJIAm5KaomIPLx0aoNs4LbODyc3Q=="
)

# package  path in its tarball  name served (api/static/graphiql.html refers to these names)
FILES=(
    "react umd/react.production.min.js react.production.min.js"
    "react-dom umd/react-dom.production.min.js react-dom.production.min.js"
    "graphiql graphiql.min.js graphiql.min.js"
    "graphiql graphiql.min.css graphiql.min.css"
    "@graphiql/plugin-explorer dist/index.umd.js plugin-explorer.umd.js"
    "@graphiql/plugin-explorer dist/style.css plugin-explorer.css"
    "react LICENSE LICENSE-react.txt"
    "react-dom LICENSE LICENSE-react-dom.txt"
    "graphiql LICENSE LICENSE-graphiql.txt"
)
# @graphiql/plugin-explorer ships no LICENSE file; its package.json says MIT (see SOURCES).

log() { printf 'vendor-graphiql: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

command -v npm >/dev/null 2>&1 || die "npm not found (Debian: apt-get install npm)"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

sri_sha512() {
    python3 -c 'import base64,hashlib,sys; print("sha512-" + base64.b64encode(hashlib.sha512(open(sys.argv[1], "rb").read()).digest()).decode())' "$1"
}

declare -A VERSION UNPACKED
for row in "${PACKAGES[@]}"; do
    read -r spec integrity <<<"$row"
    name=${spec%@*}
    VERSION[$name]=${spec##*@}
    log "fetching $spec"
    tarball=$(cd "$work" && npm pack --silent --cache "$work/npm-cache" "$spec" | tail -n1)
    actual=$(sri_sha512 "$work/$tarball")
    [ "$actual" = "$integrity" ] || die "$spec: integrity $actual, expected $integrity"
    UNPACKED[$name]=$work/unpacked/$name
    mkdir -p "${UNPACKED[$name]}"
    tar -xzf "$work/$tarball" -C "${UNPACKED[$name]}" --strip-components=1
done

rm -rf "$DEST"
mkdir -p "$DEST"
{
    echo "# Where each file of this directory comes from: written by scripts/vendor-graphiql.sh."
    echo "# name <- npm package@version/path (licence)"
} >"$DEST/SOURCES"
for row in "${FILES[@]}"; do
    read -r name path served <<<"$row"
    source=${UNPACKED[$name]}/$path
    [ -f "$source" ] || die "$name@${VERSION[$name]} has no $path"
    cp "$source" "$DEST/$served"
    licence=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["license"])' \
        "${UNPACKED[$name]}/package.json")
    echo "$served <- $name@${VERSION[$name]}/$path ($licence)" >>"$DEST/SOURCES"
done
(cd "$DEST" && sha256sum -- $(printf '%s\n' "${FILES[@]}" | awk '{print $3}' | sort) >SHA256SUMS)
log "wrote $DEST: $(wc -l <"$DEST/SHA256SUMS") files; review with git diff and commit"
