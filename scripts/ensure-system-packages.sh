#!/usr/bin/env bash
# Install the Debian packages Lifeline needs when their commands are missing.
# Usage: scripts/ensure-system-packages.sh COMMAND=PACKAGE ...
#   e.g. scripts/ensure-system-packages.sh mosquitto=mosquitto systemd-analyze=systemd
#   COMMAND may be a path glob: '/usr/lib/postgresql/*/bin/initdb=postgresql'
# As root it runs apt-get; otherwise it uses sudo if that works without a
# password; otherwise it stops and prints the exact command to run.
set -euo pipefail
export PATH="$PATH:/usr/sbin:/sbin"
missing=()
for pair in "$@"; do
    cmd="${pair%%=*}"; pkg="${pair#*=}"
    if [[ "$cmd" == */* ]]; then  # a path (a glob allowed): e.g. /usr/lib/postgresql/*/bin/initdb
        compgen -G "$cmd" >/dev/null || missing+=("$pkg")
    else
        command -v "$cmd" >/dev/null 2>&1 || missing+=("$pkg")
    fi
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "lifeline: installing Debian packages: ${missing[*]}" >&2
if [ "$(id -u)" -eq 0 ]; then
    sudo=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo="sudo"
else
    echo "lifeline: cannot install ${missing[*]} without root. Run:" >&2
    echo "    sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
    exit 1
fi
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian starts the packaged broker as a service where it can; Lifeline runs its own.
