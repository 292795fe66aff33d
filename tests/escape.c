/* The escape probe of tests/security.sh: run as root inside a container,
 * it attempts container escapes with raw syscalls and prints one line per
 * attempt, "NAME RESULT", RESULT being "ok" when the call succeeded or the
 * errno name when it failed. Every call uses arguments that are harmless
 * even where nothing stops it (invalid flags, nonexistent names, opening
 * without writing), so a regression fails the test, not the host.
 *
 *   gcc -O2 -static -o escape tests/escape.c -pthread
 *   escape all MARKER HOSTPID MAJOR MINOR
 *                              all the attempts; MARKER is a file only the
 *                              host's root has, HOSTPID a host process,
 *                              MAJOR:MINOR a host disk
 *   escape setns               setns to the namespace open as stdin
 *   escape tiocsti             TIOCSTI on stdin
 *   escape fork                fork, raw clone, and a thread (clone3 falls
 *                              back to clone on ENOSYS)
 *   escape arches              i386 calls through int 0x80, and x32
 *   escape keyctl | mount | getcwd   one call, for lifted filters
 *   escape selfexe PID         CVE-2019-5736 against /proc/PID/exe
 *   escape cve SECONDS         CVE-2019-5736 against every process that
 *                              shows up meanwhile, e.g. thinbox exec
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *ename(int e)
{
	static char buf[16];
	switch (e) {
	case 0: return "ok";
	case EPERM: return "EPERM";
	case ENOENT: return "ENOENT";
	case ESRCH: return "ESRCH";
	case EIO: return "EIO";
	case EBADF: return "EBADF";
	case EACCES: return "EACCES";
	case EFAULT: return "EFAULT";
	case EBUSY: return "EBUSY";
	case EEXIST: return "EEXIST";
	case ENOTDIR: return "ENOTDIR";
	case EINVAL: return "EINVAL";
	case ETXTBSY: return "ETXTBSY";
	case EROFS: return "EROFS";
	case ENOSYS: return "ENOSYS";
	case ENOTTY: return "ENOTTY";
	case ENOKEY: return "ENOKEY";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	}
	snprintf(buf, sizeof(buf), "E%d", e);
	return buf;
}

/* Prints NAME and the outcome of a raw syscall's return value. */
static void report(const char *name, long rc)
{
	printf("%s %s\n", name, ename(rc < 0 ? errno : 0));
}

/* Opens for writing only; never writes. */
static void try_write_open(const char *name, const char *path)
{
	int fd = open(path, O_WRONLY);
	report(name, fd);
	if (fd >= 0)
		close(fd);
}

/* Whether MARKER is visible after climbing 64 levels from the cwd. */
static int climb_sees(const char *marker)
{
	for (int i = 0; i < 64; i++)
		if (chdir("..") < 0)
			break;
	struct stat st;
	return stat(marker + 1, &st) == 0 || stat(marker, &st) == 0;
}

