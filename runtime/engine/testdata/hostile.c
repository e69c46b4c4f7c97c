// hostile.c: a plugin that misbehaves in every way the engine must survive.
#include "../../../pdk/c/reef.h"

volatile int sink;

REEF_EXPORT("ok") int32_t ok(void) { reef_output_str("ok"); return 0; }

REEF_EXPORT("loop") int32_t loop(void) {
  for (;;) { sink++; }
  return 0;
}

REEF_EXPORT("grow") int32_t grow(void) {
  // Grow memory until refused; report how far it got.
  int pages = 0;
  while (__builtin_wasm_memory_grow(0, 16) != (unsigned long)-1) pages += 16;
  char buf[64];
  int l = 0, x = pages;
  char tmp[16];
  do { tmp[l++] = (char)('0' + x % 10); x /= 10; } while (x);
  for (int i = 0; i < l; i++) buf[i] = tmp[l - 1 - i];
  reef_output(buf, (size_t)l);
  return 0;
}

static int depth(int n) {
  volatile char pad[256];
  pad[0] = (char)n;
  return depth(n + 1) + pad[0];
}
REEF_EXPORT("recurse") int32_t recurse(void) { sink = depth(0); return 0; }

REEF_EXPORT("trap") int32_t trap(void) { __builtin_trap(); return 0; }

REEF_EXPORT("oob") int32_t oob(void) {
  volatile int *p = (int *)0xfffffff0u;
  sink = *p;
  return 0;
}

// bigout asks for 100 MiB of output without having it.
REEF_EXPORT("bigout") int32_t bigout(void) {
  reef_x_output_write((const void *)0, 100u << 20);
  return 0;
}

// bigalloc asks the kernel for 100 MiB.
REEF_EXPORT("bigalloc") int32_t bigalloc(void) {
  reef_handle h = reef_x_alloc(100ull << 20);
  if (!h) { reef_error("alloc refused"); return 1; }
  reef_x_output_set(h, 100ull << 20);
  return 0;
}

// badhandle reads kernel memory far out of range.
REEF_EXPORT("badhandle") int32_t badhandle(void) {
  sink = (int)reef_x_load_u64(1ull << 40);
  return 0;
}

// sleepy blocks in WASI poll_oneoff (a host call) far past any timeout.
#include <unistd.h>
REEF_EXPORT("sleepy") int32_t sleepy(void) { sleep(3600); reef_output_str("woke"); return 0; }
