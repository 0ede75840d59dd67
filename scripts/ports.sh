# Sourced by scripts and tests that start servers on loopback: picking a
# port no other socket of this machine holds. (Ceph's OSDs bind 6800-7300,
# below the range used here.)

# port_used PORT: true when any TCP socket (listening or connected) holds
# PORT as its local port. Reads /proc so no iproute2 is needed.
port_used() {
	local hex
	hex=$(printf '%04X' "$1")
	cat /proc/net/tcp /proc/net/tcp6 2>/dev/null |
		awk -v p=":$hex" 'substr($2, length($2) - 4) == p { f = 1 } END { exit !f }'
}

# free_port [TAKEN...]: an unused port below the kernel's ephemeral range,
# so an outgoing connection (of this machine's processes) cannot take it
# between this check and the daemon's bind; never one of TAKEN (ports
# picked already but not bound yet).
free_port() {
	local p i lo
	lo=$(awk '{ print $1 }' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null)
	case $lo in '' | *[!0-9]*) lo=32768 ;; esac
	[ "$lo" -gt 12000 ] || lo=32768
	for i in $(seq 1 200); do
		p=$((10000 + (RANDOM * 32768 + RANDOM) % (lo - 10000)))
		case " $* " in *" $p "*) continue ;; esac
		port_used "$p" || { echo "$p"; return 0; }
	done
	return 1
}
