// start_trap.c: a reactor whose initialisation traps.
#include <stdint.h>
__attribute__((constructor)) static void boom(void) { __builtin_trap(); }
__attribute__((export_name("run"))) int32_t run(void) { return 0; }
