#!/usr/bin/env bash
# Brings up a single-node closet cluster on this machine: installs the Debian packages it
# needs, builds and installs the binary, starts `closet server`, and waits until the API is
# ready. Run it as root (or with sudo) from a checkout.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
  echo "quickstart: run as root, e.g. sudo $0" >&2
  exit 1
fi

echo "==> installing packages: $(tr '\n' ' ' < scripts/packages.txt)"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends $(cat scripts/packages.txt) >/dev/null

CARGO=${CARGO:-$(command -v cargo || echo "${SUDO_USER:+/home/$SUDO_USER}/.cargo/bin/cargo")}
if ! "$CARGO" --version >/dev/null 2>&1; then
  echo "quickstart: Rust 1.95 or newer is needed to build closet; install it with rustup (https://rustup.rs) and run this again" >&2
  exit 1
fi

echo "==> building closet (release)"
"$CARGO" build --release -p closet
install -m 0755 target/release/closet /usr/local/bin/closet

echo "==> starting closet server"
if [ -d /run/systemd/system ]; then
  install -m 0644 scripts/closet.service /etc/systemd/system/closet.service
  systemctl daemon-reload
  systemctl enable --now closet.service
  echo "    (systemd unit closet.service; logs: journalctl -u closet -f)"
else
  if [ -f /run/closet.pid ] && kill -0 "$(cat /run/closet.pid)" 2>/dev/null; then
    echo "    already running (PID $(cat /run/closet.pid))"
  else
    nohup /usr/local/bin/closet server >>/var/log/closet.log 2>&1 &
    echo $! > /run/closet.pid
    echo "    (PID $(cat /run/closet.pid); logs: /var/log/closet.log; stop: kill \$(cat /run/closet.pid))"
  fi
fi

echo "==> waiting for the API"
for _ in $(seq 1 120); do
  if [ -s /etc/closet/kubeconfig.yaml ] && curl -fsk https://127.0.0.1:6443/readyz >/dev/null 2>&1; then
    break
  fi
  sleep 0.5
done
if ! curl -fsk https://127.0.0.1:6443/readyz >/dev/null 2>&1; then
  echo "quickstart: the API did not become ready within 60 s; see the logs above" >&2
  exit 1
fi

if command -v kubectl >/dev/null; then
  echo "==> waiting for the node"
  for _ in $(seq 1 120); do
    if KUBECONFIG=/etc/closet/kubeconfig.yaml kubectl get nodes -o jsonpath='{.items[*].status.conditions[?(@.type=="Ready")].status}' 2>/dev/null | grep -q True; then
      break
    fi
    sleep 0.5
  done
fi
echo
echo "closet is up. Try:"
echo "  export KUBECONFIG=/etc/closet/kubeconfig.yaml"
echo "  kubectl get nodes"
echo "  kubectl run hello --image=busybox:1.36 -- sh -c 'echo hello; sleep 3600'"
echo "Offline? Copy image archives into /var/lib/closet/agent/images/ (or run closet image import FILE)."
command -v kubectl >/dev/null || echo "(kubectl is not installed; any Kubernetes client works with that kubeconfig)"
exit 0
