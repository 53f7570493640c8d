/*
 * The pause program: PID 1 of every closet pod sandbox.
 *
 * It holds the sandbox's namespaces open by doing nothing, exits 0 when asked to stop
 * (SIGINT or SIGTERM), and reaps every child reparented to it, because as PID 1 of the pod's
 * PID namespace it inherits the orphans of every container that shares that namespace.
 *
 * Built static by build.rs so the image needs nothing else: no libc, no loader.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAUSE_VERSION "closet-pause 1"

static void stop(int signo) {
    (void)signo;
    _exit(0);
}

static void reap(int signo) {
    (void)signo;
    /* waitpid may overwrite errno, and the interrupted code may be about to read it. */
    int saved = errno;
    while (waitpid(-1, NULL, WNOHANG) > 0) {
    }
    errno = saved;
}

static int install(int signo, void (*handler)(int), int flags) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = handler;
    action.sa_flags = flags;
    sigemptyset(&action.sa_mask);
    return sigaction(signo, &action, NULL);
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "-v") == 0) {
        puts(PAUSE_VERSION);
        return 0;
    }
    if (getpid() != 1) {
        /* Still useful outside a PID namespace (tests, debugging), so only warn. */
        fputs("pause: warning: not running as PID 1\n", stderr);
    }
    if (install(SIGINT, stop, 0) < 0 || install(SIGTERM, stop, 0) < 0 ||
        install(SIGCHLD, reap, SA_NOCLDSTOP | SA_RESTART) < 0) {
        perror("pause: sigaction");
        return 1;
    }
    for (;;) {
        pause();
    }
    /* Not reached: pause() only returns after a handler, and the loop waits again. */
    return 42;
}
