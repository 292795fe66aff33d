# Docker's default seccomp profile (moby/profiles seccomp v0.2.3,
# default.json), transcribed into thinbox's compact form. build.rs compiles it
# to classic BPF; src/seccomp/tests.rs feeds the same file to libseccomp
# (tests/seccomp/oracle.c) and checks it against moby's JSON, kept verbatim
# in tests/seccomp/docker-default.json.
#
# One rule per ';':  ACTION [GATE...] [COND...] : NAME... ;
#   ACTION  allow | errno:N | kill | kill_thread | kill_process | trap |
#           trace:N | log
#   GATE    +CAP  only with CAP in the bounding set (Docker includes.caps)
#           -CAP  only without it (excludes.caps)
#           @ARCH only on that host arch, !ARCH not on it (Docker Go names:
#           amd64, arm64, ...; includes/excludes.arches)
#   COND    ARG OP VALUE with OP one of == != < <= > >=, or ARG&MASK==VALUE
#           (SCMP_CMP_MASKED_EQ); ARG is 0-5, values 64-bit; a rule's
#           conditions must all hold.
# Names a table lacks are skipped, as libseccomp does.
default errno:1 ;
allow : accept accept4 access adjtimex alarm bind brk cachestat capget capset
    chdir chmod chown chown32 clock_adjtime clock_adjtime64 clock_getres
    clock_getres_time64 clock_gettime clock_gettime64 clock_nanosleep
    clock_nanosleep_time64 close close_range connect copy_file_range creat dup
    dup2 dup3 epoll_create epoll_create1 epoll_ctl epoll_ctl_old epoll_pwait
    epoll_pwait2 epoll_wait epoll_wait_old eventfd eventfd2 execve execveat
    exit exit_group faccessat faccessat2 fadvise64 fadvise64_64 fallocate
    fanotify_mark fchdir fchmod fchmodat fchmodat2 fchown fchown32 fchownat
    fcntl fcntl64 fdatasync fgetxattr flistxattr flock fork fremovexattr
    fsetxattr fstat fstat64 fstatat64 fstatfs fstatfs64 fsync ftruncate
    ftruncate64 futex futex_requeue futex_time64 futex_wait futex_waitv
    futex_wake futimesat getcpu getcwd getdents getdents64 getegid getegid32
    geteuid geteuid32 getgid getgid32 getgroups getgroups32 getitimer
    getpeername getpgid getpgrp getpid getppid getpriority getrandom getresgid
    getresgid32 getresuid getresuid32 getrlimit get_robust_list getrusage
    getsid getsockname getsockopt get_thread_area gettid gettimeofday getuid
    getuid32 getxattr getxattrat inotify_add_watch inotify_init inotify_init1
    inotify_rm_watch io_cancel ioctl io_destroy io_getevents io_pgetevents
    io_pgetevents_time64 ioprio_get ioprio_set io_setup io_submit ipc kill
    landlock_add_rule landlock_create_ruleset landlock_restrict_self lchown
    lchown32 lgetxattr link linkat listen listmount listxattr listxattrat
    llistxattr _llseek lremovexattr lseek lsetxattr lstat lstat64 madvise
    map_shadow_stack membarrier memfd_create memfd_secret mincore mkdir
    mkdirat mknod mknodat mlock mlock2 mlockall mmap mmap2 mprotect
    mq_getsetattr mq_notify mq_open mq_timedreceive mq_timedreceive_time64
    mq_timedsend mq_timedsend_time64 mq_unlink mremap mseal msgctl msgget
    msgrcv msgsnd msync munlock munlockall munmap name_to_handle_at nanosleep
    newfstatat _newselect open openat openat2 pause pidfd_open
    pidfd_send_signal pipe pipe2 pkey_alloc pkey_free pkey_mprotect poll ppoll
    ppoll_time64 prctl pread64 preadv preadv2 prlimit64 process_mrelease
    pselect6 pselect6_time64 pwrite64 pwritev pwritev2 read readahead readlink
    readlinkat readv recv recvfrom recvmmsg recvmmsg_time64 recvmsg
    remap_file_pages removexattr removexattrat rename renameat renameat2
    restart_syscall riscv_hwprobe rmdir rseq rt_sigaction rt_sigpending
    rt_sigprocmask rt_sigqueueinfo rt_sigreturn rt_sigsuspend rt_sigtimedwait
    rt_sigtimedwait_time64 rt_tgsigqueueinfo sched_getaffinity sched_getattr
    sched_getparam sched_get_priority_max sched_get_priority_min
    sched_getscheduler sched_rr_get_interval sched_rr_get_interval_time64
    sched_setaffinity sched_setattr sched_setparam sched_setscheduler
    sched_yield seccomp select semctl semget semop semtimedop
    semtimedop_time64 send sendfile sendfile64 sendmmsg sendmsg sendto
    setfsgid setfsgid32 setfsuid setfsuid32 setgid setgid32 setgroups
    setgroups32 setitimer setpgid setpriority setregid setregid32 setresgid
    setresgid32 setresuid setresuid32 setreuid setreuid32 setrlimit
    set_robust_list setsid setsockopt set_thread_area set_tid_address setuid
    setuid32 setxattr setxattrat shmat shmctl shmdt shmget shutdown
    sigaltstack signalfd signalfd4 sigprocmask sigreturn socketcall socketpair
    splice stat stat64 statfs statfs64 statmount statx symlink symlinkat sync
    sync_file_range syncfs sysinfo tee tgkill time timer_create timer_delete
    timer_getoverrun timer_gettime timer_gettime64 timer_settime
    timer_settime64 timerfd_create timerfd_gettime timerfd_gettime64
    timerfd_settime timerfd_settime64 times tkill truncate truncate64
    ugetrlimit umask uname unlink unlinkat uretprobe utime utimensat
    utimensat_time64 utimes vfork vmsplice wait4 waitid waitpid write writev ;