static void all(const char *marker, int hostpid, int major, int minor)
{
	long rc;
	rc = mount("none", "/tmp", "tmpfs", 0, NULL);
	report("mount", rc);
	rc = umount2("/proc", MNT_DETACH);
	report("umount2", rc);
	rc = syscall(SYS_pivot_root, "/tmp", "/tmp");
	report("pivot_root", rc);
	rc = unshare(CLONE_NEWUSER);
	report("unshare_user", rc);
	rc = unshare(CLONE_NEWNS);
	report("unshare_mnt", rc);
	int nsfd = open("/proc/self/ns/net", O_RDONLY);
	rc = setns(nsfd, 0);
	report("setns_own", rc);
	close(nsfd);
	/* Bad magic: EINVAL where the call is let through. */
	rc = syscall(SYS_reboot, 0, 0, 0, NULL);
	report("reboot", rc);
	/* Invalid flags: EINVAL where the call is let through. */
	rc = syscall(SYS_kexec_load, 0, 0, NULL, 0xffff0000UL);
	report("kexec_load", rc);
	rc = syscall(SYS_init_module, NULL, 0, "");
	report("init_module", rc);
	rc = syscall(SYS_finit_module, -1, "", 0);
	report("finit_module", rc);
	rc = syscall(SYS_delete_module, "thinbox_no_such_module", O_NONBLOCK);
	report("delete_module", rc);
	rc = syscall(SYS_swapon, "/thinbox-no-such-swap", 0);
	report("swapon", rc);
	char attr[128] = {0};
	rc = syscall(SYS_bpf, 0 /* BPF_MAP_CREATE */, attr, sizeof(attr));
	report("bpf", rc);
	rc = syscall(SYS_perf_event_open, attr, 0, -1, -1, 0);
	report("perf_event_open", rc);
	if (rc >= 0)
		close(rc);
	rc = syscall(SYS_keyctl, 0 /* GET_KEYRING_ID */, -3 /* SESSION */, 0);
	report("keyctl", rc);
	rc = syscall(SYS_add_key, "user", "thinbox-test", "x", 1, -2 /* PROCESS */);
	report("add_key", rc);
	rc = syscall(SYS_request_key, "user", "thinbox-no-such-key", NULL, 0);
	report("request_key", rc);
	/* Shocker: a handle to inode 2, the root of an ext4 file system. */
	struct {
		unsigned int bytes;
		int type;
		unsigned char f[8];
	} h = {8, 1, {2, 0, 0, 0, 0, 0, 0, 0}};
	int root = open("/", O_RDONLY | O_DIRECTORY);
	rc = syscall(SYS_open_by_handle_at, root, &h, O_RDONLY);
	report("open_by_handle_at", rc);
	if (rc >= 0)
		close(rc);
	close(root);
	rc = syscall(SYS_ptrace, 16 /* PTRACE_ATTACH */, hostpid, 0, 0);
	report("ptrace_host", rc);
	/* CAP_MKNOD is Docker's: the node is made, opening it must fail. */
	unlink("/tmp/thinbox-blk");
	rc = mknod("/tmp/thinbox-blk", S_IFBLK | 0600, makedev(major, minor));
	report("mknod_blk", rc);
	int fd = open("/tmp/thinbox-blk", O_RDONLY);
	report("open_blk", fd);
	if (fd >= 0)
		close(fd);
	unlink("/tmp/thinbox-blk");
	try_write_open("proc_sys_kernel", "/proc/sys/kernel/hostname");
	try_write_open("sysrq_trigger", "/proc/sysrq-trigger");
	/* The first of these the kernel has. */
	const char *sys[] = {"/sys/kernel/uevent_helper", "/sys/kernel/profiling",
			     "/sys/kernel/mm/transparent_hugepage/enabled", "/sys/kernel/mm/ksm/run"};
	unsigned i = 0;
	while (i < 3 && access(sys[i], F_OK) != 0)
		i++;
	try_write_open("sys_kernel", sys[i]);
	/* Masked: /dev/null, so it reads as empty. */
	fd = open("/proc/kcore", O_RDONLY);
	if (fd < 0) {
		report("read_kcore", fd);
	} else {
		char b[16];
		printf("read_kcore %s\n", read(fd, b, sizeof(b)) > 0 ? "ok" : "EMPTY");
		close(fd);
	}
	/* chroot() into a subdirectory, climb out, chroot(".") again. */
	int cwd = open(".", O_RDONLY | O_DIRECTORY);
	mkdir("/tmp/thinbox-jail", 0700);
	rc = chroot("/tmp/thinbox-jail");
	int seen = rc == 0 && chdir("/") == 0 && climb_sees(marker);
	if (rc == 0 && chroot(".") == 0)
		seen |= climb_sees(marker);
	printf("chroot_escape %s\n", seen ? "ok" : rc == 0 ? "ENOENT" : ename(errno));
	/* Every inherited directory fd as a way out. */
	seen = 0;
	for (int i = 0; i < 1024; i++) {
		struct stat st;
		if (i == cwd || fstat(i, &st) != 0 || !S_ISDIR(st.st_mode))
			continue;
		if (fchdir(i) == 0)
			seen |= climb_sees(marker);
	}
	printf("fd_escape %s\n", seen ? "ok" : "ENOENT");
}

static int child_exit(void *arg)
{
	(void)arg;
	_exit(7);
}

static void *thread(void *arg)
{
	return arg;
}

static void forks(void)
{
	int status = 0;
	pid_t p = fork();
	if (p == 0)
		_exit(7);
	printf("fork %s\n", p > 0 && waitpid(p, &status, 0) == p && WEXITSTATUS(status) == 7 ? "ok" : ename(errno));
	p = syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
	if (p == 0)
		_exit(7);
	printf("clone %s\n", p > 0 && waitpid(p, &status, 0) == p && WEXITSTATUS(status) == 7 ? "ok" : ename(errno));
	long r = syscall(SYS_clone3, NULL, 0);
	report("clone3", r);
	pthread_t t;
	int e = pthread_create(&t, NULL, thread, (void *)1);
	void *ret = NULL;
	if (e == 0)
		pthread_join(t, &ret);
	printf("thread %s\n", e == 0 && ret == (void *)1 ? "ok" : ename(e));
	(void)child_exit;
}

/* /proc/PID/exe for writing, directly and through an O_PATH fd reopened
 * via /proc/self/fd after the process is gone (CVE-2019-5736). Prints
 * "NAME RESULT" for each; "ok" means the binary could be written. */
static int attack(const char *name, const char *exe, int opath)
{
	int hits = 0;
	int fd = open(exe, O_WRONLY);
	printf("%s_open %s\n", name, ename(fd < 0 ? errno : 0));
	if (fd >= 0) {
		hits++;
		close(fd);
	}
	if (opath >= 0) {
		char p[64];
		snprintf(p, sizeof(p), "/proc/self/fd/%d", opath);
		fd = open(p, O_WRONLY);
		printf("%s_reopen %s\n", name, ename(fd < 0 ? errno : 0));
		if (fd >= 0) {
			hits++;
			close(fd);
		}
	}
	return hits;
}

