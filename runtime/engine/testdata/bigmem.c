// bigmem.c: declares a 128 MiB initial memory (linked with
// --initial-memory), over a 32 MiB limit.
#include <stdint.h>
__attribute__((export_name("run"))) int32_t run(void) { return 0; }
