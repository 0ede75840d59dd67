# Skiff. `make` builds skiff and libskiff.a; `make check` runs every test;
# `make install PREFIX=…`; `make deps` installs the Debian packages.
# Both `make` and `make check` install missing packages first.
#
# Variables: BUILD (output directory, default build), SAN=1 (AddressSanitizer
# and UndefinedBehaviorSanitizer), PREFIX, DESTDIR, STATIC_DEPS=0 (link the
# hot-path libraries dynamically; see below).

PREFIX ?= /usr/local
BUILD ?= build
SAN ?=

PCS = libsodium openssl jansson libzstd libcurl libgit2 expat libfyaml libarchive
# The libraries every invocation loads are linked statically by default:
# resolving a shared library's relocations costs more than a whole small
# read. The cost is that a security update of these libraries needs a
# rebuild; STATIC_DEPS=0 links them dynamically instead. libcrypto is not
# linked at all: common/sha256.c loads it with dlopen for large inputs
# (its ~16,000 relocations would double a small command's start-up).
STATIC_DEPS ?= 1
HOT_PCS = libsodium jansson libzstd libfyaml expat
CC ?= cc
ifeq ($(CC),cc)
CC = gcc
endif

.PHONY: demo all build check check-unit check-integration check-fuzz bench deps install clean fuzz

all:
	@scripts/deps.sh --ensure
	@$(MAKE) --no-print-directory build

check:
	@scripts/deps.sh --ensure
	@$(MAKE) --no-print-directory build
	@$(MAKE) --no-print-directory run-checks

deps:
	@scripts/deps.sh

# `make demo`: the README's first command (scripts/demo.sh).
demo:
	@scripts/deps.sh --ensure
	@$(MAKE) --no-print-directory build
	@scripts/demo.sh $(BUILD)

ifneq ($(MAKECMDGOALS),deps)
PC_CFLAGS := $(shell pkg-config --cflags $(PCS) 2>/dev/null)
# libcurl, libgit2 and libcrypto are loaded with dlopen by the code that
# uses them (remote-s3/curllib.h, common/gitlib.h, common/sha256.h), so
# they are not linked; openssl stays in PCS for its headers.
PC_LIBS := $(shell pkg-config --libs $(filter-out libcurl libgit2 openssl,$(PCS)) 2>/dev/null)
HOT_LIBS := $(shell pkg-config --libs $(HOT_PCS) 2>/dev/null)
CMOCKA_LIBS := $(shell pkg-config --libs cmocka 2>/dev/null)
endif

WARN = -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wno-unused-parameter
CFLAGS ?= -O2 -g
ifeq ($(SAN),1)
CFLAGS = -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
endif
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE $(WARN) $(CFLAGS) -I. $(PC_CFLAGS) -MMD -MP
ifeq ($(STATIC_DEPS),1)
LIBS = -Wl,--as-needed -Wl,-Bstatic $(HOT_LIBS) -Wl,-Bdynamic $(PC_LIBS) -ldl -lpthread
else
LIBS = -Wl,--as-needed $(PC_LIBS) -lpthread
endif

