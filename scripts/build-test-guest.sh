#!/usr/bin/env bash
# Build the tiny Linux test guest used by the integration and e2e tests.
#
#   bash scripts/build-test-guest.sh          (or: npm run guest)
#
# Outputs, in $GUEST_DIR (default: <repo>/.cache/guest):
#   vmlinuz         Debian cloud kernel (linux-image-<ver>-cloud-amd64)
#   initrd.img      gzip newc cpio: static busybox, guest/init as /init, virtio & co modules
#   guest.iso       BIOS-bootable ISO (grub-mkrescue), boots kernel+initrd with timeout 0
#   cmdline         kernel command line to use with -kernel/-initrd (same as the ISO's)
#   kernel-release  e.g. 6.1.0-56-cloud-amd64
#   VERSION         hash of the inputs; when it matches, the script is a fast no-op
#
# Inputs: this script, every file in guest/, the kernel package + version, busybox-static
# version. Set GUEST_FORCE=1 to rebuild anyway.
#
# Boot it under TCG, never -accel kvm on these hosts (kvm_pvm):
#   qemu-system-x86_64 -accel tcg -machine q35 -m 256 -smp 1,maxcpus=4 -nodefaults \
#     -display none -serial stdio -cdrom .cache/guest/guest.iso
#   qemu-system-x86_64 -accel tcg -machine q35 -m 256 -nodefaults -display none -serial stdio \
#     -kernel .cache/guest/vmlinuz -initrd .cache/guest/initrd.img \
#     -append "$(cat .cache/guest/cmdline)"
set -euo pipefail

log() { echo "build-test-guest: $*" >&2; }
die() { log "error: $*"; exit 1; }

SCRIPT_PATH=$(readlink -f "${BASH_SOURCE[0]}")
REPO_DIR=$(cd "$(dirname "$SCRIPT_PATH")/.." && pwd)
GUEST_SRC="$REPO_DIR/guest"
GUEST_DIR=${GUEST_DIR:-"$REPO_DIR/.cache/guest"}
KERNEL_META_PKG=${GUEST_KERNEL_META_PKG:-linux-image-cloud-amd64}

[ -f "$GUEST_SRC/init" ] || die "missing $GUEST_SRC/init"
[ -f "$GUEST_SRC/modules" ] || die "missing $GUEST_SRC/modules"
[ -f "$GUEST_SRC/cmdline" ] || die "missing $GUEST_SRC/cmdline"

export DEBIAN_FRONTEND=noninteractive
APT_UPDATED=0
apt_update_once() {
	if [ "$APT_UPDATED" = 0 ]; then
		log "running apt-get update"
		apt-get update -qq >&2
		APT_UPDATED=1
	fi
}

# ---- 1. host tools --------------------------------------------------------------------
REQUIRED_PKGS=(qemu-system-x86 qemu-utils busybox-static grub-pc-bin grub-common xorriso mtools cpio kmod)
missing=()
for p in "${REQUIRED_PKGS[@]}"; do
	st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	[ "$st" = installed ] || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
	[ "$(id -u)" = 0 ] || die "missing packages ${missing[*]}; run as root or: sudo apt-get install ${missing[*]}"
	log "installing missing packages: apt-get install -y --no-install-recommends ${missing[*]}"
	if ! apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2; then
		apt_update_once
		apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
	fi
fi

BUSYBOX=$(dpkg -L busybox-static | grep -E '/bin/busybox$' | head -n1)
[ -x "$BUSYBOX" ] || die "busybox-static is installed but its binary was not found"
BUSYBOX_VERSION=$(dpkg-query -W -f='${Version}' busybox-static)

