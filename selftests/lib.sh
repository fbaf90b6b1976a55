# SPDX-License-Identifier: GPL-2.0
# Shared by the selftests: KTAP output, network namespaces, module install.
# A test sources this, calls ktap_plan, runs its cases, ends in ktap_finish.

KSFT_PASS=0
KSFT_FAIL=1
KSFT_SKIP=4

ktap_n=0
ktap_failed=0
ktap_passed=0

ktap_plan() {
	echo "KTAP version 1"
	echo "1..$1"
}

ktap_note() { echo "# $*"; }

ktap_ok() {
	ktap_n=$((ktap_n + 1))
	ktap_passed=$((ktap_passed + 1))
	echo "ok $ktap_n $1"
}

ktap_fail() {
	ktap_n=$((ktap_n + 1))
	ktap_failed=$((ktap_failed + 1))
	echo "not ok $ktap_n $1${2:+ # $2}"
}

ktap_skip() {
	ktap_n=$((ktap_n + 1))
	echo "ok $ktap_n $1 # SKIP $2"
}

# ktap_test NAME CMD...: one case, passing when CMD succeeds.
ktap_test() {
	local name=$1
	shift
	if "$@"; then
		ktap_ok "$name"
	else
		ktap_fail "$name"
	fi
}

ktap_finish() {
	if [ "$ktap_failed" -gt 0 ]; then
		exit $KSFT_FAIL
	elif [ "$ktap_passed" -eq 0 ]; then
		exit $KSFT_SKIP
	fi
	exit $KSFT_PASS
}

# Skip the whole file unless we are root inside the test VM: the tests load
# modules and rewrite /lib/modules, which only the VM's overlay may absorb.
require_vm() {
	if [ "$(id -u)" != 0 ] || [ "${MAPE_VM:-}" != 1 ]; then
		ktap_plan 1
		ktap_skip "$(basename "$0")" "needs root in the test VM (selftests/vm/run.sh)"
		exit $KSFT_SKIP
	fi
}

# Namespaces get random names so concurrent or leftover runs never collide.
NS_LIST=""
ns_create() {
	local var=$1 name
	name="$1-$(mktemp -u XXXXXX)"
	ip netns add "$name" || return 1
	ip -n "$name" link set lo up
	NS_LIST="$NS_LIST $name"
	eval "$var=\$name"
}

# Kill what runs inside our namespaces, then delete them.
ns_cleanup() {
	local ns
	for ns in $NS_LIST; do
		ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null
		ip netns del "$ns" 2>/dev/null
	done
	NS_LIST=""
}

# veth_link NS1 IF1 ADDR1/LEN NS2 IF2 ADDR2/LEN
veth_link() {
	ip link add "$2" netns "$1" type veth peer name "$5" netns "$4" || return 1
	ip -n "$1" addr add "$3" dev "$2"
	ip -n "$4" addr add "$6" dev "$5"
	ip -n "$1" link set "$2" up
	ip -n "$4" link set "$5" up
}

# wait_listen NS PROTO PORT: bounded wait for a listener (t = tcp, u = udp).
wait_listen() {
	local i
	for i in $(seq 1 100); do
		ip netns exec "$1" ss -Hln"$2" "sport = :$3" | grep -q . && return 0
		sleep 0.1
	done
	echo "# no listener on $2 port $3 in $1"
	return 1
}

# Put the freshly built module where modprobe finds it. depmod over the
# whole tree takes over a minute under TCG, so "make" computed the index on
# the host (build/KVER/modroot); copy it over the VM's writable overlay.
mape_install_module() {
	local kver src
	kver=$(uname -r)
	src="$MAPE_ROOT/build/$kver/modroot/lib/modules/$kver"
	[ -r "$src/updates/nf_nat_mape.ko" ] || {
		echo "# $src has no module index: run make KVER=$kver"
		return 1
	}
	mkdir -p "/lib/modules/$kver/updates"
	cp "$src/updates/nf_nat_mape.ko" "/lib/modules/$kver/updates/"
	cp "$src"/modules.* "/lib/modules/$kver/"
}

MAPE_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
