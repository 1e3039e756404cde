# SPDX-License-Identifier: Apache-2.0
# farnode build. Native by default; CROSS=aarch64|armhf for cross builds,
# STATIC=1 for a fully static binary, SANITIZE=address,undefined for
# sanitizer builds, V=1 for full command lines, WERROR=1 (or CI set) for
# -Werror.

VERSION := 0.1.0
CC ?= cc
PKG_CONFIG ?= pkg-config
CROSS ?=
STATIC ?= 0
SANITIZE ?=

ifeq ($(CROSS),aarch64)
TRIPLET := aarch64-linux-gnu
QEMU := qemu-aarch64
else ifeq ($(CROSS),armhf)
TRIPLET := arm-linux-gnueabihf
QEMU := qemu-arm
else ifneq ($(CROSS),)
$(error CROSS must be aarch64 or armhf, not '$(CROSS)')
endif

ifneq ($(TRIPLET),)
CC := $(TRIPLET)-gcc
PKG_CONFIG := $(TRIPLET)-pkg-config
STRIP := $(TRIPLET)-strip
BUILD ?= build/$(CROSS)$(if $(filter 1,$(STATIC)),-static)
else
STRIP ?= strip
QEMU :=
ifneq ($(SANITIZE),)
BUILD ?= build/san
else ifeq ($(STATIC),1)
BUILD ?= build/static
else
BUILD ?= build
endif
endif

ifeq ($(V),1)
Q :=
else
Q := @
endif

WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	-Wformat=2 -Wno-format-nonliteral
ifneq ($(CI)$(WERROR),)
WARN += -Werror
endif

GIT_REV := $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
INIH_VERSION = $(shell $(PKG_CONFIG) --modversion inih 2>/dev/null || echo 0)

PKGS := libuv libprotobuf-c sqlite3 inih yaml-0.1
ifeq ($(STATIC),1)
PKGS := libuv-static libprotobuf-c sqlite3 inih yaml-0.1
PKG_LIBS = $(shell $(PKG_CONFIG) --static --libs $(PKGS))
LDSTATIC := -static
else
PKG_LIBS = $(shell $(PKG_CONFIG) --libs $(PKGS))
LDSTATIC :=
endif
PKG_CFLAGS = $(shell $(PKG_CONFIG) --cflags $(PKGS))
MBED_LIBS := -lmbedtls -lmbedx509 -lmbedcrypto

CFLAGS ?= -O2 -g
CFLAGS += -std=gnu11 $(WARN) -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -fno-strict-aliasing
CPPFLAGS += -iquote agent -iquote ports/linux -I$(BUILD)/gen $(PKG_CFLAGS) \
	-DFARNODE_VERSION='"$(VERSION)"' \
	-DFARNODE_INIH_VERSION=$(INIH_VERSION) \
	-MMD -MP
LDLIBS += $(PKG_LIBS) $(MBED_LIBS) -lm
LDFLAGS += $(LDSTATIC)
ifeq ($(CROSS),aarch64)
LDFLAGS += -Wl,-z,max-page-size=4096
endif
ifneq ($(SANITIZE),)
CFLAGS += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=$(SANITIZE)
endif