# ---- 2. kernel package -----------------------------------------------------------------
resolve_kernel() {
	KERNEL_PKG=$(apt-cache depends "$KERNEL_META_PKG" 2>/dev/null |
		awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9].*-cloud-amd64$/ { print $2; exit }')
	[ -n "$KERNEL_PKG" ] || return 1
	KERNEL_PKG_VERSION=$(apt-cache policy "$KERNEL_PKG" | awk '$1 == "Candidate:" { print $2; exit }')
	[ -n "$KERNEL_PKG_VERSION" ] && [ "$KERNEL_PKG_VERSION" != "(none)" ]
}
KERNEL_PKG= KERNEL_PKG_VERSION=
if ! resolve_kernel; then
	if [ "$(id -u)" = 0 ] && apt_update_once && resolve_kernel; then
		:
	elif [ -f "$GUEST_DIR/VERSION" ] && [ -f "$GUEST_DIR/vmlinuz" ] && [ -f "$GUEST_DIR/initrd.img" ] && [ -f "$GUEST_DIR/guest.iso" ]; then
		log "warning: cannot resolve $KERNEL_META_PKG with apt-cache; keeping the existing guest in $GUEST_DIR"
		exit 0
	else
		die "cannot resolve $KERNEL_META_PKG with apt-cache (apt lists missing? try apt-get update)"
	fi
