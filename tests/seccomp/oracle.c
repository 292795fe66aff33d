/* The libseccomp oracle of src/seccomp/tests.rs: reads a profile on stdin
 * and writes libseccomp's classic BPF for it to stdout, driving libseccomp
 * the way runc does (rules whose action is the default are dropped; a rule
 * with two conditions on one argument becomes one rule per condition;
 * names libseccomp cannot resolve are skipped and reported on stderr as
 * "skip NAME"). Test-only: thinbox never links libseccomp.
 *
 * Input, one directive per line, numbers in C notation:
 *   arches ARCH...             libseccomp arch names, e.g. x86_64 x86
 *   default ACTION             SECCOMP_RET_* value
 *   rule ACTION NAME N [ARG OP A B]...   OP: enum scmp_compare (NE = 1)
 *
 *   gcc -O2 -o oracle tests/seccomp/oracle.c -lseccomp
 */
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void die(const char *what, int rc)
{
	fprintf(stderr, "oracle: %s: %s\n", what, strerror(rc < 0 ? -rc : rc));
	exit(1);
}

int main(void)
{
	char line[4096];
	scmp_filter_ctx ctx = NULL;
	uint32_t def = 0;
	char arches[256] = "";

	while (fgets(line, sizeof(line), stdin)) {
		char *save, *tok = strtok_r(line, " \n", &save);
		if (!tok)
			continue;
		if (!strcmp(tok, "arches")) {
			snprintf(arches, sizeof(arches), "%s", save);
		} else if (!strcmp(tok, "default")) {
			def = strtoul(strtok_r(NULL, " \n", &save), NULL, 0);
			ctx = seccomp_init(def);
			if (!ctx)
				die("seccomp_init", 22);
			int rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH,
						  SCMP_ACT_KILL_PROCESS);
			if (rc)
				die("badarch", rc);
			/* Only the listed arches, native included or not. */
			rc = seccomp_arch_remove(ctx, SCMP_ARCH_NATIVE);
			if (rc)
				die("arch_remove", rc);
			char *as, *a = strtok_r(arches, " \n", &as);
			for (; a; a = strtok_r(NULL, " \n", &as)) {
				rc = seccomp_arch_add(ctx, seccomp_arch_resolve_name(a));
				if (rc)
					die(a, rc);
			}
		} else if (!strcmp(tok, "rule")) {
			uint32_t act = strtoul(strtok_r(NULL, " \n", &save), NULL, 0);
			char *name = strtok_r(NULL, " \n", &save);
			unsigned n = strtoul(strtok_r(NULL, " \n", &save), NULL, 0);
			struct scmp_arg_cmp c[6];
			int dup = 0;
			if (n > 6)
				die("too many conditions", 22);
			for (unsigned i = 0; i < n; i++) {
				c[i].arg = strtoul(strtok_r(NULL, " \n", &save), NULL, 0);
				c[i].op = strtoul(strtok_r(NULL, " \n", &save), NULL, 0);
				c[i].datum_a = strtoull(strtok_r(NULL, " \n", &save), NULL, 0);
				c[i].datum_b = strtoull(strtok_r(NULL, " \n", &save), NULL, 0);
				for (unsigned k = 0; k < i; k++)
					dup |= c[k].arg == c[i].arg;
			}
			if (!ctx)
				die("rule before default", 22);
			if (act == def)
				continue;
			int nr = seccomp_syscall_resolve_name(name);
			if (nr == __NR_SCMP_ERROR) {
				fprintf(stderr, "skip %s\n", name);
				continue;
			}
			int rc = 0;
			if (dup) {
				for (unsigned i = 0; i < n && !rc; i++)
					rc = seccomp_rule_add_array(ctx, act, nr, 1, &c[i]);
			} else {
				rc = seccomp_rule_add_array(ctx, act, nr, n, c);
			}
			if (rc) {
				fprintf(stderr, "oracle: rule %s: %s\n", name, strerror(-rc));
				exit(1);
			}
		} else {
			die(tok, 22);
		}
	}
	if (!ctx)
		die("no default", 22);
	int rc = seccomp_export_bpf(ctx, 1);
	if (rc)
		die("export", rc);
	seccomp_release(ctx);
	return 0;
}