# Docker: minKernel 4.8 (assumed: thinbox needs a newer kernel)
allow : process_vm_readv process_vm_writev ptrace ;
allow 0<38 : socket ;
allow 0==39 : socket ;
allow 0>40 : socket ;
allow 0==0 : personality ;
allow 0==8 : personality ;
allow 0==0x20000 : personality ;
allow 0==0x20008 : personality ;
allow 0==0xffffffff : personality ;
allow @ppc64le : sync_file_range2 swapcontext ;
allow @arm @arm64 : arm_fadvise64_64 arm_sync_file_range sync_file_range2
    breakpoint cacheflush set_tls ;
allow @amd64 @x32 : arch_prctl ;
allow @amd64 @x32 @x86 : modify_ldt ;
allow @s390 @s390x : s390_pci_mmio_read s390_pci_mmio_write s390_runtime_instr
    ;
allow @riscv64 : riscv_flush_icache ;
allow +DAC_READ_SEARCH : open_by_handle_at ;
allow +SYS_ADMIN : bpf clone clone3 fanotify_init fsconfig fsmount fsopen
    fspick lookup_dcookie lsm_get_self_attr lsm_list_modules lsm_set_self_attr
    mount mount_setattr move_mount open_tree perf_event_open quotactl
    quotactl_fd setdomainname sethostname setns syslog umount umount2 unshare
    ;
allow -SYS_ADMIN !s390 !s390x 0&0x7e020000==0 : clone ;
# s390 parameter ordering for clone is different
allow @s390 @s390x -SYS_ADMIN 1&0x7e020000==0 : clone ;
errno:38 -SYS_ADMIN : clone3 ;
allow +SYS_BOOT : reboot ;
allow +SYS_CHROOT : chroot ;
allow +SYS_MODULE : delete_module init_module finit_module ;
allow +SYS_PACCT : acct ;
allow +SYS_PTRACE : kcmp pidfd_getfd process_madvise process_vm_readv
    process_vm_writev ptrace ;
allow +SYS_RAWIO : iopl ioperm ;
allow +SYS_TIME : settimeofday stime clock_settime clock_settime64 ;
allow +SYS_TTY_CONFIG : vhangup ;
allow +SYS_NICE : get_mempolicy mbind set_mempolicy set_mempolicy_home_node ;
allow +SYSLOG : syslog ;
allow +BPF : bpf ;
allow +PERFMON : perf_event_open ;