fi
KREL=${KERNEL_PKG#linux-image-}

# ---- 3. up to date? --------------------------------------------------------------------
hash_inputs() {
	{
		echo "kernel=$KERNEL_PKG $KERNEL_PKG_VERSION"
		echo "busybox=$BUSYBOX_VERSION"
		sha256sum "$SCRIPT_PATH" | cut -d' ' -f1
		(cd "$GUEST_SRC" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
		(cd "$GUEST_SRC" && find . -type f -perm -u+x | LC_ALL=C sort)
	} | sha256sum | cut -d' ' -f1
}
INPUT_HASH=$(hash_inputs)

mkdir -p "$GUEST_DIR"
exec 9>"$GUEST_DIR/.lock"
flock 9 # another build (parallel test runner) finishes first; then we are up to date

OUTPUTS=(vmlinuz initrd.img guest.iso cmdline kernel-release)
up_to_date() {
	[ "${GUEST_FORCE:-0}" = 1 ] && return 1
	[ "$(cat "$GUEST_DIR/VERSION" 2>/dev/null)" = "$INPUT_HASH" ] || return 1
	for o in "${OUTPUTS[@]}"; do [ -s "$GUEST_DIR/$o" ] || return 1; done
}
if up_to_date; then
	echo "test guest up to date ($KREL, $GUEST_DIR)"
	exit 0
fi

START=$(date +%s.%N)
log "building test guest: kernel $KERNEL_PKG $KERNEL_PKG_VERSION, busybox-static $BUSYBOX_VERSION -> $GUEST_DIR"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/test-guest.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

# ---- 4. fetch + unpack the kernel ------------------------------------------------------
mkdir -p "$TMP/deb" "$TMP/kernel"
download_kernel() {
	(cd "$TMP/deb" && apt-get download -q -o APT::Sandbox::User=root "$KERNEL_PKG=$KERNEL_PKG_VERSION" >&2)
}
if ! download_kernel; then
	apt_update_once
	download_kernel || die "apt-get download $KERNEL_PKG failed"
fi
DEB=$(ls "$TMP"/deb/*.deb)
log "unpacking $(basename "$DEB")"
dpkg-deb -x "$DEB" "$TMP/kernel"
KROOT="$TMP/kernel"
KMOD="$KROOT/lib/modules/$KREL"
[ -f "$KROOT/boot/vmlinuz-$KREL" ] || die "no boot/vmlinuz-$KREL in $DEB"
[ -d "$KMOD" ] || die "no lib/modules/$KREL in $DEB"
depmod -b "$KROOT" "$KREL" # the package ships no modules.dep

# ---- 5. initramfs ----------------------------------------------------------------------
IR="$TMP/initramfs"
mkdir -p "$IR"/{bin,sbin,usr/bin,usr/sbin,etc/acpi/PWRF,proc,sys,dev,tmp,run,root,var/log,var/run,lib/modules/"$KREL"}
install -m 0755 "$BUSYBOX" "$IR/bin/busybox"
"$BUSYBOX" --list-full | while read -r applet; do
	[ -e "$IR/$applet" ] || ln -s /bin/busybox "$IR/$applet"
done
[ -e "$IR/bin/sh" ] || ln -s busybox "$IR/bin/sh"
install -m 0755 "$GUEST_SRC/init" "$IR/init"
install -m 0755 "$GUEST_SRC/acpi-poweroff" "$IR/etc/acpi/PWRF/00000080"
install -m 0755 "$GUEST_SRC/respawn-shell" "$IR/sbin/respawn-shell"
install -m 0755 "$GUEST_SRC/hotplug-wake" "$IR/sbin/hotplug-wake"
echo guest >"$IR/etc/hostname"
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$IR/etc/passwd"
printf 'root:x:0:\n' >"$IR/etc/group"
# The kernel opens /dev/console for /init before devtmpfs is mounted. Without root there is
# no mknod; /init then reopens /dev/console itself once devtmpfs is up.
mknod -m 600 "$IR/dev/console" c 5 1 2>/dev/null || log "note: cannot mknod /dev/console (not root); /init reopens it"

: >"$IR/etc/guest-modules"
copied=()
while read -r mod _; do
	case "$mod" in '' | '#'*) continue ;; esac
	if ! deps=$(modprobe -d "$KROOT" -S "$KREL" --show-depends "$mod" 2>/dev/null); then
		log "module $mod: not in this kernel, skipped"
		continue
	fi
	if ! grep -q '^insmod ' <<<"$deps"; then
		log "module $mod: built in, skipped"
		continue
	fi
	while read -r kind path _; do
		[ "$kind" = insmod ] || continue
		rel=${path#"$KROOT"/}
		if [ ! -e "$IR/$rel" ]; then
			mkdir -p "$(dirname "$IR/$rel")"
			cp "$path" "$IR/$rel"
			copied+=("$(basename "$rel")")
		fi
	done <<<"$deps"
	echo "$mod" >>"$IR/etc/guest-modules"
done <"$GUEST_SRC/modules"
cp "$KMOD"/modules.builtin "$KMOD"/modules.order "$IR/lib/modules/$KREL/"
[ -f "$KMOD/modules.builtin.modinfo" ] && cp "$KMOD/modules.builtin.modinfo" "$IR/lib/modules/$KREL/"
depmod -b "$IR" "$KREL"
log "modules copied: ${copied[*]}"
log "modprobe at boot: $(tr '\n' ' ' <"$IR/etc/guest-modules")"

(cd "$IR" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) | gzip -9n >"$TMP/initrd.img"

# ---- 6. ISO ----------------------------------------------------------------------------
CMDLINE=$(grep -v '^[[:space:]]*#' "$GUEST_SRC/cmdline" | tr -s '\n' ' ' | sed 's/^ *//; s/ *$//')
ISO="$TMP/iso"
mkdir -p "$ISO/boot/grub"
cp "$KROOT/boot/vmlinuz-$KREL" "$TMP/vmlinuz"
cp "$TMP/vmlinuz" "$ISO/boot/vmlinuz"
cp "$TMP/initrd.img" "$ISO/boot/initrd.img"
cat >"$ISO/boot/grub/grub.cfg" <<EOF
set timeout=0
set timeout_style=hidden
set default=0
menuentry "test guest ($KREL)" {
	linux /boot/vmlinuz $CMDLINE
	initrd /boot/initrd.img
}
EOF
log "grub-mkrescue -> guest.iso"
grub-mkrescue -o "$TMP/guest.iso" "$ISO" >"$TMP/grub-mkrescue.log" 2>&1 || {
	cat "$TMP/grub-mkrescue.log" >&2
	die "grub-mkrescue failed"
}

# ---- 7. install ------------------------------------------------------------------------
echo "$CMDLINE" >"$TMP/cmdline"
echo "$KREL" >"$TMP/kernel-release"
rm -f "$GUEST_DIR/VERSION"
for o in "${OUTPUTS[@]}"; do
	mv -f "$TMP/$o" "$GUEST_DIR/$o"
done
echo "$INPUT_HASH" >"$GUEST_DIR/VERSION"

END=$(date +%s.%N)
log "done in $(awk -v a="$START" -v b="$END" 'BEGIN { printf "%.1f", b - a }') s:" \
	"$(cd "$GUEST_DIR" && ls -l "${OUTPUTS[@]}" VERSION | awk '{ printf "%s=%s ", $NF, $5 }')"
echo "test guest built ($KREL, $GUEST_DIR)"
