/* late-reaper.c: runs a command as a child subreaper that leaves every orphan that exits a
 * zombie for LATE_REAPER_MS milliseconds (default 2000) before it reaps it: an init that reaps
 * late, as this kind of machine's does, only worse (FACTS.md: "Init reaps late": about a
 * second). scripts/test runs a test suite under it, so that a liveness check that takes a
 * zombie for a live process fails every time, not only on a slow machine.
 *
 * usage: late-reaper COMMAND [ARG...]; exits with COMMAND's status. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t forward_sig;

static void on_signal(int sig)
{
    forward_sig = sig;
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* 1 when pid is a zombie ("pid (comm) Z ..."; comm may hold ')' itself). */
static int is_zombie(pid_t pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return 0;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *rp = strrchr(buf, ')');
    return rp != NULL && rp[1] == ' ' && rp[2] == 'Z';
}

#define MAX_SEEN 4096
static struct { pid_t pid; long long since; } seen[MAX_SEEN];
static int nseen;

/* When pid was first seen a zombie (now, if this is the first look). */
static long long zombie_since(pid_t pid, long long now)
{
    for (int i = 0; i < nseen; i++)
        if (seen[i].pid == pid)
            return seen[i].since;
    if (nseen < MAX_SEEN) {
        seen[nseen].pid = pid;
        seen[nseen++].since = now;
    }
    return now;
}

static void forget(pid_t pid)
{
    for (int i = 0; i < nseen; i++)
        if (seen[i].pid == pid) {
            seen[i] = seen[--nseen];
            return;
        }
}

int main(int argc, char **argv)
{
    const char *ms_env = getenv("LATE_REAPER_MS");
    long ms = ms_env != NULL ? atol(ms_env) : 2000;
    int status = 0, done = 0;
    pid_t child;

    if (argc < 2) {
        fprintf(stderr, "usage: late-reaper COMMAND [ARG...]\n");
        return 2;
    }
    if (ms < 1)
        ms = 1;
    /* Orphans of the command's processes become ours instead of PID 1's. */
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) {
        perror("late-reaper: prctl(PR_SET_CHILD_SUBREAPER)");
        return 2;
    }
    child = fork();
    if (child < 0) {
        perror("late-reaper: fork");
        return 2;
    }
    if (child == 0) {
        execvp(argv[1], argv + 1);
        fprintf(stderr, "late-reaper: %s: %s\n", argv[1], strerror(errno));
        _exit(127);
    }
    /* An interrupted run still stops the command (and through it its stack). */
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);

    /* Every 20 ms: the command itself is reaped at once; an orphan only once it has been a
     * zombie for ms milliseconds. After the command, the zombies left are still reaped (late);
     * orphans that still run are left to init. */
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)getpid(), (int)getpid());
    for (int zombies = 1; !done || zombies;) {
        struct timespec ts = {0, 20 * 1000000L};
        nanosleep(&ts, NULL); /* a signal cuts it short; the loop goes on */
        if (forward_sig != 0) {
            kill(child, forward_sig);
            forward_sig = 0;
        }
        long long now = now_ms();
        FILE *f = fopen(path, "r");
        long p;
        zombies = 0;
        while (f != NULL && fscanf(f, "%ld", &p) == 1) {
            int st;
            pid_t pid = (pid_t)p;
            if (!is_zombie(pid))
                continue;
            zombies++;
            if (pid != child && now - zombie_since(pid, now) < ms)
                continue;
            if (waitpid(pid, &st, WNOHANG) == pid) {
                forget(pid);
                if (pid == child) {
                    status = st;
                    done = 1;
                }
            }
        }
        if (f != NULL)
            fclose(f);
    }
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}
