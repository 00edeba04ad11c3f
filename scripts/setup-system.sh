#!/usr/bin/env bash
# System side of the test suite (Debian 12, root, idempotent). Called by `scripts/bootstrap --test`.
#   1. packages: libvirt + QEMU (real daemon, TCG guests), virt-xml-validate, busybox for the guest
#   2. libvirtd without systemd: the libvirt-qemu user/group and /etc/libvirt/qemu.conf
#   3. 2 MiB huge pages and hugetlbfs on /dev/hugepages (before libvirtd starts: it scans mounts once)
#   4. the guest kernel in ./.cache/guest/vmlinuz (only the bzImage out of the current linux-image .deb)
#   5. the other lane's libvirt XML schemas in ./.cache/libvirt-schemas/VERSION/ (out of its .deb), so
#      that every domain XML the tests validate is checked against libvirt 9.0's and 11.x's schemas
# Knobs: KVNUMA_TEST_HUGEPAGES (default 600 pages of 2 MiB = 1.2 GiB);
#   KVNUMA_LIBVIRT=backports (default): libvirt 11.x and QEMU 10.x from bookworm-backports
#   KVNUMA_LIBVIRT=debian: Debian 12's own libvirt 9.0 and QEMU 7.2 (downgrades from backports)
# python3-libvirt stays Debian's 9.0 in both lanes (the bindings work against libvirt 11).
# Also the image tools (podman, buildah, mmdebstrap) for scripts/build-image and tests/image.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
guest_dir="$root/.cache/guest"
hugepages=${KVNUMA_TEST_HUGEPAGES:-600}
say() { echo "setup-system: $*"; }

# ---- 1. packages (no libvirt-daemon-system: it pulls in systemd)
lane=${KVNUMA_LIBVIRT:-backports}
virt_pkgs=(libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients qemu-system-x86)
pkgs=(python3-libvirt busybox-static cpio libxml2-utils podman buildah mmdebstrap)
apt_quiet() { DEBIAN_FRONTEND=noninteractive apt-get "$@" -y -qq --no-install-recommends \
  -o Dpkg::Options::=--force-confold >/dev/null; }
backports=/etc/apt/sources.list.d/kvnuma-backports.sources
apt_updated=0
case "$lane" in
  backports)
    if [ ! -e "$backports" ]; then
      printf '%s\n' "Types: deb" "URIs: http://deb.debian.org/debian" "Suites: bookworm-backports" \
        "Components: main" "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg" >"$backports"
      say "wrote $backports"
      apt-get update -qq
      apt_updated=1
    fi
    release=bookworm-backports ;;
  debian) release='bookworm(-security|-updates)?' ;;
  *) say "KVNUMA_LIBVIRT=$lane: expected backports or debian"; exit 2 ;;
esac
# the lane's version of each libvirt/QEMU package: installed already, or install (up or down) to it
candidate() {
  apt-cache policy -- "$1" 2>/dev/null | awk -v rel="$release" '
    /Version table:/ {table = 1; next}
    !table || /\/var\/lib\/dpkg\/status/ {next}
    / [0-9]+ [a-z]+:\/\// {if (version != "" && $0 ~ (" " rel "/")) {print version; exit} next}
    {line = $0; sub(/^ *(\*\*\* )?/, "", line); split(line, field, " "); version = field[1]}'
}
wanted=()
for p in "${virt_pkgs[@]}"; do
  want=$(candidate "$p")
  if [ -z "$want" ] && [ "$apt_updated" = 0 ]; then apt-get update -qq; apt_updated=1; want=$(candidate "$p"); fi
  [ -n "$want" ] || { say "no $p in $release (apt sources?)"; exit 1; }
  have=$(dpkg-query -W -f='${Status} ${Version}' "$p" 2>/dev/null | awk '/install ok installed/ {print $4}' || true)
  [ "$have" = "$want" ] || wanted+=("$p=$want")
done
target=()
[ "$lane" = backports ] && target=(-t bookworm-backports)  # their dependencies from backports too
# going back to Debian's: every installed backports package (libvirt0, qemu-system-common, ...)
# goes back with them, or apt cannot meet the exact-version dependencies
if [ "$lane" = debian ] && [ "${#wanted[@]}" -gt 0 ]; then
  while read -r p; do
    [[ " ${wanted[*]} " == *" $p="* ]] && continue
    want=$(candidate "$p")
    if [ -n "$want" ]; then
      wanted+=("$p=$want")
    elif [[ "$p" == libvirt* || "$p" == qemu* ]]; then
      wanted+=("$p-")  # only in backports (libvirt-common, ...): remove, libvirt0 9.0 has its files
    fi  # other backports-only libraries (pulled in as new dependencies) stay: harmless
  done < <(dpkg-query -W -f='${db:Status-Abbrev} ${Package} ${Version}\n' | awk '$1 == "ii" && $3 ~ /~bpo12/ {print $2}')
fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#wanted[@]}" -gt 0 ] || [ "${#missing[@]}" -gt 0 ]; then
  [ "$apt_updated" = 1 ] || apt-get update -qq
  apt_updated=1
  say "installing ($lane) ${wanted[*]} ${missing[*]}"
  if [ "${#wanted[@]}" -gt 0 ] && pgrep -x libvirtd >/dev/null 2>&1; then
    say "note: libvirtd is running; restart it after the change"
  fi
  # --allow-downgrades: the debian lane goes back from backports' versions to bookworm's
  [ "${#wanted[@]}" -eq 0 ] || apt_quiet install "${target[@]}" --allow-downgrades "${wanted[@]}"
  [ "${#missing[@]}" -eq 0 ] || apt_quiet install "${missing[@]}"  # from bookworm