PROTOS := $(wildcard proto/*.proto)
GEN_C := $(patsubst proto/%.proto,$(BUILD)/gen/%.pb-c.c,$(PROTOS))
GEN_H := $(GEN_C:.c=.h)

LIB_SRCS := $(filter-out agent/main.c,$(wildcard agent/*.c)) \
	$(wildcard ports/linux/*.c)
LIB_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(LIB_SRCS)) \
	$(patsubst $(BUILD)/gen/%.c,$(BUILD)/obj/gen/%.o,$(GEN_C))
LIB := $(BUILD)/libfarnode.a
BIN := $(BUILD)/farnode

UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRCS))
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_REPLAY := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%-replay,$(FUZZ_SRCS))
SIM_SRCS := $(wildcard tests/sim/sim_*.c)
SIM_COMMON := $(filter-out $(SIM_SRCS),$(wildcard tests/sim/*.c))
SIM_BINS := $(patsubst tests/sim/%.c,$(BUILD)/sim/%,$(SIM_SRCS))
BENCH_SRCS := $(wildcard tests/bench/bench_*.c)
BENCH_BINS := $(patsubst tests/bench/%.c,$(BUILD)/bench/%,$(BENCH_SRCS))

CMOCKA_LIBS = $(shell $(PKG_CONFIG) --libs cmocka)

.PHONY: all deps run test test-build unit-tests bench fuzz clean help firmware firmware-test
.SECONDARY:
.DEFAULT_GOAL := all

all: $(BIN)

help:
	@echo "make            build $(BIN)"
	@echo "make deps       install missing Debian packages (root)"
	@echo "make run        deps + build + start the agent (data in ./var)"
	@echo "make test       deps + build + every suite; ends with 'N passed, N failed'"
	@echo "make bench      benchmarks (sizes, RSS, throughput)"
	@echo "make fuzz       run every fuzz target with clang (FUZZ_SECONDS=60)"
	@echo "make firmware   aarch64 firmware image; firmware-test boots it in qemu"
	@echo "options: CROSS=aarch64|armhf STATIC=1 SANITIZE=address,undefined V=1 WERROR=1"

deps:
	$(Q)CROSS='$(CROSS)' sh tools/deps.sh

# Generated protobuf-c code: arch independent, one copy per build dir.
$(BUILD)/gen/%.pb-c.c $(BUILD)/gen/%.pb-c.h: proto/%.proto
	@mkdir -p $(BUILD)/gen
	@$(if $(Q),echo "  PROTOC  $<")
	$(Q)protoc-c --c_out=$(BUILD)/gen -Iproto $<

$(BUILD)/obj/gen/%.o: $(BUILD)/gen/%.c $(FLAGS_STAMP) | $(GEN_H)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -Wno-missing-prototypes -c -o $@ $<

# Rebuild everything when the flags change; only the version file when the
# git revision changes.
FLAGS_STAMP := $(BUILD)/.flags
FLAGS_NOW = $(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) $(LDLIBS)
$(FLAGS_STAMP): FORCE
	@mkdir -p $(BUILD)
	@echo '$(FLAGS_NOW)' | cmp -s - $@ || echo '$(FLAGS_NOW)' > $@
REV_STAMP := $(BUILD)/.gitrev
$(REV_STAMP): FORCE
	@mkdir -p $(BUILD)
	@echo '$(GIT_REV)' | cmp -s - $@ || echo '$(GIT_REV)' > $@
$(BUILD)/obj/agent/cli_agent.o: $(REV_STAMP)
$(BUILD)/obj/agent/cli_agent.o: CPPFLAGS += -DFARNODE_GIT_REV='"$(GIT_REV)"'
.PHONY: FORCE
FORCE:

$(BUILD)/obj/%.o: %.c $(FLAGS_STAMP) | $(GEN_H)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(LIB): $(LIB_OBJS)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(BIN): $(BUILD)/obj/agent/main.o $(LIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(LIB)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(CMOCKA_LIBS)

$(BUILD)/fuzz/%-replay: $(BUILD)/obj/tests/fuzz/%.o $(BUILD)/obj/tests/fuzz/replay_main.o $(LIB)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/sim/%: $(BUILD)/obj/tests/sim/%.o $(patsubst %.c,$(BUILD)/obj/%.o,$(SIM_COMMON)) $(LIB)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/bench/%: $(BUILD)/obj/tests/bench/%.o $(LIB)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

unit-tests: $(UNIT_BINS) $(FUZZ_REPLAY)

# Everything a test run needs, built in one make invocation.
ifeq ($(CROSS),)
test-build: $(BIN) $(UNIT_BINS) $(FUZZ_REPLAY) $(SIM_BINS)
else
test-build: $(BIN) $(UNIT_BINS) $(FUZZ_REPLAY)
endif

test:
	$(Q)$(MAKE) --no-print-directory deps
	$(Q)$(MAKE) --no-print-directory test-build
	$(Q)BUILD='$(BUILD)' QEMU='$(QEMU)' CROSS='$(CROSS)' SANITIZE='$(SANITIZE)' \
		VALGRIND='$(VALGRIND)' SUITES='$(SUITES)' bash tests/run.sh

run: deps
	$(Q)$(MAKE) --no-print-directory $(BIN)
	$(Q)mkdir -p var
	$(BIN) agent --data-dir ./var

bench: $(BIN) $(BENCH_BINS) $(SIM_BINS)
	$(Q)BUILD='$(BUILD)' bash tests/bench/run.sh

FUZZ_SECONDS ?= 60
FUZZ_BUILD := build/fuzz
fuzz:
	$(Q)FUZZ_SECONDS='$(FUZZ_SECONDS)' bash tests/fuzz/run.sh

firmware:
	$(Q)bash cross/firmware/mkimage.sh build/firmware

firmware-test: firmware
	$(Q)bash cross/firmware/boot-test.sh build/firmware

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
