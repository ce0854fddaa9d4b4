#!/usr/bin/env bash
# Entrypoint of the codesign image. Loads the Xilinx tools mounted from the host, then runs the
# command as the host user (CODESIGN_UID/CODESIGN_GID, passed by `codesign docker run`), so
# everything written into the mounted directories belongs to that user, not to root.
set -euo pipefail

source_settings() {
  # AMD's settings64.sh scripts are not written for `set -u`.
  if [ -n "$1" ] && [ -f "$1/settings64.sh" ]; then
    set +u
    # shellcheck disable=SC1091
    source "$1/settings64.sh" >/dev/null
    set -u
  fi
}

if [ -n "${XILINX_VIVADO:-}" ]; then
  vivado_dir="$XILINX_VIVADO"
  hls_dir="${XILINX_HLS:-}"
  if [ ! -x "$vivado_dir/bin/vivado" ]; then
    echo "codesign entrypoint: $vivado_dir/bin/vivado is missing; mount the Xilinx install at the same path (codesign docker run --xilinx does)" >&2
  fi
  source_settings "$vivado_dir"
  source_settings "$hls_dir"
  # settings64.sh may point these elsewhere; keep the directories `codesign docker run` chose.
  export XILINX_VIVADO="$vivado_dir"
  if [ -n "$hls_dir" ]; then
    export XILINX_HLS="$hls_dir"
  fi
  # FINN's in-process XSI simulator loads Vivado libraries; ld.so reads LD_LIBRARY_PATH only
  # when a process starts, so it has to be right before Python starts.
  export LD_LIBRARY_PATH="/lib/x86_64-linux-gnu:$vivado_dir/lib/lnx64.o${hls_dir:+:$hls_dir/lnx64/tools/fpo_v7_1}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
# Vivado's per-user Tcl store in $HOME causes permission trouble in containers.
export XILINX_LOCAL_USER_DATA="${XILINX_LOCAL_USER_DATA:-no}"

if [ "$(id -u)" != 0 ]; then
  # Started with `docker run --user`: no account to create, only a writable home to find.
  if [ -z "${HOME:-}" ] || [ ! -w "${HOME}" ]; then
    export HOME=/tmp/codesign-home
    mkdir -p "$HOME"
  fi
  exec "$@"
fi

uid="${CODESIGN_UID:-1000}"
gid="${CODESIGN_GID:-$uid}"
if [ "$uid" = 0 ]; then
  exec "$@"  # the host user is root, so is the container user
fi

# An account for the host ids: Vivado and FINN look up the user name and need a home.
if ! getent group "$gid" >/dev/null; then
  group_name=codesign
  if getent group "$group_name" >/dev/null; then group_name="codesign$gid"; fi
  groupadd --gid "$gid" "$group_name"
fi
if ! getent passwd "$uid" >/dev/null; then
  user_name=codesign
  if getent passwd "$user_name" >/dev/null; then user_name="codesign$uid"; fi
  useradd --uid "$uid" --gid "$gid" --no-create-home --home-dir "/home/$user_name" \
    --shell /bin/bash "$user_name"
fi
user_name="$(getent passwd "$uid" | cut -d: -f1)"
home="$(getent passwd "$uid" | cut -d: -f6)"
mkdir -p "$home"
chown "$uid:$gid" "$home"

exec setpriv --reuid="$uid" --regid="$gid" --init-groups \
  env HOME="$home" USER="$user_name" LOGNAME="$user_name" "$@"
