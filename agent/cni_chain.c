/* Which plugins follow weir-cni in the conflist, asked of the plugins themselves with the CNI
 * VERSION command (the spec's way to learn what a plugin speaks). */
#include "cni_chain.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cJSON.h>

/* weir-cni's versions (cni/config.c), newest first. */
static const char *const weir_cni_versions[] = { WEIR_CNI_NEWEST_VERSION, "1.0.0", "0.4.0" };

#define VERSION_ANSWER_MAX 4096
#define VERSION_TIMEOUT_MS 2000

const char *cni_chain_common_version(const char *version_answer)
{
	cJSON *answer = cJSON_Parse(version_answer);
	cJSON *supported = cJSON_GetObjectItemCaseSensitive(answer, "supportedVersions");
	const char *common = NULL;

	for (size_t i = 0; cJSON_IsArray(supported) && !common &&
			   i < sizeof(weir_cni_versions) / sizeof(weir_cni_versions[0]);
	     i++) {
		cJSON *item;
		cJSON_ArrayForEach(item, supported)
		{
			if (cJSON_IsString(item) &&
			    strcmp(item->valuestring, weir_cni_versions[i]) == 0) {
				common = weir_cni_versions[i];
				break;
			}
		}
	}
	cJSON_Delete(answer);
	return common;
}

static long milliseconds_since(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - start->tv_sec) * 1000 + (now.tv_nsec - start->tv_nsec) / 1000000;
}

/* Runs `CNI_COMMAND=VERSION path` with stdin from /dev/null and reads its answer, at most
 * VERSION_TIMEOUT_MS long: a hung plugin must not hold the agent back from publishing. */
static int plugin_version_answer(const char *path, char *answer, size_t size, char *errbuf,
				 size_t errlen)
{
	char *const argv[] = { (char *)path, NULL };
	char *const envp[] = { "CNI_COMMAND=VERSION", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL };
	posix_spawn_file_actions_t actions;
	struct timespec start;
	size_t used = 0;
	int pipe_fds[2], status = 0, err;
	pid_t pid;

	if (pipe2(pipe_fds, O_CLOEXEC) < 0) {
		snprintf(errbuf, errlen, "pipe: %s", strerror(errno));
		return -1;
	}
	posix_spawn_file_actions_init(&actions);
	posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], 1);
	posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
	err = posix_spawn(&pid, path, &actions, NULL, argv, envp);
	posix_spawn_file_actions_destroy(&actions);
	close(pipe_fds[1]);
	if (err) {
		close(pipe_fds[0]);
		snprintf(errbuf, errlen, "run %s: %s", path, strerror(err));
		return -1;
	}
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		struct pollfd readable = { .fd = pipe_fds[0], .events = POLLIN };
		long left = VERSION_TIMEOUT_MS - milliseconds_since(&start);
		ssize_t got;

		if (left <= 0 || poll(&readable, 1, (int)left) == 0) {
			kill(pid, SIGKILL);
			snprintf(errbuf, errlen, "%s did not answer VERSION within %d ms", path,
				 VERSION_TIMEOUT_MS);
			used = 0;
			break;
		}
		got = read(pipe_fds[0], answer + used, size - 1 - used);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		used += (size_t)got;
		if (used == size - 1)
			break;
	}
	close(pipe_fds[0]);
	answer[used] = '\0';
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (used == 0) {
		if (!*errbuf)
			snprintf(errbuf, errlen,
				 "%s answered VERSION with nothing (exit status %d)", path,
				 WIFEXITED(status) ? WEXITSTATUS(status) : -1);
		return -1;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		snprintf(errbuf, errlen, "%s failed VERSION (status %d): %.200s", path, status,
			 answer);
		return -1;
	}
	return 0;
}

void cni_chain_decide(const char *bin_dir, struct cni_chain *chain)
{
	char path[512], answer[VERSION_ANSWER_MAX], errbuf[256] = "";
	const char *common;

	memset(chain, 0, sizeof(*chain));
	snprintf(chain->cni_version, sizeof(chain->cni_version), "%s", WEIR_CNI_NEWEST_VERSION);
	if (!bin_dir) {
		snprintf(chain->note, sizeof(chain->note),
			 "no --cni-bin-dir: portmap is not chained, hostPort is not served");
		return;
	}
	snprintf(path, sizeof(path), "%s/portmap", bin_dir);
	if (access(path, X_OK) < 0) {
		snprintf(chain->note, sizeof(chain->note),
			 "%s: %s: hostPort is not served (install the reference CNI plugins, "
			 "Debian: containernetworking-plugins)",
			 path, strerror(errno));
		return;
	}
	if (plugin_version_answer(path, answer, sizeof(answer), errbuf, sizeof(errbuf)) < 0) {
		snprintf(chain->note, sizeof(chain->note), "%s: hostPort is not served", errbuf);
		return;
	}
	common = cni_chain_common_version(answer);
	if (!common) {
		snprintf(chain->note, sizeof(chain->note),
			 "%s speaks no CNI version weir-cni speaks (%.120s): "
			 "hostPort is not served",
			 path, answer);
		return;
	}
	chain->portmap = true;
	snprintf(chain->cni_version, sizeof(chain->cni_version), "%s", common);
	snprintf(chain->note, sizeof(chain->note),
		 "hostPort served by %s, chained after weir-cni; conflist cniVersion %s", path,
		 common);
}
