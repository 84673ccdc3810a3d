/* What every weirctl command shares: where the node's datapath and state are, the output
 * format, and the one option parser all commands use (so -o and -h mean the same everywhere). */
#ifndef WEIR_WEIRCTL_H
#define WEIR_WEIRCTL_H

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>

enum output_format {
	OUTPUT_DEFAULT = 0, /* the command's own default (a table for all but status) */
	OUTPUT_TABLE,
	OUTPUT_JSON,
};

struct weirctl {
	const char *bpffs;
	const char *state_dir;
	enum output_format output;
};

/* Exit codes: 0 done, 1 the node could not answer (agent or maps missing, nothing found),
 * 2 the command line was wrong. */
#define EXIT_USAGE 2

struct command {
	const char *name;
	const char *arguments; /* after the name, for the usage line */
	const char *summary;   /* one line, for `weirctl --help` */
	const char *details;   /* the command's own --help text after the usage line; may be NULL */
	int (*run)(struct weirctl *ctl, const struct command *command, int argc, char **argv);
};

/* Parses the command's options (argv[0] is the command name): -o/--output FORMAT and -h/--help
 * always, plus extra (terminated by a zero entry) handled by on_option, which returns 0 or -1
 * after printing what was wrong. Returns the index of the first positional argument; -1 when
 * the command is done (help printed: exit 0) and -2 on a usage error (usage printed: exit 2). */
int command_options(struct weirctl *ctl, const struct command *command, int argc, char **argv,
		    const struct option *extra, const char *extra_short,
		    int (*on_option)(int option, const char *value, void *context), void *context);
/* The exit code for a command_options result below 0. */
int command_options_exit(int parsed);
/* Prints "usage: weirctl [global options] NAME ARGUMENTS" and the details. */
void command_usage(const struct command *command, FILE *stream);
/* A usage error: "weirctl NAME: <message>" and the usage on stderr. Returns EXIT_USAGE. */
int command_usage_error(const struct command *command, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

struct datapath;
/* The start of every command that reads the pinned maps and takes no arguments: options
 * parsed, the datapath opened. Returns -1 when the command may go on, else its exit code
 * (help printed, a usage error, or the maps could not be opened, said with what to do). */
int command_start_with_datapath(struct weirctl *ctl, const struct command *command, int argc,
				char **argv, struct datapath *datapath);

int command_status(struct weirctl *ctl, const struct command *command, int argc, char **argv);
int command_endpoints(struct weirctl *ctl, const struct command *command, int argc, char **argv);
int command_counters(struct weirctl *ctl, const struct command *command, int argc, char **argv);
int command_drops(struct weirctl *ctl, const struct command *command, int argc, char **argv);
int command_identities(struct weirctl *ctl, const struct command *command, int argc, char **argv);
int command_services(struct weirctl *ctl, const struct command *command, int argc, char **argv);
int command_policy(struct weirctl *ctl, const struct command *command, int argc, char **argv);
int command_flows(struct weirctl *ctl, const struct command *command, int argc, char **argv);
int command_trace(struct weirctl *ctl, const struct command *command, int argc, char **argv);

#endif
