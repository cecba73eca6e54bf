# kernel.sh (sourced): which Debian kernel the VM rigs boot and build modules
# against. It is the one the linux-image-amd64 metapackage points to, so that
# scripts/deps.sh can install image and headers by their stable metapackage
# names and a kernel update on the build machine moves both together.

vm_kernel_version() {
	local v
	v=$(dpkg-query -W -f='${Depends}' linux-image-amd64 2>/dev/null |
		sed -n 's/^linux-image-\([^ ,]*\).*/\1/p')
	if [ -z "$v" ]; then
		echo "vm: linux-image-amd64 is not installed (scripts/deps.sh installs it)" >&2
		return 1
	fi
	echo "$v"
}