else
  say "packages present ($lane lane)"
fi
say "libvirt $(dpkg-query -W -f='${Version}' libvirt-daemon), QEMU $(dpkg-query -W -f='${Version}' qemu-system-x86)"

# ---- 2. libvirtd without systemd
# The QEMU driver resolves its compiled-in user/group before reading qemu.conf; without them it
# fails with "Failed to parse user 'libvirt-qemu'" and "Driver state initialization failed".
getent group libvirt-qemu >/dev/null || groupadd -r libvirt-qemu
getent passwd libvirt-qemu >/dev/null ||
  useradd -r -g libvirt-qemu -d /var/lib/libvirt -s /usr/sbin/nologin libvirt-qemu
marker="# written by kvnuma scripts/setup-system.sh"
conf=/etc/libvirt/qemu.conf
want="$marker
user = \"root\"
group = \"root\"
dynamic_ownership = 0
# QEMU logs to files; virtlogd is socket-activated by systemd, which this machine does not run
stdio_handler = \"file\""
mkdir -p /etc/libvirt
has_settings() {
  grep -qE '^user *= *"root"' "$conf" && grep -qE '^group *= *"root"' "$conf" &&
    grep -qE '^dynamic_ownership *= *0' "$conf" && grep -qE '^stdio_handler *= *"file"' "$conf"
}
if [ ! -e "$conf" ] || ! has_settings; then
  if [ -e "$conf" ] && ! grep -qF "$marker" "$conf"; then
    cp -n "$conf" "$conf.before-kvnuma"
    say "kept the previous $conf as $conf.before-kvnuma"
  fi
  printf '%s\n' "$want" >"$conf"
  say "wrote $conf"
  pgrep -x libvirtd >/dev/null && say "note: libvirtd is running; restart it to read the new $conf"
fi

# ---- 3. huge pages, then hugetlbfs (libvirt looks for the mount only when it starts)
current=$(cat /proc/sys/vm/nr_hugepages)
if [ "$current" -lt "$hugepages" ]; then
  echo "$hugepages" >/proc/sys/vm/nr_hugepages
  current=$(cat /proc/sys/vm/nr_hugepages)
fi
[ "$current" -ge "$hugepages" ] || say "warning: only $current of $hugepages huge pages could be reserved"
if ! awk '$3 == "hugetlbfs" && $2 == "/dev/hugepages" {found=1} END {exit !found}' /proc/mounts; then
  mkdir -p /dev/hugepages
  mount -t hugetlbfs -o pagesize=2M hugetlbfs /dev/hugepages
  pgrep -x libvirtd >/dev/null && say "note: libvirtd is running; restart it to see /dev/hugepages"
fi
say "2 MiB huge pages: $current reserved, hugetlbfs on /dev/hugepages"

# ---- 4. guest kernel: only boot/vmlinuz-* of the kernel linux-image-amd64 currently depends on
if [ ! -s "$guest_dir/vmlinuz" ]; then
  mkdir -p "$guest_dir"
  image_pkg() { apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}'; }
  pkg=$(image_pkg)
  if [ -z "$pkg" ] && [ "$apt_updated" = 0 ]; then
    apt-get update -qq
    pkg=$(image_pkg)
  fi
  [ -n "$pkg" ] || { say "cannot find the package linux-image-amd64 depends on"; exit 1; }
  say "guest kernel: downloading $pkg"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && apt-get download -qq -o APT::Sandbox::User=root "$pkg" >/dev/null)
  dpkg-deb --fsys-tarfile "$tmp"/linux-image-*.deb | tar -xO --wildcards './boot/vmlinuz-*' >"$tmp/vmlinuz"
  [ -s "$tmp/vmlinuz" ] || { say "no boot/vmlinuz-* in $pkg"; exit 1; }
  mv "$tmp/vmlinuz" "$guest_dir/vmlinuz"
  echo "$pkg" >"$guest_dir/vmlinuz.package"
fi
say "guest kernel: $guest_dir/vmlinuz ($(cat "$guest_dir/vmlinuz.package" 2>/dev/null || echo unknown package))"

# ---- 5. the other lane's libvirt schemas (tests validate domain XML against both versions)
if [ "$lane" = backports ]; then other=(libvirt0 'bookworm(-security|-updates)?'); else other=(libvirt-common bookworm-backports); fi
other_version=$(release=${other[1]}; candidate "${other[0]}")
schemas_dir="$root/.cache/libvirt-schemas/$other_version"
if [ -n "$other_version" ] && [ ! -s "$schemas_dir/domain.rng" ]; then
  say "libvirt schemas: downloading ${other[0]} $other_version"
  tmp_schemas=$(mktemp -d)
  (cd "$tmp_schemas" && apt-get download -qq -o APT::Sandbox::User=root "${other[0]}=$other_version" >/dev/null)
  mkdir -p "$tmp_schemas/x" "$schemas_dir"
  dpkg-deb -x "$tmp_schemas"/*.deb "$tmp_schemas/x"
  cp "$tmp_schemas"/x/usr/share/libvirt/schemas/*.rng "$schemas_dir/"
  rm -rf "$tmp_schemas"
fi
[ -s "$schemas_dir/domain.rng" ] || { say "no libvirt schemas for the other lane (${other[0]} $other_version)"; exit 1; }
say "libvirt schemas of the other lane: $schemas_dir"
