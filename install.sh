#!/bin/sh
# crabtalk installer: downloads the crabtalk binary for this machine, checks
# its SHA-256, and installs it.
#
#   curl -fsSL https://crabtalk.ai/install.sh | sh
#   curl -fsSL https://crabtalk.ai/install.sh | sh -s -- --systemd
#
# Options:
#   --prefix DIR     install into DIR/bin (default: /usr/local as root, else ~/.local)
#   --version V      install version V (default: latest)
#   --systemd        also install and enable a systemd service (system unit as
#                    root, user unit otherwise) running `crabtalk daemon`
#   --no-verify      skip the SHA-256 check (not recommended)
#   --units-only DIR write the systemd units (DIR/system/crabtalk.service and
#                    DIR/user/crabtalk.service, for the binary in --prefix)
#                    and exit: to review them, or to verify them in a test
# Environment:
#   CRABTALK_DOWNLOAD_URL  base URL holding crabtalk-<os>-<arch> and .sha256
#                          files (default: the GitHub release of --version)
set -eu

prefix=""
version="latest"
systemd=0
verify=1
units_only=
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) prefix="$2"; shift 2 ;;
    --version) version="$2"; shift 2 ;;
    --systemd) systemd=1; shift ;;
    --no-verify) verify=0; shift ;;
    --units-only) units_only="$2"; shift 2 ;;
    -h|--help) sed -n '2,20p' "$0" 2>/dev/null || true; exit 0 ;;
    *) echo "install.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done

say() { printf 'crabtalk install: %s\n' "$*" >&2; }
fail() { say "error: $*"; exit 1; }

os=$(uname -s | tr '[:upper:]' '[:lower:]')
case "$os" in linux|darwin) ;; *) fail "unsupported OS $os (linux and darwin are built)";; esac
arch=$(uname -m)
case "$arch" in x86_64|amd64) arch=x64 ;; aarch64|arm64) arch=arm64 ;; *) fail "unsupported CPU $arch (x64 and arm64 are built)";; esac
asset="crabtalk-$os-$arch"

if [ -z "${CRABTALK_DOWNLOAD_URL:-}" ]; then
  if [ "$version" = latest ]; then base="https://github.com/crabtalk/crabtalk/releases/latest/download"
  else base="https://github.com/crabtalk/crabtalk/releases/download/v$version"; fi
else
  base="$CRABTALK_DOWNLOAD_URL"
fi

if [ -z "$prefix" ]; then
  if [ "$(id -u)" = 0 ]; then prefix=/usr/local; else prefix="$HOME/.local"; fi
fi
bindir="$prefix/bin"
mkdir -p "$bindir"

# The units --systemd installs. Both restart on failure and stop with
# SIGTERM, waiting longer than the daemon's shutdown_grace_ms (10 s).
system_unit() {
  cat <<UNIT
[Unit]
Description=crabtalk agent daemon
After=network-online.target
Wants=network-online.target

[Service]
User=crabtalk
Environment=CRABTALK_HOME=/var/lib/crabtalk/.crabtalk
EnvironmentFile=-/etc/crabtalk/env
ExecStart=$bindir/crabtalk daemon
Restart=on-failure
RestartSec=2
KillSignal=SIGTERM
TimeoutStopSec=30
NoNewPrivileges=true
ProtectSystem=full
PrivateTmp=true

[Install]
WantedBy=multi-user.target
UNIT
}

user_unit() {
  cat <<UNIT
[Unit]
Description=crabtalk agent daemon

[Service]
EnvironmentFile=-%h/.config/crabtalk/env
ExecStart=$bindir/crabtalk daemon
Restart=on-failure
RestartSec=2
KillSignal=SIGTERM
TimeoutStopSec=30

[Install]
WantedBy=default.target
UNIT
}

if [ -n "$units_only" ]; then
  mkdir -p "$units_only/system" "$units_only/user"
  system_unit > "$units_only/system/crabtalk.service"
  user_unit > "$units_only/user/crabtalk.service"
  say "wrote $units_only/system/crabtalk.service and $units_only/user/crabtalk.service (ExecStart $bindir/crabtalk)"
  exit 0
fi


fetch() {
  if command -v curl >/dev/null 2>&1; then curl -fsSL "$1" -o "$2"
  elif command -v wget >/dev/null 2>&1; then wget -qO "$2" "$1"
  else fail "need curl or wget"; fi
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
say "downloading $asset from $base"
fetch "$base/$asset" "$tmp/crabtalk" || fail "download of $base/$asset failed"
if [ "$verify" = 1 ]; then
  fetch "$base/$asset.sha256" "$tmp/crabtalk.sha256" || fail "download of $asset.sha256 failed (use --no-verify to skip)"
  want=$(cut -d' ' -f1 < "$tmp/crabtalk.sha256")
  if command -v sha256sum >/dev/null 2>&1; then got=$(sha256sum "$tmp/crabtalk" | cut -d' ' -f1)
  else got=$(shasum -a 256 "$tmp/crabtalk" | cut -d' ' -f1); fi
  [ "$want" = "$got" ] || fail "checksum mismatch for $asset: expected $want, got $got"
fi
chmod 755 "$tmp/crabtalk"
mv "$tmp/crabtalk" "$bindir/crabtalk"
say "installed $("$bindir/crabtalk" --version) to $bindir/crabtalk"
case ":$PATH:" in *":$bindir:"*) ;; *) say "add $bindir to your PATH";; esac

if [ "$systemd" = 1 ]; then
  command -v systemctl >/dev/null 2>&1 || fail "--systemd: systemctl not found"
  if [ "$(id -u)" = 0 ]; then
    unit=/etc/systemd/system/crabtalk.service
    id crabtalk >/dev/null 2>&1 || useradd --system --create-home --home-dir /var/lib/crabtalk --shell /usr/sbin/nologin crabtalk
    system_unit > "$unit"
    systemctl daemon-reload
    systemctl enable --now crabtalk
    say "systemd service crabtalk enabled; API keys go in /etc/crabtalk/env (OPENAI_API_KEY=...)"
  else
    unitdir="$HOME/.config/systemd/user"
    mkdir -p "$unitdir"
    user_unit > "$unitdir/crabtalk.service"
    systemctl --user daemon-reload
    systemctl --user enable --now crabtalk
    say "user service crabtalk enabled; API keys go in ~/.config/crabtalk/env"
    # Without lingering a user service stops at logout; enabling it for oneself is allowed on most systems.
    if loginctl enable-linger "$(id -un)" 2>/dev/null; then
      say "lingering enabled: crabtalk keeps running after you log out"
    else
      say "could not enable lingering, so crabtalk stops when you log out; ask an administrator to run: sudo loginctl enable-linger $(id -un)"
    fi
  fi
fi
