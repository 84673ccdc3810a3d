/* Replays fuzz inputs without libFuzzer's engine, so the seed corpora run as regression tests in
 * `make test` with gcc's AddressSanitizer and UndefinedBehaviorSanitizer:
 *
 *   build/fuzz/replay_<target> [--no-fork] FILE|FOLDER...
 *
 * Every file named, and every regular file of every folder named (sorted, hidden files skipped),
 * is one test: LLVMFuzzerTestOneInput runs on it in a forked child, so a sanitizer report, an
 * abort from a target's invariant check, a leak found at the child's exit or a hang (60 s) fails
 * that input alone and the rest still run. LLVMFuzzerInitialize, when the target has one, runs
 * once in the parent first. Prints one line per input and the test runner's summary,
 * "fuzz_<target>: N passed, N failed", the target named after the binary (replay_<target>). */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fuzz_support.h"

#define INPUT_TIMEOUT_SECONDS 60

/* Weak: targets without set-up do not define it. */
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

struct file_list {
	char **paths;
	size_t count, capacity;
};

static void list_add(struct file_list *list, const char *path)
{
	if (list->count == list->capacity) {
		size_t capacity = list->capacity ? list->capacity * 2 : 64;
		char **grown = realloc(list->paths, capacity * sizeof(*grown));
		if (!grown) {
			perror("realloc");
			exit(2);
		}
		list->paths = grown;
		list->capacity = capacity;
	}
	list->paths[list->count] = strdup(path);
	if (!list->paths[list->count]) {
		perror("strdup");
		exit(2);
	}
	list->count++;
}

static int skip_hidden(const struct dirent *entry)
{
	return entry->d_name[0] != '.';
}

static int list_argument(struct file_list *list, const char *path)
{
	struct stat status;
	struct dirent **entries;
	int count;

	if (stat(path, &status) < 0) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(status.st_mode)) {
		list_add(list, path);
		return 0;
	}
	count = scandir(path, &entries, skip_hidden, alphasort);
	if (count < 0) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	for (int i = 0; i < count; i++) {
		char child[4096];
		snprintf(child, sizeof(child), "%s/%s", path, entries[i]->d_name);
		if (stat(child, &status) == 0 && S_ISREG(status.st_mode))
			list_add(list, child);
		free(entries[i]);
	}
	free(entries);
	return 0;
}

static uint8_t *read_input(const char *path, size_t *size)
{
	FILE *file = fopen(path, "rb");
	uint8_t *data = NULL;
	size_t length = 0, capacity = 0;

	if (!file)
		return NULL;
	for (;;) {
		if (capacity - length < 4096) {
			capacity = capacity ? capacity * 2 : 65536;
			uint8_t *grown = realloc(data, capacity);
			if (!grown) {
				free(data);
				fclose(file);
				return NULL;
			}
			data = grown;
		}
		size_t n = fread(data + length, 1, capacity - length, file);
		length += n;
		if (n == 0)
			break;
	}
	fclose(file);
	*size = length;
	return data;
}

/* 0 when the input ran clean; otherwise prints why and returns 1. */
static int run_input(const char *path, bool fork_each)
{
	size_t size = 0;
	uint8_t *data = read_input(path, &size);
	int status;
	pid_t child;

	if (!data) {
		fprintf(stderr, "    read %s: %s\n", path, strerror(errno));
		return 1;
	}
	if (!fork_each) {
		LLVMFuzzerTestOneInput(data, size);
		free(data);
		return 0;
	}
	fflush(NULL);
	child = fork();
	if (child < 0) {
		fprintf(stderr, "    fork: %s\n", strerror(errno));
		free(data);
		return 1;
	}
	if (child == 0) {
		alarm(INPUT_TIMEOUT_SECONDS);
		LLVMFuzzerTestOneInput(data, size);
		free(data);
		exit(0); /* exit, not _exit: LeakSanitizer checks at exit */
	}
	free(data);
	if (waitpid(child, &status, 0) < 0) {
		fprintf(stderr, "    waitpid: %s\n", strerror(errno));
		return 1;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFSIGNALED(status))
		fprintf(stderr, "    %s: killed by signal %d%s\n", path, WTERMSIG(status),
			WTERMSIG(status) == SIGALRM ? " (timeout)" : "");
	else
		fprintf(stderr, "    %s: exit status %d\n", path, WEXITSTATUS(status));
	return 1;
}

int main(int argc, char **argv)
{
	const char *program = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
	struct file_list inputs = {0};
	bool fork_each = true;
	int passed = 0, failed = 0;
	char name[256];

	if (strncmp(program, "replay_", 7) == 0)
		program += 7;
	snprintf(name, sizeof(name), "fuzz_%s", program);
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--no-fork") == 0)
			fork_each = false;
		else if (list_argument(&inputs, argv[i]) < 0)
			failed++;
	}
	if (inputs.count == 0 && failed == 0) {
		fprintf(stderr, "usage: %s [--no-fork] FILE|FOLDER... (no inputs found)\n",
			argv[0]);
		failed++;
	}
	if (LLVMFuzzerInitialize)
		LLVMFuzzerInitialize(&argc, &argv);
	for (size_t i = 0; i < inputs.count; i++) {
		if (run_input(inputs.paths[i], fork_each) == 0) {
			passed++;
			printf("ok - %s:%s\n", name, inputs.paths[i]);
		} else {
			failed++;
			printf("not ok - %s:%s\n", name, inputs.paths[i]);
		}
		fflush(stdout);
		free(inputs.paths[i]);
	}
	free(inputs.paths);
	printf("%s: %d passed, %d failed\n", name, passed, failed);
	return failed ? 1 : 0;
}
