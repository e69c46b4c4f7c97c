// greet.c: the reference plugin. Built twice by the Makefile: greet.wasm
// with -DREEF_EXTISM_ONLY (plain Extism kernel ABI, runs under extism
// go-sdk too) and greet_bulk.wasm with reef's bulk-copy extensions.
#include "../../../pdk/c/reef.h"

REEF_EXPORT("greet") int32_t greet(void) {
  size_t n;
  char *in = reef_input(&n);
  char *g = reef_config("greeting");
  const char *prefix = g ? g : "Hello";
  size_t pl = strlen(prefix);
  char *out = malloc(pl + n + 4);
  memcpy(out, prefix, pl);
  memcpy(out + pl, ", ", 2);
  memcpy(out + pl + 2, in, n);
  out[pl + 2 + n] = '!';
  reef_output(out, pl + n + 3);
  free(out);
  free(in);
  free(g);
  return 0;
}

// echo returns its input unchanged (1 MiB echo benchmark).
REEF_EXPORT("echo") int32_t echo(void) {
  size_t n;
  char *in = reef_input(&n);
  reef_output(in, n);
  free(in);
  return 0;
}

// count increments the var "count" and returns it as decimal.
REEF_EXPORT("count") int32_t count(void) {
  size_t n = 0;
  char *v = reef_var_get("count", &n);
  unsigned long c = 0;
  if (v && n == sizeof c) memcpy(&c, v, sizeof c);
  free(v);
  c++;
  reef_var_set("count", &c, sizeof c);
  char buf[32];
  int l = 0;
  unsigned long x = c;
  char tmp[32];
  do { tmp[l++] = (char)('0' + x % 10); x /= 10; } while (x);
  for (int i = 0; i < l; i++) buf[i] = tmp[l - 1 - i];
  reef_output(buf, (size_t)l);
  return 0;
}

// fail reports an error through error_set and returns 1.
REEF_EXPORT("fail") int32_t fail(void) {
  reef_error("this plugin always fails");
  return 1;
}

// code returns a non-zero code without an error message.
REEF_EXPORT("code") int32_t code(void) { return 7; }

// logs writes to the Extism log functions.
REEF_EXPORT("logs") int32_t logs(void) {
  reef_log_info("hello from the guest");
  reef_output_str("logged");
  return 0;
}

// noinput outputs nothing.
REEF_EXPORT("empty") int32_t empty(void) { return 0; }
