/* Which functions a command runs, per process (x86_64 and aarch64):
 *   hot-trace SYMS OUT CMD [ARG...]
 * SYMS holds "hexaddr name" lines (nm). A breakpoint goes on every function
 * entry after CMD's exec; each one hit is logged once per process as
 * "parent NAME" (CMD itself) or "child NAME" (a forked process, until it
 * execs) in OUT, then removed. cross/hot-layout turns the log into
 * cross/hot.ld. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <elf.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

/* The trap instruction, how many bytes of the word it takes, and where the
 * pc stands after it: past int3 on x86_64, on brk on aarch64. */
#if defined(__x86_64__)
#define TRAP 0xccL
#define TRAP_MASK 0xffL
#define TRAP_PC_AFTER 1
#elif defined(__aarch64__)
#define TRAP 0xd4200000L /* brk #0 */
#define TRAP_MASK 0xffffffffL
#define TRAP_PC_AFTER 0
#else
#error "x86_64 or aarch64"
#endif

static int get_pc(pid_t p, unsigned long *pc)
{
#if defined(__x86_64__)
	struct user_regs_struct r;
	if (ptrace(PTRACE_GETREGS, p, 0, &r) < 0)
		return -1;
	*pc = r.rip;
#else
	struct user_regs_struct r;
	struct iovec io = {&r, sizeof r};
	if (ptrace(PTRACE_GETREGSET, p, NT_PRSTATUS, &io) < 0)
		return -1;
	*pc = r.pc;
#endif
	return 0;
}

static void set_pc(pid_t p, unsigned long pc)
{
#if defined(__x86_64__)
	struct user_regs_struct r;
	ptrace(PTRACE_GETREGS, p, 0, &r);
	r.rip = pc;
	ptrace(PTRACE_SETREGS, p, 0, &r);
#else
	struct user_regs_struct r;
	struct iovec io = {&r, sizeof r};
	ptrace(PTRACE_GETREGSET, p, NT_PRSTATUS, &io);
	r.pc = pc;
	ptrace(PTRACE_SETREGSET, p, NT_PRSTATUS, &io);
#endif
}

struct fn {
	unsigned long addr;
	long orig;
	char *name;
};
static struct fn *fns;
static int nfns;

static struct fn *find(unsigned long addr)
{
	int lo = 0, hi = nfns - 1;
	while (lo <= hi) {
		int mid = (lo + hi) / 2;
		if (fns[mid].addr == addr)
			return &fns[mid];
		if (fns[mid].addr < addr)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return NULL;
}

static int by_addr(const void *a, const void *b)
{
	unsigned long x = ((const struct fn *)a)->addr, y = ((const struct fn *)b)->addr;
	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: hot-trace SYMS OUT CMD [ARG...]\n");
		return 125;
	}
	FILE *syms = fopen(argv[1], "r"), *out = fopen(argv[2], "w");
	if (!syms || !out)
		return perror("hot-trace"), 125;
	char line[4096];
	while (fgets(line, sizeof line, syms)) {
		char name[4000];
		unsigned long a;
		if (sscanf(line, "%lx %3999s", &a, name) != 2)
			continue;
		fns = realloc(fns, (nfns + 1) * sizeof *fns);
		fns[nfns++] = (struct fn){a, 0, strdup(name)};
	}
	qsort(fns, nfns, sizeof *fns, by_addr);

	pid_t root = fork();
	if (root == 0) {
		ptrace(PTRACE_TRACEME, 0, 0, 0);
		execvp(argv[3], argv + 3);
		_exit(127);
	}
	int st;
	if (waitpid(root, &st, 0) < 0 || !WIFSTOPPED(st))
		return fprintf(stderr, "hot-trace: %s did not start\n", argv[3]), 125;
	ptrace(PTRACE_SETOPTIONS, root, 0,
	       PTRACE_O_TRACEFORK | PTRACE_O_TRACECLONE | PTRACE_O_TRACEEXEC | PTRACE_O_EXITKILL);
	for (int i = 0; i < nfns; i++) {
		if (i && fns[i].addr == fns[i - 1].addr) {
			fns[i].orig = fns[i - 1].orig;
			continue;
		}
		errno = 0;
		fns[i].orig = ptrace(PTRACE_PEEKTEXT, root, fns[i].addr, 0);
		if (errno)
			return fprintf(stderr, "hot-trace: cannot read %lx\n", fns[i].addr), 125;
		ptrace(PTRACE_POKETEXT, root, fns[i].addr, (fns[i].orig & ~TRAP_MASK) | TRAP);
	}
	ptrace(PTRACE_CONT, root, 0, 0);
	int code = 0;
	for (;;) {
		pid_t p = waitpid(-1, &st, __WALL);
		if (p < 0) {
			if (errno == EINTR)
				continue;
			break; /* no traced process left */
		}
		if (WIFEXITED(st) || WIFSIGNALED(st)) {
			if (p == root)
				code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
			continue;
		}
		int sig = WSTOPSIG(st), event = st >> 16, inject = 0;
		if (sig == SIGTRAP && event == PTRACE_EVENT_EXEC) {
			/* A child leaves our image: stop following it. */
			ptrace(PTRACE_DETACH, p, 0, 0);
			continue;
		}
		unsigned long pc;
		if (sig == SIGTRAP && event == 0 && get_pc(p, &pc) == 0) {
			struct fn *f = find(pc - TRAP_PC_AFTER);
			if (f) {
				fprintf(out, "%s %s\n", p == root ? "parent" : "child", f->name);
				/* The process's own copy of the text: put the code back. */
				long w = ptrace(PTRACE_PEEKTEXT, p, f->addr, 0);
				ptrace(PTRACE_POKETEXT, p, f->addr, (w & ~TRAP_MASK) | (f->orig & TRAP_MASK));
				set_pc(p, f->addr);
			} else {
				inject = sig;
			}
		} else if (sig == SIGTRAP || (sig == SIGSTOP && event == 0)) {
			/* fork/clone events and a new child's first stop */
		} else {
			inject = sig;
		}
		ptrace(PTRACE_CONT, p, 0, inject);
	}
	fclose(out);
	return code;
}
