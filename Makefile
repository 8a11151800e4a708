# coldseq - build, test, fuzz, lint, install.
#
#   make            build ./coldseq (release, -O2)
#   make deps       install the Debian packages everything below needs
#   make demo       the whole product on a throwaway local mail stack
#   make test       deps + ASan/UBSan build + every unit and integration test
#   make test-long  soak runs, the crash test with 100 kills, long fuzzing
#   make bench      benchmarks (ratios against reference tools)
#   make fuzz       libFuzzer targets, each for FUZZ_SECONDS (default 30)
#   make lint       clang-format, cppcheck, clang-tidy
#   make install    PREFIX=/usr/local DESTDIR= (binary and systemd units)
#
# Objects go under build/ (build/release, build/asan, build/fuzz); nothing is
# generated inside the source folders.
#
# From nothing: the compiler and linker flags come from pkg-config, which
# make runs when it parses this file, and on a fresh machine the libraries
# only arrive with the deps step.  So every goal that installs packages
# first (all, demo, test, bench, fuzz, lint) runs deps in this make, then
# the build in a second make that parses this file anew: deps, then
# configure (pkg-config), then build, in that order whatever -j says.  A
# build without the libraries stops at once and says which are missing.

PREFIX ?= /usr/local
DESTDIR ?=
CC ?= cc
FUZZ_CC ?= clang
FUZZ_SECONDS ?= 30
JOBS ?= 2
# the deps step; tests replace it (DEPS_CMD=...) to stage a fresh machine
DEPS_CMD ?= sh scripts/deps.sh
DEMO_CMD ?= python3 scripts/demo.py
SUBMAKE = $(MAKE) --no-print-directory

# Bottom-up (STYLE.md practice 1); a folder joins when it has code.
MODULES := core db net templates smtp imap classify doctor sequencer cli
PKGS := sqlite3 libcjson libssl libcrypto icu-i18n icu-uc libuv libcurl \
        libcares libpsl

PKG_OK := $(shell pkg-config --exists $(PKGS) 2>/dev/null && echo yes)
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
# libetpan: no pkg-config --libs (its Libs force a non-PIE link spec).
LIBS := -letpan -lcsv -lidn2 -lyaml $(PKG_LIBS) -lpthread -lm

WARN := -std=c11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
        -Wmissing-prototypes -Wformat=2 -Wno-format-nonliteral
CPPFLAGS_ALL := -I. $(PKG_CFLAGS)
REL_CFLAGS := $(WARN) -O2 -g -fstack-protector-strong -D_FORTIFY_SOURCE=2
ASAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=undefined \
              -fno-omit-frame-pointer
ASAN_CFLAGS := $(WARN) -O1 -g $(ASAN_FLAGS)