static void selfexe(const char *pid)
{
	char exe[64];
	snprintf(exe, sizeof(exe), "/proc/%s/exe", pid);
	int opath = open(exe, O_PATH);
	printf("selfexe_opath %s\n", ename(opath < 0 ? errno : 0));
	attack("selfexe", exe, opath);
}

/* Whether the file behind fd is one of the container's own files. */
static int in_container(int fd, const char *target)
{
	struct stat a, b;
	return fstat(fd, &a) == 0 && stat(target, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

static void cve(int seconds)
{
	int fds[4096], pids[4096], n = 0, seen = 0, denied = 0, hits = 0;
	int self = getpid();
	time_t end = time(NULL) + seconds;
	while (time(NULL) < end && n < 4096) {
		DIR *d = opendir("/proc");
		struct dirent *e;
		while (d && (e = readdir(d)) && n < 4096) {
			int pid = atoi(e->d_name);
			if (pid <= 1 || pid == self)
				continue;
			int known = 0;
			for (int i = 0; i < n; i++)
				known |= pids[i] == pid;
			if (known)
				continue;
			char exe[64], target[512];
			snprintf(exe, sizeof(exe), "/proc/%d/exe", pid);
			int fd = open(exe, O_PATH);
			ssize_t l = readlink(exe, target, sizeof(target) - 1);
			if (fd < 0 && l < 0) {
				if (errno == EACCES || errno == EPERM) {
					denied++;
					pids[n] = pid;
					fds[n++] = -1;
				}
				continue;
			}
			target[l < 0 ? 0 : l] = 0;
			if (fd >= 0 && in_container(fd, target)) {
				close(fd);
				pids[n] = pid;
				fds[n++] = -1;
				continue;
			}
			/* Not a file of the container: a runtime's binary. */
			seen++;
			pids[n] = pid;
			fds[n++] = fd;
			hits += attack("cve_live", exe, -1);
		}
		if (d)
			closedir(d);
		usleep(1000);
	}
	/* The processes are gone: their binaries are no longer busy. */
	for (int i = 0; i < n; i++)
		if (fds[i] >= 0)
			hits += attack("cve_after", "/nonexistent", fds[i]);
	printf("cve seen=%d denied=%d writable=%d\n", seen, denied, hits);
}

#ifdef __x86_64__
/* An i386 syscall from this 64-bit process: the kernel's compat entry,
 * which seccomp sees as AUDIT_ARCH_I386. */
static long int80(long nr, long a, long b, long c)
{
	long r;
	__asm__ volatile("int $0x80" : "=a"(r) : "a"(nr), "b"(a), "c"(b), "d"(c) : "memory");
	if (r < 0 && r > -4096) {
		errno = -r;
		return -1;
	}
	return r;
}
#endif

/* The other ABIs of the kernel: i386 and x32 on x86_64. */
static void arches(void)
{
#ifdef __x86_64__
	report("i386_getpid", int80(20, 0, 0, 0));
	report("i386_mount", int80(21, 0, 0, 0));
	report("i386_unshare", int80(310, CLONE_NEWUSER, 0, 0));
	int status = 0;
	pid_t p = fork();
	if (p == 0) {
		syscall(39 | 0x40000000); /* x32 getpid */
		_exit(0);
	}
	waitpid(p, &status, 0);
	printf("x32_getpid %s\n", WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS ? "KILLED" : "ok");
#endif
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	const char *cmd = argc > 1 ? argv[1] : "";
	if (!strcmp(cmd, "all") && argc > 5) {
		all(argv[2], atoi(argv[3]), atoi(argv[4]), atoi(argv[5]));
	} else if (!strcmp(cmd, "setns")) {
		report("setns_host", setns(0, 0));
	} else if (!strcmp(cmd, "tiocsti")) {
		char c = ' ';
		report("tiocsti", ioctl(0, TIOCSTI, &c));
	} else if (!strcmp(cmd, "fork")) {
		forks();
	} else if (!strcmp(cmd, "arches")) {
		arches();
	} else if (!strcmp(cmd, "keyctl")) {
		report("keyctl", syscall(SYS_keyctl, 0, -3, 0));
	} else if (!strcmp(cmd, "mount")) {
		report("mount", mount("none", "/tmp", "tmpfs", 0, NULL));
	} else if (!strcmp(cmd, "getcwd")) {
		char b[256];
		report("getcwd", syscall(SYS_getcwd, b, sizeof(b)));
	} else if (!strcmp(cmd, "selfexe") && argc > 2) {
		selfexe(argv[2]);
	} else if (!strcmp(cmd, "cve") && argc > 2) {
		cve(atoi(argv[2]));
	} else {
		fprintf(stderr, "usage: escape all MARKER HOSTPID MAJOR MINOR | setns | tiocsti | fork | arches | keyctl | mount | getcwd | selfexe PID | cve SECONDS\n");
		return 2;
	}
	return 0;
}
