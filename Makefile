# eenplan build. `make` builds eenpland and eenplan into $(O) (default build/).
# `make run` runs the daemon with a demo PKI and demo data; `make check` runs
# every test, including the ASan+UBSan build. Both install missing packages.
#
# Several builds can live side by side: `make O=build-x SAN=1`.

O      ?= build
SAN    ?= 0
CC     ?= cc

WARN    = -Wall -Wextra -Werror -Wshadow -Wpointer-arith -Wcast-qual \
          -Wstrict-prototypes -Wmissing-prototypes
CFLAGS ?= -O2 -g
CFLAGS += -std=c11 -D_GNU_SOURCE $(WARN) -fstack-protector-strong \
          -D_FORTIFY_SOURCE=2 -isystem $(O)/gen -Iproto -Idaemon -Iclient
CFLAGS += $(XCFLAGS)
ifeq ($(SAN),1)
CFLAGS  += -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
LDFLAGS += -fsanitize=address,undefined
endif
LIBS    = -lssl -lcrypto -levent_openssl -levent_pthreads -levent -llmdb \
          -lprotobuf-c -lz -linih -ljansson -lsystemd -lpthread

GEN      = $(O)/gen/eenplan.pb-c.c $(O)/gen/eenplan.pb-c.h \
           $(O)/gen/store.pb-c.c $(O)/gen/store.pb-c.h
