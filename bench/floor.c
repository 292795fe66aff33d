/* The C floor: the least a runtime must do for `run /bin/true` with the
 * same namespaces. clone, private mounts, bind the rootfs, pivot_root,
 * drop the old root, mount /proc, exec; the parent waits and exits with
 * the child's status.
 *   floor [-n] [-c CGROUP_ROOT [-w FILE=VALUE]...] [-l] [-d] [-m] [-k] [-s] ROOTFS CMD [ARG...]
 * -n: no network namespace. The other flags add, one at a time, the steps
 * thinbox takes beyond the floor, so that bench.py can price each one:
 * -c a cgroup (mkdir, clone3 CLONE_INTO_CGROUP, cgroup.kill, rmdir), -w a
 * limit written into it first (memory.max=67108864; bench/vm.sh),
 * -l hostname and loopback up, -d /dev (tmpfs, nodes, links, devpts, shm,
 * mqueue), /sys and cgroup2 read-only, -m (needs -d) the masked and read-only /proc
 * and /sys paths, -k the capability bounding set, ids and no_new_privs,
 * -s the parent waits for the exec on a CLOEXEC socketpair. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <grp.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef SYS_clone3
#define SYS_clone3 435 /* the same on x86_64 and aarch64 */
#endif
#define INTO_CGROUP 0x200000000ULL

/* struct clone_args, without depending on linux/sched.h (musl-gcc). */
struct cargs {
	uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls,
		set_tid, set_tid_size, cgroup;
};

static void die(const char *what)
{
	perror(what);
	_exit(125);
}

static char path[4096];

static const char *in(const char *root, const char *p)
{
	snprintf(path, sizeof path, "%s%s", root, p);
	return path;
}

static void mnt(const char *src, const char *dst, const char *type, unsigned long fl, const char *data)
{
	if (mount(src, dst, type, fl, data))
		die(dst);
}

