#!/bin/sh
# Builds the container image: a static berth binary (glibc linked in with
# crt-static, no musl toolchain needed) on an empty base.
#
#   deploy/container/build.sh [TAG]      # TAG defaults to berth:latest
set -eu

tag=${1:-berth:latest}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cargo=${CARGO:-cargo}
# The host's own triple, given explicitly: with --target the static build
# gets a directory of its own and leaves the ordinary build alone.
triple=$(rustc -vV | sed -n 's/^host: //p')

RUSTFLAGS="-C target-feature=+crt-static" \
    "$cargo" build --release --locked --bin berth --target "$triple" \
    --manifest-path "$root/Cargo.toml"
binary=${CARGO_TARGET_DIR:-$root/target}/$triple/release/berth

context=$(mktemp -d)
trap 'rm -rf "$context"' EXIT
cp "$binary" "$context/berth"
strip "$context/berth" 2>/dev/null || true
# uid/gid 10053: no clash with a host user the socket's group might name.
printf 'berth:x:10053:10053:berth:/:/nonexistent\n' >"$context/passwd"
printf 'berth:x:10053:\n' >"$context/group"
mkdir "$context/zones"

docker build --tag "$tag" --file "$here/Dockerfile" "$context"