PROTO_C  = $(wildcard proto/*.c)
DAEMON_C = $(filter-out daemon/main.c,$(wildcard daemon/*.c))
CLIENT_C = $(filter-out client/cli.c,$(wildcard client/*.c))
UNIT_C   = $(wildcard tests/unit/test_*.c)

PROTO_O  = $(O)/gen/eenplan.pb-c.o $(PROTO_C:%.c=$(O)/%.o)
DAEMON_O = $(DAEMON_C:%.c=$(O)/%.o) $(O)/gen/store.pb-c.o
CLIENT_O = $(CLIENT_C:%.c=$(O)/%.o)
UNIT_BIN = $(UNIT_C:tests/unit/%.c=$(O)/tests/%)

all: $(O)/eenpland $(O)/eenplan

deps:
	@./scripts/deps.sh

# One run of protoc-c makes both files of each .proto (the .h follows the .c).
$(O)/gen/eenplan.pb-c.c: proto/eenplan.proto
	@mkdir -p $(O)/gen
	protoc-c --proto_path=proto --c_out=$(O)/gen proto/eenplan.proto
$(O)/gen/eenplan.pb-c.h: $(O)/gen/eenplan.pb-c.c ;

# The store's own messages (daemon only; they import the wire types).
$(O)/gen/store.pb-c.c: daemon/store.proto proto/eenplan.proto
	@mkdir -p $(O)/gen
	protoc-c --proto_path=proto --proto_path=daemon --c_out=$(O)/gen daemon/store.proto
$(O)/gen/store.pb-c.h: $(O)/gen/store.pb-c.c ;

$(O)/gen/%.pb-c.o: $(O)/gen/%.pb-c.c $(GEN)
	$(CC) $(filter-out $(WARN),$(CFLAGS)) -w -c -o $@ $<

$(O)/%.o: %.c $(GEN) $(wildcard proto/*.h daemon/*.h client/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(O)/libproto.a: $(PROTO_O)
	$(AR) rcs $@ $^
$(O)/libeenpland.a: $(DAEMON_O)
	$(AR) rcs $@ $^
$(O)/libeenplan-client.a: $(CLIENT_O)
	$(AR) rcs $@ $^

$(O)/eenpland: $(O)/daemon/main.o $(O)/libeenpland.a $(O)/libproto.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

$(O)/eenplan: $(O)/client/cli.o $(O)/libeenplan-client.a $(O)/libproto.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

# Each unit test links only what it names in tests/unit/<test>.mk:
#   TEST_DEPS_test_plan = daemon/plan.o daemon/util.o
include $(wildcard tests/unit/*.mk)
.SECONDEXPANSION:
$(O)/tests/%: tests/unit/%.c $$(addprefix $(O)/,$$(TEST_DEPS_$$*)) $(O)/libproto.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(addprefix $(O)/,$(TEST_DEPS_$*)) \
	    $(O)/libproto.a $(LIBS) -lcmocka

# Fuzz targets: under gcc they replay their corpus plus a fixed number of
# deterministic mutations (part of `make unit`); `make fuzz` runs libFuzzer
# (clang) for FUZZ_SECONDS.
FUZZ_DEPS = daemon/plan.o daemon/consent.o daemon/util.o
FUZZ_SECONDS ?= 120
$(O)/tests/fuzz_request_replay: tests/fuzz/fuzz_request.c \
    $(addprefix $(O)/,$(FUZZ_DEPS)) $(O)/libproto.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -DFUZZ_REPLAY $(LDFLAGS) -o $@ $< \
	    $(addprefix $(O)/,$(FUZZ_DEPS)) $(O)/libproto.a $(LIBS)

fuzz-replay: $(O)/tests/fuzz_request_replay
	@$(O)/tests/fuzz_request_replay tests/fuzz/corpus/request

fuzz: deps
	@command -v clang >/dev/null || { echo "make fuzz needs clang"; exit 1; }
	$(MAKE) O=build-fuzz CC=clang SAN=1 XCFLAGS=-fsanitize=fuzzer-no-link \
	    build-fuzz/libproto.a \
	    $(addprefix build-fuzz/,$(FUZZ_DEPS))
	clang -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined \
	    -isystem build-fuzz/gen -Iproto -Idaemon -o build-fuzz/fuzz_request \
	    tests/fuzz/fuzz_request.c $(addprefix build-fuzz/,$(FUZZ_DEPS)) \
	    build-fuzz/libproto.a $(LIBS)
	mkdir -p build-fuzz/corpus && cp -n tests/fuzz/corpus/request/* build-fuzz/corpus/
	build-fuzz/fuzz_request -max_total_time=$(FUZZ_SECONDS) -max_len=65536 \
	    build-fuzz/corpus tests/fuzz/corpus/request

# The crash test's LD_PRELOAD shim (tests/crash/iorec.c): plain, never
# sanitized (it runs inside the daemon of either build), no fortify (it
# defines open() itself).
$(O)/tests/libiorec.so: tests/crash/iorec.c
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -D_GNU_SOURCE $(WARN) -O2 -g -fPIC -shared -U_FORTIFY_SOURCE \
	    -o $@ $< -ldl -lpthread

unit-bins: $(UNIT_BIN) $(O)/tests/fuzz_request_replay $(O)/tests/libiorec.so

# Unit tests (CMocka). Each binary prints its own summary.
unit: deps $(UNIT_BIN) $(O)/tests/fuzz_request_replay
	@fail=0; for t in $(UNIT_BIN); do \
	    echo "== $$t"; TMPDIR=$${TMPDIR:-/tmp} $$t || fail=1; done; \
	    echo "== fuzz_request (replay)"; \
	    $(O)/tests/fuzz_request_replay tests/fuzz/corpus/request || fail=1; \
	    test $$fail -eq 0

# Black-box tests: the real daemon, real TLS, the demo PKI, the real client;
# in BB_SHARDS shards side by side (default: one per CPU; BB_SHARDS=1 runs
# them one after another), each shard's output printed when all are done.
BB_SHARDS ?= $(shell nproc 2>/dev/null || echo 2)
blackbox: deps all faults $(O)/tests/libiorec.so
	@EENPLAN_SANITIZED=$(SAN) tests/blackbox/run-sharded.sh $(BB_SHARDS) $(O)

# The same against a daemon under valgrind (definite leaks and memory errors
# fail), also in BB_SHARDS shards (valgrind runs a daemon's threads one at a
# time).
blackbox-valgrind: deps all faults $(O)/tests/libiorec.so
	@EENPLAN_VALGRIND=1 tests/blackbox/run-sharded.sh $(BB_SHARDS) $(O)

# Slow hostile tests, not part of `make check`: 100 clients that ask for a
# ~950 KB plan and never read (under 300 MB, memory back after), and a few
# thousand idle mTLS connections (RSS each; EENPLAN_IDLE_CONNS sets how
# many). They print their figures.
hostile: deps all
	@EENPLAN_HOSTILE=1 tests/blackbox/run.sh $(O) hundred_slow_readers \
	    idle_connection_memory

# Power cuts at many more points than `make blackbox` tries (test_crash.py):
# CRASH_POINTS images opened by the daemon, CRASH_REQUESTS requests per
# connection, CRASH_SEED to repeat a run (default: a fresh seed, printed).
CRASH_POINTS   ?= 300
CRASH_REQUESTS ?= 200
CRASH_SEED     ?=
crash: deps all $(O)/tests/libiorec.so
	@EENPLAN_CRASH_POINTS=$(CRASH_POINTS) EENPLAN_CRASH_REQUESTS=$(CRASH_REQUESTS) \
	    EENPLAN_CRASH_SEED=$(CRASH_SEED) EENPLAN_BB_TEST_TIMEOUT=3600 \
	    tests/blackbox/run.sh $(O) crash.

# The demo PKI (certs/demo is made once and reused).
pki: deps
	@test -f certs/demo/ca/root.crt || certs/mkpki.sh certs/demo

run: deps all pki
	@deploy/demo-run.sh $(O)

# Everything: the normal and the ASan+UBSan build (each with -j, JOBS
# compile jobs, default one per CPU), then unit and black-box tests on
# each, and the black-box suite with the daemon under valgrind. Each suite
# is labelled; the summary at the end names each skipped test and why.
check: deps
	+@MAKE="$(MAKE)" scripts/check.sh

clean:
	rm -rf build build-asan build-fuzz

# `make install` (PREFIX=/usr/local, DESTDIR for staging). PREFIX=/usr puts
# the configuration in /etc, as a package would.
PREFIX      ?= /usr/local
BINDIR      ?= $(PREFIX)/bin
SBINDIR     ?= $(PREFIX)/sbin
MANDIR      ?= $(PREFIX)/share/man
SYSCONFDIR  ?= $(if $(filter /usr,$(PREFIX)),/etc,$(PREFIX)/etc)
UNITDIR     ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
INSTALL     ?= install
# Written elsewhere (the CLI); installed when they are there.
MAN1        = $(firstword $(wildcard doc/eenplan.1 client/eenplan.1))
BASHCOMP    = $(firstword $(wildcard doc/eenplan.bash-completion \
                client/eenplan.bash-completion doc/eenplan.bash \
                client/eenplan.bash client/completion.bash))

install: all
	$(INSTALL) -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) \
	    $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR) \
	    $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 \
	    $(DESTDIR)$(SYSCONFDIR)/eenplan
	$(INSTALL) -d -m 0700 $(DESTDIR)$(SYSCONFDIR)/eenplan/private
	$(INSTALL) -m 0755 $(O)/eenpland $(DESTDIR)$(SBINDIR)/eenpland
	$(INSTALL) -m 0755 $(O)/eenplan $(DESTDIR)$(BINDIR)/eenplan
	sed -e 's|/usr/sbin/eenpland|$(SBINDIR)/eenpland|g' \
	    -e 's|/etc/eenplan/|$(SYSCONFDIR)/eenplan/|g' \
	    deploy/eenpland.service > $(DESTDIR)$(UNITDIR)/eenpland.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/eenpland.service
	$(INSTALL) -m 0644 deploy/eenplan.sysusers \
	    $(DESTDIR)$(SYSUSERSDIR)/eenplan.conf
	$(INSTALL) -m 0644 deploy/eenpland.conf.example \
	    $(DESTDIR)$(SYSCONFDIR)/eenplan/eenpland.conf.example
	$(INSTALL) -m 0644 doc/eenpland.8 $(DESTDIR)$(MANDIR)/man8/eenpland.8
	$(INSTALL) -m 0644 doc/eenpland.conf.5 \
	    $(DESTDIR)$(MANDIR)/man5/eenpland.conf.5
	$(if $(MAN1),$(INSTALL) -d $(DESTDIR)$(MANDIR)/man1 && \
	    $(INSTALL) -m 0644 $(MAN1) $(DESTDIR)$(MANDIR)/man1/eenplan.1)
	$(if $(BASHCOMP),$(INSTALL) -d $(DESTDIR)$(BASHCOMPDIR) && \
	    $(INSTALL) -m 0644 $(BASHCOMP) $(DESTDIR)$(BASHCOMPDIR)/eenplan)

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/eenpland $(DESTDIR)$(BINDIR)/eenplan \
	    $(DESTDIR)$(UNITDIR)/eenpland.service \
	    $(DESTDIR)$(SYSUSERSDIR)/eenplan.conf \
	    $(DESTDIR)$(SYSCONFDIR)/eenplan/eenpland.conf.example \
	    $(DESTDIR)$(MANDIR)/man8/eenpland.8 \
	    $(DESTDIR)$(MANDIR)/man5/eenpland.conf.5 \
	    $(DESTDIR)$(MANDIR)/man1/eenplan.1 \
	    $(DESTDIR)$(BASHCOMPDIR)/eenplan

# ---------------------------------------------------------- operations
# The fault shim the black-box tests preload (a full disk, a clock moved;
# tests/faults/faults.c), built plain, without the sanitizers: it is
# preloaded into the ASan build too. `make soak` (not part of make check):
# SOAK_MINUTES (default 30) of mixed load from SOAK_CONNECTIONS (200)
# connections with SIGHUP every 10 s and kill -9 every 2 minutes; it ends
# with its figures and fails when an acknowledged write is missing, the
# audit chain does not verify, or RSS or descriptors did not come back.
FAULTS_SO = $(O)/tests/libfaults.so
$(FAULTS_SO): tests/faults/faults.c
	@mkdir -p $(dir $@)
	$(CC) -O2 -g -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -fPIC \
	    -shared -o $@ $< -ldl
faults: $(FAULTS_SO)

SOAK_MINUTES ?= 30
SOAK_CONNECTIONS ?= 200
soak: deps all faults
	@SOAK_MINUTES=$(SOAK_MINUTES) SOAK_CONNECTIONS=$(SOAK_CONNECTIONS) \
	    python3 tests/soak/soak.py $(O)

.PHONY: faults soak
.PHONY: all deps unit unit-bins fuzz fuzz-replay blackbox blackbox-valgrind hostile crash pki run check clean install uninstall
.SECONDARY:

# ---------------------------------------------------------------- bench
# eenplan-bench and `make bench` (issue 8). Not part of `all` or `check`:
# the bench installs its references (redis, PostgreSQL, libpq) itself.
# Sizes: BENCH_HOUSEHOLDS, BENCH_ROUNDS, BENCH_SECONDS, BENCH_BIG,
# BENCH_IDLE; see bench/README.md.
BENCH_C    = $(wildcard bench/*.c)
BENCH_O    = $(BENCH_C:%.c=$(O)/%.o)
BENCH_HOUSEHOLDS ?= 100000
BENCH_ROUNDS     ?= 5
BENCH_SECONDS    ?= 5
BENCH_BIG        ?= 1000000
BENCH_IDLE       ?= 10000
BENCH_ENV = BENCH_HOUSEHOLDS=$(BENCH_HOUSEHOLDS) BENCH_ROUNDS=$(BENCH_ROUNDS) \
            BENCH_SECONDS=$(BENCH_SECONDS) BENCH_BIG=$(BENCH_BIG) \
            BENCH_IDLE=$(BENCH_IDLE)

$(O)/bench/%.o: bench/%.c bench/bench.h $(GEN) proto/wire.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Ibench -I/usr/include/postgresql -c -o $@ $<

$(O)/eenplan-bench: $(BENCH_O) $(O)/libproto.a
	$(CC) $(LDFLAGS) -o $@ $^ -lpq $(LIBS) -lm

bench-deps: deps
	@bench/deps.sh

bench-build: bench-deps all pki
	@$(MAKE) --no-print-directory $(O)/eenplan-bench

bench: bench-build
	@$(BENCH_ENV) python3 bench/run.py --build $(O) main

bench-population: bench-build
	@$(BENCH_ENV) python3 bench/run.py --build $(O) population

bench-idle: bench-build
	@$(BENCH_ENV) python3 bench/run.py --build $(O) idle

# The README's "Performance" table from the last `make bench`.
bench-markdown:
	@python3 bench/run.py --build $(O) markdown

.PHONY: bench bench-build bench-deps bench-population bench-idle bench-markdown
