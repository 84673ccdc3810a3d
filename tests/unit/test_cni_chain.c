/* The conflist's chain: portmap is chained only when --cni-bin-dir holds one that answers
 * VERSION with a version weir-cni speaks, and the conflist takes the newest shared version. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cni_chain.h"
#include "unit.h"

/* Debian 12's containernetworking-plugins 1.1.1 answers this. */
#define DEBIAN_PORTMAP_ANSWER                                                                      \
	"{\"cniVersion\":\"1.0.0\",\"supportedVersions\":[\"0.1.0\",\"0.2.0\",\"0.3.0\","        \
	"\"0.3.1\",\"0.4.0\",\"1.0.0\"]}"

static void common_version_is_the_newest_shared(void)
{
	ASSERT_STR_EQ(cni_chain_common_version(DEBIAN_PORTMAP_ANSWER), "1.0.0", "Debian's portmap");
	ASSERT_STR_EQ(cni_chain_common_version("{\"supportedVersions\":[\"0.4.0\",\"1.0.0\","
					       "\"1.1.0\"]}"),
		      "1.1.0", "a 1.1.0 portmap");
	ASSERT_STR_EQ(cni_chain_common_version("{\"supportedVersions\":[\"0.3.1\",\"0.4.0\"]}"),
		      "0.4.0", "an old portmap");
	ASSERT_TRUE(cni_chain_common_version("{\"supportedVersions\":[\"0.3.1\"]}") == NULL,
		    "nothing shared");
	ASSERT_TRUE(cni_chain_common_version("{\"supportedVersions\":\"1.0.0\"}") == NULL,
		    "not a list");
	ASSERT_TRUE(cni_chain_common_version("not json") == NULL, "not JSON");
}

/* A CNI bin folder holding a portmap that is this shell script. */
static void bin_dir_with_portmap(char *dir, const char *script)
{
	char path[300];
	FILE *file;

	strcpy(dir, "/tmp/weir-unit-cni-bin-XXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		exit(1);
	}
	snprintf(path, sizeof(path), "%s/portmap", dir);
	file = fopen(path, "w");
	if (!file) {
		perror(path);
		exit(1);
	}
	fprintf(file, "#!/bin/sh\n%s\n", script);
	fclose(file);
	chmod(path, 0755);
}

static void bin_dir_remove(const char *dir)
{
	char path[300];

	snprintf(path, sizeof(path), "%s/portmap", dir);
	unlink(path);
	rmdir(dir);
}

static void no_bin_dir_chains_nothing(void)
{
	struct cni_chain chain;

	cni_chain_decide(NULL, &chain);
	ASSERT_TRUE(!chain.portmap, "not chained");
	ASSERT_STR_EQ(chain.cni_version, "1.1.0", "weir-cni's newest version");
	ASSERT_CONTAINS(chain.note, "hostPort is not served", "says what is missing");
}

static void bin_dir_without_portmap_chains_nothing(void)
{
	char dir[64] = "/tmp/weir-unit-cni-bin-XXXXXX";
	struct cni_chain chain;

	ASSERT_TRUE(mkdtemp(dir) != NULL, "mkdtemp");
	cni_chain_decide(dir, &chain);
	rmdir(dir);
	ASSERT_TRUE(!chain.portmap, "not chained");
	ASSERT_STR_EQ(chain.cni_version, "1.1.0", "weir-cni's newest version");
	ASSERT_CONTAINS(chain.note, "/portmap", "names the path it looked for");
	ASSERT_CONTAINS(chain.note, "No such file", "says why");
}

static void debian_portmap_is_chained_at_1_0_0(void)
{
	char dir[64];
	struct cni_chain chain;

	bin_dir_with_portmap(dir, "[ \"$CNI_COMMAND\" = VERSION ] || exit 7\n"
				  "echo '" DEBIAN_PORTMAP_ANSWER "'");
	cni_chain_decide(dir, &chain);
	bin_dir_remove(dir);
	ASSERT_TRUE(chain.portmap, "chained");
	ASSERT_STR_EQ(chain.cni_version, "1.0.0", "the newest version both speak");
	ASSERT_CONTAINS(chain.note, "hostPort served", "says so");
}

static void failing_portmap_is_not_chained(void)
{
	char dir[64];
	struct cni_chain chain;

	bin_dir_with_portmap(dir, "echo '{\"code\":4}'; exit 1");
	cni_chain_decide(dir, &chain);
	bin_dir_remove(dir);
	ASSERT_TRUE(!chain.portmap, "not chained");
	ASSERT_STR_EQ(chain.cni_version, "1.1.0", "weir-cni's newest version");
	ASSERT_CONTAINS(chain.note, "failed VERSION", "says the plugin failed");
}

static void hung_portmap_is_given_up_on(void)
{
	char dir[64];
	struct cni_chain chain;
	time_t started = time(NULL);

	bin_dir_with_portmap(dir, "exec sleep 30");
	cni_chain_decide(dir, &chain);
	bin_dir_remove(dir);
	ASSERT_TRUE(time(NULL) - started < 10, "gave up within the timeout");
	ASSERT_TRUE(!chain.portmap, "not chained");
	ASSERT_CONTAINS(chain.note, "did not answer VERSION", "says it hung");
}

const struct test_case cni_chain_tests[] = {
	{ "common_version_is_the_newest_shared", common_version_is_the_newest_shared },
	{ "no_bin_dir_chains_nothing", no_bin_dir_chains_nothing },
	{ "bin_dir_without_portmap_chains_nothing", bin_dir_without_portmap_chains_nothing },
	{ "debian_portmap_is_chained_at_1_0_0", debian_portmap_is_chained_at_1_0_0 },
	{ "failing_portmap_is_not_chained", failing_portmap_is_not_chained },
	{ "hung_portmap_is_given_up_on", hung_portmap_is_given_up_on },
};
const size_t cni_chain_tests_count = sizeof(cni_chain_tests) / sizeof(cni_chain_tests[0]);
