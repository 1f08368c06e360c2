#!/usr/bin/env bash
# A private copy of the PostgreSQL installation for `make test`, so the test suites load the
# extension built in this tree, never the one installed system-wide: testing needs no root for
# the install, and two trees (or `make run` beside `make test`) never overwrite each other.
#
#   private_pg.sh ROOT     copies bindir, pkglibdir and sharedir under ROOT (kept while the
#                          system's server version is the same), installs the extension there
#                          with DESTDIR, and prints the private bindir to put first on PATH.
#
# PostgreSQL finds its share and lib folders relative to its own binary when the binary has
# moved, so the copies keep the system's absolute layout under ROOT. Symbolic links would not
# do: the server resolves them to the original location.
set -euo pipefail

root=$(realpath -m "${1:?usage: private_pg.sh ROOT}")
pg_config=${PG_CONFIG:-$(command -v pg_config)}
bindir=$("$pg_config" --bindir)
pkglibdir=$("$pg_config" --pkglibdir)
sharedir=$("$pg_config" --sharedir)
version=$("$pg_config" --version)

if [ "$(cat "$root/VERSION" 2>/dev/null)" != "$version" ]; then
    rm -rf "$root"
    for dir in "$bindir" "$pkglibdir" "$sharedir"; do
        mkdir -p "$root$(dirname "$dir")"
        cp -a "$dir" "$root$dir"
    done
    echo "$version" >"$root/VERSION"
fi
# The cluster runs as the `postgres` user when the caller is root: it must read the copies.
chmod -R a+rX "$root"

make -s -C "$(cd "$(dirname "$0")/../.." && pwd)" install DESTDIR="$root" PG_CONFIG="$pg_config" >/dev/null
chmod -R a+rX "$root"
echo "$root$bindir"
