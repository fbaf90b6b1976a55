#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# debs.sh [OUTDIR]: build the Debian packages (nf-nat-mape-dkms and
# nf-nat-mape-tools) with the system's debhelper, from a copy of the
# tracked files in OUTDIR (default build/debs), and run lintian on them.
# The version is dkms.conf's, written into debian/changelog here. Exit
# status: dpkg-buildpackage's, else 1 if lintian reports an error or a
# warning.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=$(realpath -m "${1:-$ROOT/build/debs}")
VERSION=$("$ROOT/scripts/version.sh")
STAGE=$OUT/nf-nat-mape-$VERSION

rm -rf "$OUT"
mkdir -p "$STAGE"
# what git tracks or would (not ignored), as it is in the working tree; a
# tree without git: all of it but the build directory
if git -C "$ROOT" rev-parse --is-inside-work-tree > /dev/null 2>&1; then
	(cd "$ROOT" && git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t "$STAGE")
else
	tar -C "$ROOT" --exclude=./build -cf - . | tar -C "$STAGE" -xf -
fi
sed "s/@VERSION@/$VERSION/" "$ROOT/debian/changelog.in" > "$STAGE/debian/changelog"
rm "$STAGE/debian/changelog.in"

(cd "$STAGE" && dpkg-buildpackage --build=binary --no-sign)
echo "debs.sh: built in $OUT:"
(cd "$OUT" && ls -1 ./*.deb)
lintian --info --display-info --pedantic --fail-on error,warning "$OUT"/*.changes