LIB_SRCS = $(wildcard common/*.c objects/*.c refs/*.c remote-s3/*.c ops/*.c cloud/*.c observe/*.c) \
	$(filter-out runner/main.c,$(wildcard runner/*.c))
CLI_SRCS = skiff.c $(wildcard plumbing/*.c porcelain/*.c)
UNIT_SRCS = $(wildcard tests/unit/test_*.c)
FUZZ_SRCS = $(wildcard tests/fuzz/fuzz_*.c)

LIB_OBJS = $(LIB_SRCS:%.c=$(BUILD)/%.o)
CLI_OBJS = $(CLI_SRCS:%.c=$(BUILD)/%.o)
UNIT_BINS = $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
FUZZ_REPLAY_BINS = $(FUZZ_SRCS:tests/fuzz/%.c=$(BUILD)/tests/replay_%)
# Test-only programs the integration tests drive (e.g. tools/s3-driver).
TOOL_BINS = $(patsubst tests/tools/%.c,$(BUILD)/tools/%,$(wildcard tests/tools/*.c))

# Example workloads (examples/*.c): plain C and libc, built beside skiff.
EXAMPLE_BINS = $(patsubst examples/%.c,$(BUILD)/examples/%,$(wildcard examples/*.c))

LIBSKIFF = $(BUILD)/libskiff.a
SKIFF = $(BUILD)/skiff
RUNNER = $(BUILD)/skiff-runner

build: $(SKIFF) $(if $(wildcard runner/main.c),$(RUNNER)) $(EXAMPLE_BINS) $(UNIT_BINS) $(FUZZ_REPLAY_BINS) $(TOOL_BINS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(LIBSKIFF): $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(SKIFF): $(CLI_OBJS) $(LIBSKIFF)
	$(CC) $(LDFLAGS) -o $@ $(CLI_OBJS) $(LIBSKIFF) $(LIBS)

$(RUNNER): $(BUILD)/runner/main.o $(LIBSKIFF)
	$(CC) $(LDFLAGS) -o $@ $(BUILD)/runner/main.o $(LIBSKIFF) $(LIBS)

$(BUILD)/examples/%: examples/%.c
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -D_GNU_SOURCE $(WARN) $(CFLAGS) $(LDFLAGS) -o $@ $<

$(BUILD)/tests/test_%: tests/unit/test_%.c tests/unit/helpers.c tests/unit/helpers.h $(LIBSKIFF)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< tests/unit/helpers.c $(LIBSKIFF) $(LIBS) $(CMOCKA_LIBS)

# Fuzz targets also build as plain programs that replay their corpus, so
# `make check` proves every seed and past crash still passes.
$(BUILD)/tests/replay_%: tests/fuzz/%.c tests/fuzz/replay_main.c $(LIBSKIFF)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< tests/fuzz/replay_main.c $(LIBSKIFF) $(LIBS)

$(BUILD)/tools/%: tests/tools/%.c $(LIBSKIFF)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(LIBSKIFF) $(LIBS)

run-checks:
	@BUILD=$(BUILD) tests/run-tests.sh

check-unit: build
	@BUILD=$(BUILD) tests/run-tests.sh unit

check-integration: build
	@BUILD=$(BUILD) tests/run-tests.sh integration

# libFuzzer builds (clang): `make fuzz`, then run $(BUILD)-fuzz/fuzz_NAME.
FUZZ_BUILD = $(BUILD)-fuzz
fuzz:
	@mkdir -p $(FUZZ_BUILD)
	$(MAKE) --no-print-directory BUILD=$(FUZZ_BUILD) CC=clang \
	    CFLAGS="-O1 -g -fsanitize=fuzzer-no-link,address,undefined" \
	    LDFLAGS="-fsanitize=address,undefined" $(FUZZ_BUILD)/libskiff.a
	for f in $(FUZZ_SRCS); do n=$$(basename $$f .c); \
	    clang -std=c11 -D_GNU_SOURCE -I. $(PC_CFLAGS) -O1 -g -fsanitize=fuzzer,address,undefined \
	    -o $(FUZZ_BUILD)/$$n $$f $(FUZZ_BUILD)/libskiff.a $(LIBS) || exit 1; done

bench: all
	@BUILD=$(BUILD) tests/bench/run.sh

MAN1 = $(wildcard man/*.1)
MAN5 = $(wildcard man/*.5)
MAN8 = $(wildcard man/*.8)
install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/man/man5 \
	    $(DESTDIR)$(PREFIX)/share/man/man8
	install -m 0755 $(SKIFF) $(DESTDIR)$(PREFIX)/bin/skiff
	$(if $(wildcard runner/main.c),install -m 0755 $(RUNNER) $(DESTDIR)$(PREFIX)/bin/skiff-runner)
	install -m 0644 $(MAN1) $(DESTDIR)$(PREFIX)/share/man/man1/
	install -m 0644 $(MAN5) $(DESTDIR)$(PREFIX)/share/man/man5/
	$(if $(MAN8),install -m 0644 $(MAN8) $(DESTDIR)$(PREFIX)/share/man/man8/)

clean:
	rm -rf build build-* 

-include $(LIB_OBJS:.o=.d) $(CLI_OBJS:.o=.d) $(BUILD)/runner/main.d
