/* Built-in IPAM: stable per attachment, never the reserved addresses, exhaustion reported, and
 * concurrent allocations (separate processes, as concurrent weir-cni runs are) never collide. */
#include <errno.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ipam.h"
#include "test.h"
#include "unit.h"

static char state_dir[64];

static int make_state_dir(void)
{
	snprintf(state_dir, sizeof(state_dir), "/tmp/weir-unit-ipam-XXXXXX");
	return mkdtemp(state_dir) ? 0 : -1;
}

static void remove_state_dir(void)
{
	char command[128];

	snprintf(command, sizeof(command), "rm -rf '%s'", state_dir);
	if (system(command) != 0)
		fprintf(stderr, "could not remove %s\n", state_dir);
}

static int allocate(const char *cidr, const char *container_id, uint32_t *address)
{
	struct ipv4_prefix subnet;
	struct ipam ipam;
	char errbuf[256];
	int result;

	ipv4_prefix_parse(cidr, &subnet, errbuf, sizeof(errbuf));
	if (ipam_open_locked(&ipam, state_dir, errbuf, sizeof(errbuf)) < 0)
		return -EIO;
	result = ipam_allocate(&ipam, &subnet, container_id, "eth0", address, errbuf,
			       sizeof(errbuf));
	ipam_close(&ipam);
	return result;
}

static int release(const char *container_id)
{
	struct ipam ipam;
	char errbuf[256];
	int result;

	if (ipam_open_locked(&ipam, state_dir, errbuf, sizeof(errbuf)) < 0)
		return -EIO;
	result = ipam_release(&ipam, container_id, "eth0");
	ipam_close(&ipam);
	return result;
}

static void same_attachment_gets_same_address(void)
{
	uint32_t first, again, other;

	ASSERT_EQ(make_state_dir(), 0, "state dir");
	ASSERT_EQ(allocate("10.1.0.0/24", "ctr-a", &first), 0, "allocate a");
	ASSERT_EQ(first, 0x0a010002u, "first address is .2 (.1 is the gateway)");
	ASSERT_EQ(allocate("10.1.0.0/24", "ctr-a", &again), 0, "allocate a again");
	ASSERT_EQ(again, first, "repeated allocation");
	ASSERT_EQ(allocate("10.1.0.0/24", "ctr-b", &other), 0, "allocate b");
	ASSERT_TRUE(other != first, "b differs from a");
	remove_state_dir();
}

static void never_reserved_addresses_and_exhaustion(void)
{
	uint32_t address;
	char id[32];

	ASSERT_EQ(make_state_dir(), 0, "state dir");
	/* /29: .0 network, .1 gateway, .7 broadcast; .2-.6 are the pods'. */
	for (int i = 0; i < 5; i++) {
		snprintf(id, sizeof(id), "ctr-%d", i);
		ASSERT_EQ(allocate("10.2.0.0/29", id, &address), 0, "allocate");
		ASSERT_TRUE(address >= 0x0a020002u && address <= 0x0a020006u, "in pod range");
	}
	ASSERT_EQ(allocate("10.2.0.0/29", "ctr-full", &address), -ENOSPC, "exhausted");
	ASSERT_EQ(release("ctr-3"), 0, "release");
	ASSERT_EQ(allocate("10.2.0.0/29", "ctr-full", &address), 0, "after release");
	ASSERT_EQ(release("never-allocated"), 0, "releasing nothing is fine");
	remove_state_dir();
}

static void released_address_is_not_reused_at_once(void)
{
	uint32_t a, b, c;

	ASSERT_EQ(make_state_dir(), 0, "state dir");
	ASSERT_EQ(allocate("10.3.0.0/24", "ctr-a", &a), 0, "a");
	ASSERT_EQ(allocate("10.3.0.0/24", "ctr-b", &b), 0, "b");
	ASSERT_EQ(release("ctr-a"), 0, "release a");
	ASSERT_EQ(allocate("10.3.0.0/24", "ctr-c", &c), 0, "c");
	ASSERT_TRUE(c != a, "c does not get a's just-released address");
	remove_state_dir();
}

static void fifty_concurrent_allocations_are_distinct(void)
{
	enum { PROCESSES = 50 };
	int pipes[PROCESSES][2];
	uint32_t addresses[PROCESSES];

	ASSERT_EQ(make_state_dir(), 0, "state dir");
	for (int i = 0; i < PROCESSES; i++) {
		ASSERT_EQ(pipe(pipes[i]), 0, "pipe");
		pid_t child = fork();
		ASSERT_TRUE(child >= 0, "fork");
		if (child == 0) {
			char id[32];
			uint32_t address = 0;
			snprintf(id, sizeof(id), "parallel-%d", i);
			if (allocate("10.4.0.0/24", id, &address) < 0)
				address = 0;
			if (write(pipes[i][1], &address, sizeof(address)) != sizeof(address))
				_exit(2);
			_exit(0);
		}
		close(pipes[i][1]);
	}
	for (int i = 0; i < PROCESSES; i++) {
		ASSERT_EQ(read(pipes[i][0], &addresses[i], sizeof(addresses[i])),
			  sizeof(addresses[i]), "child result");
		close(pipes[i][0]);
	}
	while (wait(NULL) > 0)
		;
	for (int i = 0; i < PROCESSES; i++) {
		ASSERT_TRUE(addresses[i] != 0, "child allocated");
		for (int j = 0; j < i; j++) {
			if (addresses[i] == addresses[j]) {
				TEST_FAIL("children %d and %d share address %08x", i, j, addresses[i]);
				return;
			}
		}
	}
	remove_state_dir();
}

static void stale_key_hint_is_not_trusted(void)
{
	struct ipam ipam;
	uint32_t a, found;
	char path[256], errbuf[256];
	FILE *key;

	ASSERT_EQ(make_state_dir(), 0, "state dir");
	ASSERT_EQ(allocate("10.5.0.0/24", "ctr-a", &a), 0, "a");
	/* As if ctr-x crashed after writing its key and before its address file. */
	snprintf(path, sizeof(path), "%s/ipam/keys/ctr-x:eth0", state_dir);
	key = fopen(path, "w");
	ASSERT_TRUE(key != NULL, "write stale key");
	fprintf(key, "10.5.0.2\n");
	fclose(key);
	ASSERT_EQ(ipam_open_locked(&ipam, state_dir, errbuf, sizeof(errbuf)), 0, "lock");
	ASSERT_EQ(ipam_find(&ipam, "ctr-x", "eth0", &found), -ENOENT, "stale key ignored");
	ASSERT_EQ(ipam_find(&ipam, "ctr-a", "eth0", &found), 0, "a still found");
	ASSERT_EQ(found, a, "a's address");
	ASSERT_EQ(ipam_release(&ipam, "ctr-x", "eth0"), 0, "release ctr-x");
	ASSERT_EQ(ipam_find(&ipam, "ctr-a", "eth0", &found), 0, "a survives ctr-x's release");
	ipam_close(&ipam);
	remove_state_dir();
}

const struct test_case ipam_tests[] = {
	{ "stale_key_hint_is_not_trusted", stale_key_hint_is_not_trusted },
	{ "same_attachment_gets_same_address", same_attachment_gets_same_address },
	{ "never_reserved_addresses_and_exhaustion", never_reserved_addresses_and_exhaustion },
	{ "released_address_is_not_reused_at_once", released_address_is_not_reused_at_once },
	{ "fifty_concurrent_allocations_are_distinct", fifty_concurrent_allocations_are_distinct },
};
const size_t ipam_tests_count = sizeof(ipam_tests) / sizeof(ipam_tests[0]);
