/* Peak resident memory of one process, not its descendants:
 *   hwm OUT CMD [ARG...]
 * writes "VmHWM_kB VmRSS_kB status execs RssAnon_kB RssFile_kB Rss_kB" to OUT and exits with CMD's
 * status. CMD runs traced (PTRACE_TRACEME) with only PTRACE_O_TRACEEXIT and
 * PTRACE_O_TRACEEXEC: forks are not followed, so the container and helpers
 * it starts do not count, and the numbers are read at the exit stop, while
 * the mm still exists. VmHWM restarts at an exec, so a runtime that
 * re-execs itself is measured in its last image; "execs" counts them.
 * wait4's ru_maxrss would include reaped descendants; /usr/bin/time adds
 * its own fork. Rss_kB is smaps_rollup's count from the page tables: kernels
 * before 6.2 keep the status counters per task and fold them into the mm
 * only every 64 faults, so a short process's VmHWM can read 4 kB there. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

static long field(const char *status, const char *name)
{
	const char *p = strstr(status, name);
	return p ? strtol(p + strlen(name), NULL, 10) : -1;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: hwm OUT CMD [ARG...]\n");
		return 125;
	}
	FILE *out = fopen(argv[1], "w");
	if (!out)
		return perror(argv[1]), 125;
	pid_t pid = fork();
	if (pid < 0)
		return perror("fork"), 125;
	if (pid == 0) {
		ptrace(PTRACE_TRACEME, 0, 0, 0);
		execvp(argv[2], argv + 2);
		perror(argv[2]);
		_exit(127);
	}
	int st, started = 0, execs = 0;
	long hwm = -1, rss = -1, anon = -1, file = -1, walked = -1;
	for (;;) {
		if (waitpid(pid, &st, 0) < 0) {
			if (errno == EINTR)
				continue;
			return perror("waitpid"), 125;
		}
		if (WIFEXITED(st) || WIFSIGNALED(st))
			break;
		int sig = WSTOPSIG(st), event = st >> 16, inject = 0;
		if (!started && sig == SIGTRAP) {
			/* The first exec's stop: from here on only exit and exec events. */
			started = 1;
			ptrace(PTRACE_SETOPTIONS, pid, 0,
			       PTRACE_O_TRACEEXIT | PTRACE_O_TRACEEXEC | PTRACE_O_EXITKILL);
		} else if (sig == SIGTRAP && event == PTRACE_EVENT_EXEC) {
			execs++;
		} else if (sig == SIGTRAP && event == PTRACE_EVENT_EXIT) {
			char path[64], buf[4096];
			snprintf(path, sizeof path, "/proc/%d/status", pid);
			FILE *f = fopen(path, "r");
			size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
			if (f)
				fclose(f);
			buf[n] = 0;
			hwm = field(buf, "VmHWM:");
			rss = field(buf, "VmRSS:");
			anon = field(buf, "RssAnon:");
			file = field(buf, "RssFile:");
			snprintf(path, sizeof path, "/proc/%d/smaps_rollup", pid);
			f = fopen(path, "r");
			n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
			if (f)
				fclose(f);
			buf[n] = 0;
			walked = field(buf, "\nRss:");
		} else {
			inject = sig; /* a real signal: deliver it */
		}
		ptrace(PTRACE_CONT, pid, 0, inject);
	}
	int code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	fprintf(out, "%ld %ld %d %d %ld %ld %ld\n", hwm, rss, code, execs, anon, file, walked);
	fclose(out);
	return code;
}
