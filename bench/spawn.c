/* The bench's timer: runs the commands bench.py sends, one at a time, and
 * times each from just before fork to the end of waitpid on CLOCK_MONOTONIC.
 * A tiny static process forks in microseconds, where Python's fork would add
 * a large constant to every runtime and flatten the ratios.
 *   spawn LOG EMPTY HIDE
 * Reads lines "NS\tARG0\tARG1...\n" on stdin and answers "NANOSECONDS STATUS\n"
 * (STATUS: exit code, or 128+signal). NS is h (this mount namespace) or c:
 * a private mount namespace made at start, like `unshare -m` followed by
 * `mount --bind EMPTY HIDE` (crun refuses a cgroup2 mount with controllers
 * next to v1 ones; an empty cgroup.controllers hides them from it; the host
 * stays unmodified; HIDE "-": no such namespace, c runs here). NS b: a
 * private mount namespace with a bpffs on /sys/fs/bpf, as systemd mounts
 * it, where thinbox keeps its device programs. The command's stdout and stderr go to LOG, truncated per
 * command, for the error message when it fails. A command still running
 * after $BENCH_TIMEOUT seconds (default 60) is killed: status 137. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void die(const char *what)
{
	perror(what);
	exit(125);
}

static void on_alarm(int sig)
{
	(void)sig; /* only interrupts waitpid */
}

static long long now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000000000LL + t.tv_nsec;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: spawn LOG EMPTY HIDE\n");
		return 125;
	}
	int log = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (log < 0)
		die(argv[1]);
	int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (null < 0)
		die("/dev/null");
	/* setns resets the working directory to the namespace's root. */
	char cwd[4096];
	if (!getcwd(cwd, sizeof cwd))
		die("getcwd");
	int host = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
	if (host < 0)
		die("/proc/self/ns/mnt");
	int crun = -1, hide = strcmp(argv[3], "-") != 0;
	if (!hide)
		;
	else if (unshare(CLONE_NEWNS) == 0 && mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0 &&
	    mount(argv[2], argv[3], NULL, MS_BIND, NULL) == 0)
		crun = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
	else
		perror("spawn: the private mount namespace for crun");
	if (setns(host, CLONE_NEWNS))
		die("setns back to the host's mount namespace");
	int bpf = -1;
	if (unshare(CLONE_NEWNS) == 0 && mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0 &&
	    mount("bpf", "/sys/fs/bpf", "bpf", 0, NULL) == 0)
		bpf = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
	else
		perror("spawn: the private mount namespace with a bpffs");
	if (setns(host, CLONE_NEWNS))
		die("setns back to the host's mount namespace");
	if (chdir(cwd))
		die(cwd);

	const char *tmo = getenv("BENCH_TIMEOUT");
	unsigned timeout = tmo ? (unsigned)atoi(tmo) : 60;
	struct sigaction sa = {.sa_handler = on_alarm}; /* no SA_RESTART */
	sigaction(SIGALRM, &sa, NULL);

	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	while ((len = getline(&line, &cap, stdin)) > 0) {
		if (line[len - 1] == '\n')
			line[--len] = 0;
		char *args[256];
		int n = 0;
		for (char *p = strtok(line, "\t"); p && n < 255; p = strtok(NULL, "\t"))
			args[n++] = p;
		args[n] = NULL;
		if (n < 2) {
			printf("0 125\n");
			fflush(stdout);
			continue;
		}
		int ns = args[0][0] == 'c' ? crun : args[0][0] == 'b' ? bpf : -1;
		if ((args[0][0] == 'c' && hide && crun < 0) || (args[0][0] == 'b' && bpf < 0)) {
			printf("0 125\n");
			fflush(stdout);
			continue;
		}
		if (ftruncate(log, 0) || lseek(log, 0, SEEK_SET))
			die("truncating the log");
		long long t0 = now();
		pid_t pid = fork();
		if (pid < 0)
			die("fork");
		if (pid == 0) {
			if (ns >= 0 && (setns(ns, CLONE_NEWNS) || chdir(cwd)))
				_exit(124);
			dup2(null, 0); /* our stdin is bench.py's pipe */
			dup2(log, 1);
			dup2(log, 2);
			execvp(args[1], args + 1);
			perror(args[1]);
			_exit(127);
		}
		int st;
		alarm(timeout);
		while (waitpid(pid, &st, 0) < 0)
			if (errno == EINTR)
				kill(pid, SIGKILL);
		alarm(0);
		long long t1 = now();
		printf("%lld %d\n", t1 - t0, WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
		fflush(stdout);
	}
	return 0;
}
