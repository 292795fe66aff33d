# thinbox: see README.md. Every target installs what it needs (cross/setup).
TARGETS := x86_64-unknown-linux-musl aarch64-unknown-linux-musl
X86 := target/x86_64-unknown-linux-musl/release/thinbox
ARM := target/aarch64-unknown-linux-musl/release/thinbox
ARCH ?= x86_64
CACHE ?= $(CURDIR)/.cache

.PHONY: all build setup demo test test-unit test-host test-vm size-report bench lint hot-layout
all: build

setup:
	@sh cross/setup

build: setup
	cargo build --release --target x86_64-unknown-linux-musl
	cargo build --release --target aarch64-unknown-linux-musl

$(CACHE)/rootfs/bin/busybox:
	@sh tests/mkrootfs $(CACHE)/rootfs

# Builds, makes a busybox rootfs, and runs a container that shows its PID,
# hostname and limits.
demo: build $(CACHE)/rootfs/bin/busybox
	@sh tests/demo $(X86) $(CACHE)/rootfs

lint: setup
	cargo fmt --check
	cargo clippy --release --target x86_64-unknown-linux-musl -- -D warnings
	cargo clippy --release --target aarch64-unknown-linux-musl -- -D warnings

test-unit: setup
	cargo test

test-host: build $(CACHE)/rootfs/bin/busybox
	sh tests/core.sh $(X86) $(CACHE)/rootfs
	sh tests/security.sh $(X86) $(CACHE)/rootfs
	sh tests/images.sh $(X86) $(CACHE)/rootfs
	sh tests/containerd.sh $(X86)
	python3 tests/fuzz.py $(X86) $(CACHE)/rootfs

test-vm: build
	sh tests/vm/run $(ARCH)

size-report: build
	sh size-report/report

bench: build
	sh bench/run

# Regenerates cross/hot.ld from traced runs (root, x86_64): after changing
# code on the run path, when tests/core.sh's run_peak_memory fails.
hot-layout: setup $(CACHE)/rootfs/bin/busybox
	python3 cross/hot-layout

# Every test: unit, host, both VMs, the size budget and a bench smoke run.
test: lint test-unit test-host size-report
	sh bench/run --smoke
	$(MAKE) test-vm ARCH=x86_64
	$(MAKE) test-vm ARCH=aarch64