/* -d: what thinbox mounts and makes under the new root before pivot_root. */
static void dev(const char *r)
{
	static const struct { const char *name; int maj, min; } nodes[] = {
		{"/dev/null", 1, 3}, {"/dev/zero", 1, 5}, {"/dev/full", 1, 7},
		{"/dev/random", 1, 8}, {"/dev/urandom", 1, 9}, {"/dev/tty", 5, 0}};
	static const char *links[][2] = {{"/proc/self/fd", "/dev/fd"}, {"/proc/self/fd/0", "/dev/stdin"},
		{"/proc/self/fd/1", "/dev/stdout"}, {"/proc/self/fd/2", "/dev/stderr"}, {"pts/ptmx", "/dev/ptmx"}};
	mnt("tmpfs", in(r, "/dev"), "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k");
	mkdir(in(r, "/dev/pts"), 0755);
	mnt("devpts", in(r, "/dev/pts"), "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620");
	mkdir(in(r, "/dev/shm"), 0755);
	mnt("tmpfs", in(r, "/dev/shm"), "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777,size=65536k");
	mkdir(in(r, "/dev/mqueue"), 0755);
	mnt("mqueue", in(r, "/dev/mqueue"), "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
	mnt("sysfs", in(r, "/sys"), "sysfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
	mnt("cgroup2", in(r, "/sys/fs/cgroup"), "cgroup2", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
	umask(0);
	for (unsigned i = 0; i < sizeof nodes / sizeof *nodes; i++)
		if (mknod(in(r, nodes[i].name), S_IFCHR | 0666, makedev(nodes[i].maj, nodes[i].min)))
			die(path);
	for (unsigned i = 0; i < sizeof links / sizeof *links; i++)
		if (symlink(links[i][0], in(r, links[i][1])))
			die(path);
	umask(022);
}

/* -m: masked and read-only paths, after pivot_root. */
static void masks(void)
{
	static const char *empty_dirs[] = {"/proc/acpi", "/sys/firmware"};
	static const char *null_files[] = {"/proc/interrupts", "/proc/keys", "/proc/timer_list"};
	static const char *ro[] = {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys"};
	for (unsigned i = 0; i < 2; i++)
		if (access(empty_dirs[i], F_OK) == 0)
			mnt("tmpfs", empty_dirs[i], "tmpfs", MS_RDONLY, "size=0");
	for (unsigned i = 0; i < 3; i++)
		if (access(null_files[i], F_OK) == 0)
			mnt("/dev/null", null_files[i], NULL, MS_BIND, NULL);
	for (unsigned i = 0; i < 4; i++) {
		mnt(ro[i], ro[i], NULL, MS_BIND | MS_REC, NULL);
		mnt(NULL, ro[i], NULL, MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_REMOUNT | MS_BIND | MS_REC, NULL);
	}
}

/* -k: Docker's default capabilities, root ids, no_new_privs. */
static void caps(void)
{
	const uint64_t keep = (1ULL << 0) | (1ULL << 1) | (1ULL << 3) | (1ULL << 4) | (1ULL << 5) | (1ULL << 6) |
			      (1ULL << 7) | (1ULL << 8) | (1ULL << 10) | (1ULL << 13) | (1ULL << 18) | (1ULL << 27) |
			      (1ULL << 29) | (1ULL << 31);
	for (int c = 0; c <= 40; c++)
		if (!(keep >> c & 1))
			prctl(PR_CAPBSET_DROP, c, 0, 0, 0);
	if (setgroups(0, NULL) || setresgid(0, 0, 0) || setresuid(0, 0, 0))
		die("ids");
	struct { uint32_t version; int pid; } hdr = {0x20080522, 0};
	struct { uint32_t eff, perm, inh; } data[2] = {{(uint32_t)keep, (uint32_t)keep, 0},
						     {(uint32_t)(keep >> 32), (uint32_t)(keep >> 32), 0}};
	if (syscall(SYS_capset, &hdr, data))
		die("capset");
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		die("no_new_privs");
}

/* -l: hostname and loopback up. */
static void net(void)
{
	if (sethostname("floor", 5))
		die("sethostname");
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct ifreq ifr = {0};
	strcpy(ifr.ifr_name, "lo");
	if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr))
		die("lo");
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(s, SIOCSIFFLAGS, &ifr))
		die("lo up");
	close(s);
}

int main(int argc, char **argv)
{
	unsigned long flags = CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS |
			      CLONE_NEWIPC | CLONE_NEWNET | CLONE_NEWCGROUP;
	const char *cgroot = NULL, *limits[16];
	int nlimits = 0;
	int lo = 0, d = 0, m = 0, k = 0, s = 0, i = 1;
	for (; i < argc && argv[i][0] == '-' && argv[i][1] && !argv[i][2]; i++) {
		switch (argv[i][1]) {
		case 'n': flags &= ~CLONE_NEWNET; break;
		case 'c': cgroot = ++i < argc ? argv[i] : NULL; break;
		case 'w':
			if (++i < argc && nlimits < 16)
				limits[nlimits++] = argv[i];
			break;
		case 'l': lo = 1; break;
		case 'd': d = 1; break;
		case 'm': m = 1; break;
		case 'k': k = 1; break;
		case 's': s = 1; break;
		default: i = argc;
		}
	}
	if (argc - i < 2) {
		fprintf(stderr, "usage: floor [-n] [-c CGROUP_ROOT [-w FILE=VALUE]...] [-l] [-d] [-m] [-k] [-s] ROOTFS CMD [ARG...]\n");
		return 125;
	}
	const char *root = argv[i];
	int sp[2] = {-1, -1};
	if (s && socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp))
		die("socketpair");
	char cg[4096];
	int cgfd = -1;
	pid_t pid;
	if (cgroot) {
		snprintf(cg, sizeof cg, "%s/floor-%d", cgroot, getpid());
		if (mkdir(cg, 0755) || (cgfd = open(cg, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
			die(cg);
		for (int l = 0; l < nlimits; l++) {
			char file[4200];
			const char *eq = strchr(limits[l], '=');
			if (!eq)
				die(limits[l]);
			snprintf(file, sizeof file, "%s/%.*s", cg, (int)(eq - limits[l]), limits[l]);
			int fd = open(file, O_WRONLY | O_CLOEXEC);
			if (fd < 0 || write(fd, eq + 1, strlen(eq + 1)) < 0) {
				perror(file);
				rmdir(cg);
				return 125;
			}
			close(fd);
		}
		struct cargs a = {.flags = flags | INTO_CGROUP, .exit_signal = SIGCHLD, .cgroup = (uint64_t)cgfd};
		pid = syscall(SYS_clone3, &a, sizeof a);
	} else {
		/* fork-like raw clone: no stack, no glibc wrapper bookkeeping. */
		pid = syscall(SYS_clone, flags | SIGCHLD, 0, 0, 0, 0);
	}
	if (pid < 0) {
		perror("clone");
		if (cgroot)
			rmdir(cg);
		return 125;
	}
	if (pid == 0) {
		if (s)
			close(sp[0]);
		if (lo && (flags & CLONE_NEWNET))
			net();
		else if (lo && sethostname("floor", 5))
			die("sethostname");
		if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL))
			die("make-rprivate");
		if (mount(root, root, NULL, MS_BIND | MS_REC, NULL))
			die("bind rootfs");
		if (d) {
			mnt("proc", in(root, "/proc"), "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
			dev(root);
		}
		if (chdir(root))
			die("chdir");
		/* pivot_root(".", ".") stacks the old root under the new one. */
		if (syscall(SYS_pivot_root, ".", "."))
			die("pivot_root");
		if (umount2(".", MNT_DETACH))
			die("umount old root");
		if (chdir("/"))
			die("chdir /");
		if (!d && mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL))
			die("mount /proc");
		if (m)
			masks();
		if (k)
			caps();
		execv(argv[i + 1], argv + i + 1);
		die("exec");
	}
	if (s) {
		char c;
		close(sp[1]);
		while (recv(sp[0], &c, 1, 0) < 0)
			; /* EOF when the child's exec closes its end */
	}
	int st;
	while (waitpid(pid, &st, 0) < 0)
		;
	if (cgroot) {
		char kill[4200];
		snprintf(kill, sizeof kill, "%s/cgroup.kill", cg);
		int fd = open(kill, O_WRONLY | O_CLOEXEC);
		if (fd >= 0) {
			(void)!write(fd, "1", 1);
			close(fd);
		}
		if (rmdir(cg))
			perror(cg);
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}
