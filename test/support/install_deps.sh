#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages the build and the tests need, when some are missing.
# As root it runs apt-get; with sudo it uses sudo; otherwise it prints the one line to run.
#   install_deps.sh [GROUP ...]    groups: build test bench fuzz (default: build test)
set -euo pipefail

# What each make target needs: `make run` the build group, `make test` build + test,
# `make bench` adds bench, `make fuzz` adds fuzz.
declare -A PACKAGE_GROUPS=(
    [build]="build-essential cmake pkg-config postgresql postgresql-contrib postgresql-server-dev-15
             libpq-dev libssl-dev libcurl4-openssl-dev rapidjson-dev libboost-dev libboost-context-dev
             libkainjow-mustache-dev libdbd-pg-perl nodejs"
    [test]="postgresql-15-pgtap libtap-parser-sourcehandler-pgtap-perl libgtest-dev
            libhttp-daemon-perl r-base-core r-cran-survey chromium yamllint shellcheck"
    [bench]="bc libbenchmark-dev"
    [fuzz]="clang-14"
)
PACKAGES=()
for group in "${@:-build test}"; do
    for name in $group; do
        [ -n "${PACKAGE_GROUPS[$name]+set}" ] || { echo "install_deps.sh: unknown group $name" >&2; exit 2; }
        read -r -a more <<<"$(echo ${PACKAGE_GROUPS[$name]})"
        PACKAGES+=("${more[@]}")
    done
done

missing=()
for package in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
        || missing+=("$package")
done
# npm comes with some nodejs builds (NodeSource's) and conflicts with Debian's npm package
# there: only a missing npm command asks for it.
command -v npm >/dev/null || missing+=(npm)
[ ${#missing[@]} -eq 0 ] && exit 0

line="apt-get update && apt-get install -y ${missing[*]}"
if [ "$(id -u)" = 0 ]; then
    echo "installing: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    echo "installing with sudo: ${missing[*]}"
    sudo apt-get update -qq
    sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
else
    echo "Missing packages. Run as root:" >&2
    echo "  $line" >&2
    exit 1
fi
