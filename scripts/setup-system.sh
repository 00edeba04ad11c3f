#!/usr/bin/env bash
# System packages the test suite uses (Debian 12): libvirt + QEMU (real daemon, TCG guests),
# virt-xml-validate, busybox for the guest initramfs. Idempotent; needs root.
set -euo pipefail
pkgs=(libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients qemu-system-x86 python3-libvirt
      busybox-static cpio libxml2-utils)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
