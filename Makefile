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
          -lprotobuf-c -lz -linih -ljansson -lpthread

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

unit-bins: $(UNIT_BIN) $(O)/tests/fuzz_request_replay

# Unit tests (CMocka). Each binary prints its own summary.
unit: deps $(UNIT_BIN) $(O)/tests/fuzz_request_replay
	@fail=0; for t in $(UNIT_BIN); do \
	    echo "== $$t"; TMPDIR=$${TMPDIR:-/tmp} $$t || fail=1; done; \
	    echo "== fuzz_request (replay)"; \
	    $(O)/tests/fuzz_request_replay tests/fuzz/corpus/request || fail=1; \
	    test $$fail -eq 0

# Black-box tests: the real daemon, real TLS, the demo PKI, the real client.
blackbox: deps all
	@tests/blackbox/run.sh $(O)

# The same against a daemon under valgrind (definite leaks and memory errors fail).
blackbox-valgrind: deps all
	@EENPLAN_VALGRIND=1 tests/blackbox/run.sh $(O)

# Slow hostile tests, not part of `make check`: 100 clients that ask for a
# ~950 KB plan and never read (under 300 MB, memory back after), and a few
# thousand idle mTLS connections (RSS each; EENPLAN_IDLE_CONNS sets how
# many). They print their figures.
hostile: deps all
	@EENPLAN_HOSTILE=1 tests/blackbox/run.sh $(O) hundred_slow_readers \
	    idle_connection_memory

# The demo PKI (certs/demo is made once and reused).
pki: deps
	@test -f certs/demo/ca/root.crt || certs/mkpki.sh certs/demo

run: deps all pki
	@deploy/demo-run.sh $(O)

# Everything: a normal build with unit + black-box tests (also with the daemon
# under valgrind), then the same under ASan+UBSan.
check: deps
	$(MAKE) O=build all unit-bins
	$(MAKE) O=build unit blackbox blackbox-valgrind
	$(MAKE) O=build-asan SAN=1 all unit-bins
	$(MAKE) O=build-asan SAN=1 unit blackbox
	@echo "make check: all suites passed"

clean:
	rm -rf build build-asan build-fuzz

.PHONY: all deps unit unit-bins fuzz fuzz-replay blackbox blackbox-valgrind hostile pki run check clean
.SECONDARY:
