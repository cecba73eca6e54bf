#!/usr/bin/env bash
# Packs the test VM's initramfs into OUT_DIR/initrd.gz: busybox (static) as the
# userland, tests/vm/init as PID 1, the guest test scripts of tests/vm/guest/,
# the kernel modules the tests load (configfs and the gpio-sim.ko built by
# gpio-sim-module.sh; evdev and uinput for the evdev test), and turnstiled,
# turnstilectl and the evdev test's uinput_keys from BUILD_DIR with every
# shared library ldd names, at the same paths, so the binaries under test are
# exactly the ones the host build produced (sanitizer builds included).
#
# Usage: tests/vm/initramfs.sh BUILD_DIR OUT_DIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/kernel.sh"
build=$1
out=$2
kver=$(vm_kernel_version)
busybox=/bin/busybox
modules=(/lib/modules/"$kver"/kernel/fs/configfs/configfs.ko "$out/gpio-sim/gpio-sim.ko"
	/lib/modules/"$kver"/kernel/drivers/input/evdev.ko
	/lib/modules/"$kver"/kernel/drivers/input/misc/uinput.ko)
programs=("$build/turnstiled" "$build/turnstilectl" "$build/uinput_keys")

for need in "$busybox" "${modules[@]}" "${programs[@]}"; do
	[ -e "$need" ] || { echo "initramfs: $need missing" >&2; exit 1; }
done
if ldd "$busybox" >/dev/null 2>&1; then
	echo "initramfs: $busybox is not static (install busybox-static)" >&2
	exit 1
fi

stage=$out/initramfs
rm -rf "$stage"
mkdir -p "$stage"/{bin,dev,proc,sys,tmp,run,etc,lib/modules,tests}
cp "$busybox" "$stage/bin/busybox"
for applet in $("$busybox" --list); do
	[ "$applet" = busybox ] || ln -s busybox "$stage/bin/$applet"
done
cp "$here/init" "$stage/init"
cp "$here"/guest/*.sh "$stage/tests/"
cp "${modules[@]}" "$stage/lib/modules/"
cp "${programs[@]}" "$stage/bin/"
# Shared libraries (and the dynamic loader) at the paths the binaries look for.
for lib in $(ldd "${programs[@]}" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// && $1 !~ /:$/ { print $1 }' |
	sort -u); do
	mkdir -p "$stage$(dirname "$lib")"
	cp -L "$lib" "$stage$lib"
done
echo "root:x:0:0:root:/:/bin/sh" >"$stage/etc/passwd"
(cd "$stage" && find . | "$busybox" cpio -o -H newc 2>/dev/null) | gzip -1 >"$out/initrd.gz"
