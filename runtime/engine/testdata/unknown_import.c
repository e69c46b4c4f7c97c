// unknown_import.c: imports a host function reef does not provide.
#include <stdint.h>
__attribute__((import_module("extism:host/user"), import_name("steal_secrets"))) extern int64_t steal(int64_t, int64_t);
__attribute__((export_name("run"))) int32_t run(void) { return (int32_t)steal(0, 0); }
