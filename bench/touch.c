/* Touches N KiB of fresh anonymous memory and exits: hwm's calibration.
 *   touch KIB */
#include <stdlib.h>
#include <sys/mman.h>

int main(int argc, char **argv)
{
	size_t n = (argc > 1 ? strtoul(argv[1], 0, 10) : 0) * 1024;
	if (n) {
		char *p = mmap(0, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			return 1;
		for (size_t i = 0; i < n; i += 4096)
			p[i] = 1;
	}
	return 0;
}