ALL_SRCS := $(foreach m,$(MODULES),$(wildcard $(m)/*.c))
MAIN_SRC := cli/main.c
LIB_SRCS := $(filter-out $(MAIN_SRC),$(ALL_SRCS))
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
BENCH_SRCS := $(wildcard tests/bench/bench_*.c)
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
LINT_FILES := $(ALL_SRCS) $(foreach m,$(MODULES),$(wildcard $(m)/*.h)) \
              $(UNIT_SRCS) $(FUZZ_SRCS) $(BENCH_SRCS) \
              $(wildcard tests/unit/*.h)

REL_OBJS := $(LIB_SRCS:%.c=build/release/%.o)
ASAN_OBJS := $(LIB_SRCS:%.c=build/asan/%.o)
FUZZ_OBJS := $(LIB_SRCS:%.c=build/fuzz/%.o)
UNIT_BINS := $(UNIT_SRCS:tests/unit/test_%.c=build/asan/tests/unit_%)
FUZZ_BINS := $(FUZZ_SRCS:tests/fuzz/fuzz_%.c=build/fuzz/fuzz_%)

.PHONY: all deps build-deps demo test test-long bench fuzz fuzz-run lint \
        lint-run install uninstall clean asan unit pkgs-ok
.DELETE_ON_ERROR:

all: build-deps
	@$(SUBMAKE) coldseq

# Every compile and link waits for this check: with the libraries missing
# (a fresh machine, before 'make deps'), stop before the first compiler
# error and say what is missing.  It reads PKG_OK, computed when this make
# parsed the Makefile, so a goal that ran deps checks in its second make.
pkgs-ok:
ifneq ($(PKG_OK),yes)
	@missing=$$(for p in $(PKGS); do \
	    pkg-config --exists $$p 2>/dev/null || printf ' %s' $$p; done); \
	echo "coldseq: build libraries missing (pkg-config cannot find:$$missing);" \
	    "run 'make deps' first (as root)" >&2; exit 1
endif

coldseq: build/release/libcoldseq.a build/release/cli/main.o | pkgs-ok
	@echo "  LD      $@"
	@$(CC) $(REL_CFLAGS) -o $@ build/release/cli/main.o \
	    build/release/libcoldseq.a $(LIBS)

build/release/libcoldseq.a: $(REL_OBJS)
	@rm -f $@
	@ar rcs $@ $^

build/release/%.o: %.c | pkgs-ok
	@mkdir -p $(@D)
	@echo "  CC      $<"
	@$(CC) $(CPPFLAGS_ALL) $(REL_CFLAGS) -MMD -MP -c -o $@ $<

# ---- sanitizer build used by every test ---------------------------------

asan: build/asan/coldseq $(UNIT_BINS) build/asan/tests/kfold_classify

# The classifier again with its test-only phrase registry (CLS_KFOLD,
# classify/cls_int.h) for the k-fold measurement and the pattern listing
# (tests/classify/kfold.py); never linked into coldseq.
KFOLD_OBJS := $(wildcard classify/*.c)
KFOLD_OBJS := $(KFOLD_OBJS:%.c=build/asan/kfold/%.o)

build/asan/kfold/%.o: %.c | pkgs-ok
	@mkdir -p $(@D)
	@echo "  CC kfold $<"
	@$(CC) $(CPPFLAGS_ALL) $(ASAN_CFLAGS) -DCLS_KFOLD -MMD -MP -c -o $@ $<

build/asan/tests/kfold_classify: tests/bench/kfold_classify.c $(KFOLD_OBJS) \
                                 build/asan/libcoldseq.a | pkgs-ok
	@mkdir -p $(@D)
	@echo "  LD asan $@"
	@$(CC) $(CPPFLAGS_ALL) $(ASAN_CFLAGS) -DCLS_KFOLD -o $@ $< \
	    $(KFOLD_OBJS) build/asan/libcoldseq.a $(LIBS)

build/asan/coldseq: build/asan/libcoldseq.a build/asan/cli/main.o | pkgs-ok
	@echo "  LD asan $@"
	@$(CC) $(ASAN_CFLAGS) -o $@ build/asan/cli/main.o \
	    build/asan/libcoldseq.a $(LIBS)

build/asan/libcoldseq.a: $(ASAN_OBJS)
	@rm -f $@
	@ar rcs $@ $^

build/asan/%.o: %.c | pkgs-ok
	@mkdir -p $(@D)
	@echo "  CC asan $<"
	@$(CC) $(CPPFLAGS_ALL) $(ASAN_CFLAGS) -MMD -MP -c -o $@ $<

build/asan/tests/unit_%: tests/unit/test_%.c build/asan/libcoldseq.a | pkgs-ok
	@mkdir -p $(@D)
	@echo "  CC asan $<"
	@$(CC) $(CPPFLAGS_ALL) $(ASAN_CFLAGS) -MMD -MP -o $@ $< \
	    build/asan/libcoldseq.a $(LIBS) -lcmocka

deps:
	@$(DEPS_CMD)

# only what building ./coldseq needs (no mail stack, no fuzzing tools)
build-deps:
	@$(DEPS_CMD) build

test: deps
	@$(SUBMAKE) asan coldseq
	@python3 tests/run.py -j $(JOBS)

# Soak: the whole suite LONG_RUNS times in a row (flaky tests show up),
# then every fuzz target for LONG_FUZZ_SECONDS.
LONG_RUNS ?= 5
LONG_FUZZ_SECONDS ?= 300
demo: deps
	@$(SUBMAKE) coldseq
	@$(DEMO_CMD)

test-long: deps
	@$(SUBMAKE) asan coldseq
	@i=1; while [ $$i -le $(LONG_RUNS) ]; do \
	    echo "soak run $$i of $(LONG_RUNS)"; \
	    python3 tests/run.py -j $(JOBS) >build/soak.log 2>&1; rc=$$?; \
	    tail -n 1 build/soak.log; \
	    [ $$rc -eq 0 ] || { grep -E '^FAIL|not ok' build/soak.log; exit 1; }; \
	    i=$$((i + 1)); \
	done
	@echo "crash test: 100 kills"
	@CRASH_KILLS=100 python3 tests/run.py -k test_service | tail -n 1
	@$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=$(LONG_FUZZ_SECONDS)

unit: asan
	@python3 tests/run.py -k unit_

bench: deps
	@$(SUBMAKE) coldseq
	@sh tests/bench/run.sh

build/release/bench_%: tests/bench/bench_%.c build/release/libcoldseq.a
	@$(CC) $(CPPFLAGS_ALL) $(REL_CFLAGS) -o $@ $< \
	    build/release/libcoldseq.a $(LIBS)

# ---- fuzzing --------------------------------------------------------------

FUZZ_CFLAGS := -std=c11 -Wall -Wextra -Werror -g -O1 \
               -fsanitize=fuzzer-no-link,address,undefined

build/fuzz/%.o: %.c | pkgs-ok
	@mkdir -p $(@D)
	@echo "  CC fuzz $<"
	@$(FUZZ_CC) $(CPPFLAGS_ALL) $(FUZZ_CFLAGS) -MMD -MP -c -o $@ $<

build/fuzz/libcoldseq.a: $(FUZZ_OBJS)
	@rm -f $@
	@ar rcs $@ $^

build/fuzz/fuzz_%: tests/fuzz/fuzz_%.c build/fuzz/libcoldseq.a
	@echo "  CC fuzz $<"
	@$(FUZZ_CC) $(CPPFLAGS_ALL) -std=c11 -Wall -Wextra -Werror -g -O1 \
	    -fsanitize=fuzzer,address,undefined -o $@ $< \
	    build/fuzz/libcoldseq.a $(LIBS)

fuzz: deps
	@$(SUBMAKE) fuzz-run

fuzz-run: $(FUZZ_BINS)
	@for f in $(FUZZ_BINS); do \
	    name=$${f#build/fuzz/fuzz_}; \
	    mkdir -p build/fuzz/corpus/$$name; \
	    if [ -d tests/fuzz/corpus/$$name ]; then \
	        cp -n tests/fuzz/corpus/$$name/* build/fuzz/corpus/$$name/ 2>/dev/null || true; \
	    fi; \
	    echo "fuzz $$name for $(FUZZ_SECONDS) s"; \
	    $$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	        -artifact_prefix=build/fuzz/ build/fuzz/corpus/$$name \
	        2>build/fuzz/$$name.log || { tail -n 40 build/fuzz/$$name.log; exit 1; }; \
	    grep -E '^stat::number_of_executed_units|^Done' build/fuzz/$$name.log || true; \
	done

# ---- lint -----------------------------------------------------------------

lint: deps
	@$(SUBMAKE) lint-run

lint-run: | pkgs-ok
	@mkdir -p build
	clang-format --dry-run -Werror $(LINT_FILES)
	cppcheck --quiet --error-exitcode=1 --std=c11 --inline-suppr \
	    --enable=warning,performance,portability -D__GNUC__ \
	    --suppress=missingIncludeSystem -I. $(ALL_SRCS)
	clang-tidy --quiet $(ALL_SRCS) -- $(CPPFLAGS_ALL) -std=c11 \
	    2>build/clang-tidy.log || { cat build/clang-tidy.log; exit 1; }
	@echo "lint: clean"

# ---- install --------------------------------------------------------------

# The systemd units' ExecStart names $(PREFIX)/bin/coldseq; the user unit
# is installed as coldseq.service (systemctl --user enable --now coldseq).
SYSTEMD_SYSTEM_DIR ?= $(PREFIX)/lib/systemd/system
SYSTEMD_USER_DIR ?= $(PREFIX)/lib/systemd/user

install: all
	install -D -m 0755 coldseq $(DESTDIR)$(PREFIX)/bin/coldseq
	install -d $(DESTDIR)$(SYSTEMD_SYSTEM_DIR) $(DESTDIR)$(SYSTEMD_USER_DIR)
	sed 's|/usr/local/bin/coldseq|$(PREFIX)/bin/coldseq|' \
	    contrib/systemd/coldseq.service \
	    >$(DESTDIR)$(SYSTEMD_SYSTEM_DIR)/coldseq.service
	sed 's|/usr/local/bin/coldseq|$(PREFIX)/bin/coldseq|' \
	    contrib/systemd/coldseq-user.service \
	    >$(DESTDIR)$(SYSTEMD_USER_DIR)/coldseq.service
	chmod 0644 $(DESTDIR)$(SYSTEMD_SYSTEM_DIR)/coldseq.service \
	    $(DESTDIR)$(SYSTEMD_USER_DIR)/coldseq.service

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/coldseq
	rm -f $(DESTDIR)$(SYSTEMD_SYSTEM_DIR)/coldseq.service
	rm -f $(DESTDIR)$(SYSTEMD_USER_DIR)/coldseq.service

clean:
	rm -rf build coldseq

-include $(shell find build -name '*.d' 2>/dev/null)
