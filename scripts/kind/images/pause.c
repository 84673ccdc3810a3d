// The pod sandbox's first process (registry.k8s.io/pause for the kind node image): it holds the
// pod's namespaces open, reaps the orphans that land on it as PID 1, and ends cleanly on
// SIGINT or SIGTERM. Statically linked, so the image holds nothing else.
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void exit_on_stop(int signal_number)
{
    (void)signal_number;
    _exit(0);
}

static void reap_children(int signal_number)
{
    (void)signal_number;
    int saved_errno = errno;
    while (waitpid(-1, NULL, WNOHANG) > 0) {
    }
    errno = saved_errno;
}

static int install(int signal_number, void (*handler)(int))
{
    struct sigaction action;
    memset(&action, 0, sizeof(action));
    action.sa_handler = handler;
    sigemptyset(&action.sa_mask);
    action.sa_flags = signal_number == SIGCHLD ? SA_NOCLDSTOP | SA_RESTART : 0;
    if (sigaction(signal_number, &action, NULL) != 0) {
        fprintf(stderr, "pause: cannot handle signal %d: %s\n", signal_number, strerror(errno));
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && (strcmp(argv[1], "-v") == 0 || strcmp(argv[1], "--version") == 0)) {
        printf("pause (weir) 3.10\n");
        return 0;
    }
    if (getpid() != 1) {
        // Not fatal: crictl and tests run it outside a sandbox; only reaping is PID 1's job.
        fprintf(stderr, "pause: warning: not running as PID 1\n");
    }
    if (install(SIGINT, exit_on_stop) != 0 || install(SIGTERM, exit_on_stop) != 0 ||
        install(SIGCHLD, reap_children) != 0) {
        return 1;
    }
    for (;;) {
        pause();
    }
}
