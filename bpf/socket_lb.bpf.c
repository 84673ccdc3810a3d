/* Socket-level load balancing (cgroup hooks): a connect() or sendto() to a Service VIP is
 * pointed at a backend before any packet exists, so connected sockets pay no per-packet
 * translation; getpeername() and recvmsg() still show the VIP. Packets then travel to the
 * backend address and the TC programs judge them against the backend as usual. The TC path
 * still serves everything these hooks do not see. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "abi.h"
#include "lib/maps.h"
#include "lib/metrics.h"

char LICENSE[] SEC("license") = "GPL";

#define AF_INET 2
#define SOCKET_ALLOW 1
#define SOCKET_REFUSE 0 /* the syscall fails with EPERM: an immediate refusal */

static __always_inline __u32 mix(__u64 value)
{
	value ^= value >> 33;
	value *= 0xff51afd7ed558ccdULL;
	value ^= value >> 33;
	return (__u32)value;
}

/* Points ctx at a backend of the VIP it names; remembers the VIP for the socket. */
static __always_inline int translate(struct bpf_sock_addr *ctx)
{
	struct weir_service_key key = { .address = ctx->user_ip4,
					.port = (__u16)ctx->user_port,
					.protocol = (__u8)ctx->protocol };
	struct weir_service *service;
	struct weir_backend *backend = 0;
	struct weir_maglev_key slot;
	struct weir_socket_revnat revnat = {};
	__u64 cookie = bpf_get_socket_cookie(ctx);
	__u32 backend_id = 0, *chosen;

	if (ctx->user_family != AF_INET)
		return SOCKET_ALLOW;
	service = bpf_map_lookup_elem(&services, &key);
	if (!service)
		return SOCKET_ALLOW;
	if (service->backend_count == 0) {
		metrics_count(WEIR_COUNTER_SOCKET_REFUSED);
		return SOCKET_REFUSE;
	}
	if (service->flags & WEIR_SERVICE_FLAG_AFFINITY) {
		/* The client of a socket is its network namespace (its pod). */
		struct weir_affinity_key affinity_key = { service->service_id,
							  (__u32)bpf_get_netns_cookie(ctx) };
		struct weir_affinity *remembered = bpf_map_lookup_elem(&affinity, &affinity_key);
		__u64 now = bpf_ktime_get_ns();
		if (remembered &&
		    now - remembered->last_used_ns < (__u64)service->affinity_seconds * 1000000000ULL) {
			backend_id = remembered->backend_id;
			backend = bpf_map_lookup_elem(&backends, &backend_id);
		}
		if (!backend) {
			slot.service_id = service->service_id;
			slot.slot = mix(cookie) % WEIR_MAGLEV_SIZE;
			chosen = bpf_map_lookup_elem(&maglev, &slot);
			if (chosen) {
				backend_id = *chosen;
				backend = bpf_map_lookup_elem(&backends, &backend_id);
			}
		}
		if (backend) {
			struct weir_affinity fresh = { .last_used_ns = now, .backend_id = backend_id };
			bpf_map_update_elem(&affinity, &affinity_key, &fresh, BPF_ANY);
		}
	} else {
		slot.service_id = service->service_id;
		slot.slot = mix(cookie) % WEIR_MAGLEV_SIZE;
		chosen = bpf_map_lookup_elem(&maglev, &slot);
		if (chosen) {
			backend_id = *chosen;
			backend = bpf_map_lookup_elem(&backends, &backend_id);
		}
	}
	if (!backend) {
		metrics_count(WEIR_COUNTER_SOCKET_REFUSED);
		return SOCKET_REFUSE;
	}
	revnat.vip = ctx->user_ip4;
	revnat.vip_port = (__u16)ctx->user_port;
	revnat.backend = backend->address;
	revnat.backend_port = backend->port;
	bpf_map_update_elem(&socket_revnat, &cookie, &revnat, BPF_ANY);
	ctx->user_ip4 = backend->address;
	ctx->user_port = backend->port;
	metrics_count(WEIR_COUNTER_SOCKET_TRANSLATED);
	return SOCKET_ALLOW;
}

/* Shows the VIP where the application expects it. */
static __always_inline int reverse(struct bpf_sock_addr *ctx)
{
	__u64 cookie = bpf_get_socket_cookie(ctx);
	struct weir_socket_revnat *revnat = bpf_map_lookup_elem(&socket_revnat, &cookie);

	if (revnat && ctx->user_ip4 == revnat->backend &&
	    (__u16)ctx->user_port == revnat->backend_port) {
		ctx->user_ip4 = revnat->vip;
		ctx->user_port = revnat->vip_port;
	}
	return SOCKET_ALLOW;
}

SEC("cgroup/connect4")
int sock_connect4(struct bpf_sock_addr *ctx)
{
	return translate(ctx);
}

SEC("cgroup/sendmsg4")
int sock_sendmsg4(struct bpf_sock_addr *ctx)
{
	return translate(ctx);
}

SEC("cgroup/recvmsg4")
int sock_recvmsg4(struct bpf_sock_addr *ctx)
{
	return reverse(ctx);
}

SEC("cgroup/getpeername4")
int sock_getpeer4(struct bpf_sock_addr *ctx)
{
	return reverse(ctx);
}
