// nomem.c: exports a function with a signature skills may not use.
#include <stdint.h>
__attribute__((export_name("add"))) int32_t add(int32_t a, int32_t b) { return a + b; }
__attribute__((export_name("run"))) int32_t run(void) { return 0; }
