#!/usr/bin/env bash
# Builds gpio-sim.ko out of tree for the VM's kernel, into OUT_DIR/gpio-sim/.
#
# Debian 12 kernels ship without CONFIG_GPIO_SIM, so the driver is compiled from
# linux-source-6.1 against linux-headers-<version> of the kernel the VM boots
# (tests/vm/kernel.sh). The driver needs the interrupt simulator, which that
# kernel does not build either: irq_sim.c is linked into the same module. One
# change makes it a module: irq_to_desc() is not exported, so its
# handle_simple_irq(irq_to_desc(irq)) becomes generic_handle_irq(irq), which is.
# The module is unsigned; the kernel loads it and marks itself tainted.
#
# Usage: tests/vm/gpio-sim-module.sh OUT_DIR   (reuses a module built for the same kernel)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/kernel.sh"
out=$1/gpio-sim
kver=$(vm_kernel_version)
headers=/usr/src/linux-headers-$kver
source_tar=/usr/src/linux-source-6.1.tar.xz

for need in "$headers/Makefile" "$source_tar"; do
	[ -e "$need" ] || { echo "gpio-sim: $need missing (scripts/deps.sh installs it)" >&2; exit 1; }
done
if [ -f "$out/gpio-sim.ko" ] && [ "$(cat "$out/kernel" 2>/dev/null)" = "$kver" ] &&
	[ "$out/gpio-sim.ko" -nt "$0" ]; then
	exit 0
fi
rm -rf "$out"
mkdir -p "$out"
tar -xJf "$source_tar" -C "$out" --strip-components=3 \
	linux-source-6.1/drivers/gpio/gpio-sim.c linux-source-6.1/drivers/gpio/gpiolib.h \
	linux-source-6.1/kernel/irq/irq_sim.c
# The object may not share the module's name: gpio-sim.ko = gpio_sim_main.o + irq_sim.o.
mv "$out/gpio-sim.c" "$out/gpio_sim_main.c"
sed -i 's/handle_simple_irq(irq_to_desc(irqnum))/generic_handle_irq(irqnum)/' "$out/irq_sim.c"
if grep -q irq_to_desc "$out/irq_sim.c"; then
	echo "gpio-sim: irq_sim.c still calls irq_to_desc(): the source changed, adapt the fix" >&2
	exit 1
fi
printf 'obj-m := gpio-sim.o\ngpio-sim-y := gpio_sim_main.o irq_sim.o\n' >"$out/Kbuild"
make -s -C "$headers" M="$out" modules >"$out/build.log" 2>&1 ||
	{ cat "$out/build.log" >&2; exit 1; }
echo "$kver" >"$out/kernel"
echo "gpio-sim: built $out/gpio-sim.ko for $kver"
