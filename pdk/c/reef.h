/*
 * reef.h — reef's C PDK (header-only) for clang --target=wasm32-wasi.
 *
 * A skill exports functions that take no parameters and return an int32
 * (0 = success). Inside, it reads its input, writes its output or an error,
 * reads config, logs, and calls reef capabilities.
 *
 *   #include "reef.h"
 *   REEF_EXPORT("greet") int32_t greet(void) {
 *       size_t n; char *in = reef_input(&n);
 *       ...
 *       reef_output(buf, len);
 *       return 0;
 *   }
 *
 * By default the PDK uses reef's bulk-copy kernel extensions (one host call
 * moves a whole buffer). Define REEF_EXTISM_ONLY before including this
 * header to use only the plain Extism kernel ABI, so the module also runs
 * under Extism hosts.
 */
#ifndef REEF_H
#define REEF_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define REEF_IMPORT_ENV(n) __attribute__((import_module("extism:host/env"), import_name(n)))
#define REEF_IMPORT_USER(n) __attribute__((import_module("extism:host/user"), import_name(n)))
#define REEF_EXPORT(n) __attribute__((export_name(n)))

typedef uint64_t reef_handle;

/* Extism kernel ABI. */
REEF_IMPORT_ENV("alloc") extern reef_handle reef_x_alloc(uint64_t);
REEF_IMPORT_ENV("free") extern void reef_x_free(reef_handle);
REEF_IMPORT_ENV("length") extern uint64_t reef_x_length(reef_handle);
REEF_IMPORT_ENV("load_u8") extern uint32_t reef_x_load_u8(uint64_t);
REEF_IMPORT_ENV("load_u64") extern uint64_t reef_x_load_u64(uint64_t);
REEF_IMPORT_ENV("store_u8") extern void reef_x_store_u8(uint64_t, uint32_t);
REEF_IMPORT_ENV("store_u64") extern void reef_x_store_u64(uint64_t, uint64_t);
REEF_IMPORT_ENV("input_length") extern uint64_t reef_x_input_length(void);
REEF_IMPORT_ENV("input_load_u8") extern uint32_t reef_x_input_load_u8(uint64_t);
REEF_IMPORT_ENV("input_load_u64") extern uint64_t reef_x_input_load_u64(uint64_t);
REEF_IMPORT_ENV("output_set") extern void reef_x_output_set(reef_handle, uint64_t);
REEF_IMPORT_ENV("error_set") extern void reef_x_error_set(reef_handle);
REEF_IMPORT_ENV("config_get") extern reef_handle reef_x_config_get(reef_handle);
REEF_IMPORT_ENV("var_get") extern reef_handle reef_x_var_get(reef_handle);
REEF_IMPORT_ENV("var_set") extern void reef_x_var_set(reef_handle, reef_handle);
REEF_IMPORT_ENV("log_info") extern void reef_x_log_info(reef_handle);
REEF_IMPORT_ENV("log_debug") extern void reef_x_log_debug(reef_handle);
REEF_IMPORT_ENV("log_warn") extern void reef_x_log_warn(reef_handle);
REEF_IMPORT_ENV("log_error") extern void reef_x_log_error(reef_handle);

#ifndef REEF_EXTISM_ONLY
/* reef bulk-copy extensions. */
REEF_IMPORT_ENV("reef_input_read") extern uint32_t reef_x_input_read(void *dst, uint32_t len);
REEF_IMPORT_ENV("reef_output_write") extern void reef_x_output_write(const void *src, uint32_t len);
REEF_IMPORT_ENV("reef_error_write") extern void reef_x_error_write(const void *src, uint32_t len);
REEF_IMPORT_ENV("reef_load") extern uint32_t reef_x_load(reef_handle, void *dst, uint32_t len);
REEF_IMPORT_ENV("reef_store") extern reef_handle reef_x_store(const void *src, uint32_t len);
#endif

/* reef_copy_in copies a kernel block into a new malloc'd buffer
 * (NUL-terminated for convenience); *len receives its length. */
static inline char *reef_copy_in(reef_handle h, size_t *len) {
  uint64_t n = h ? reef_x_length(h) : 0;
  char *buf = (char *)malloc(n + 1);
  if (!buf) return NULL;
#ifndef REEF_EXTISM_ONLY
  if (n) reef_x_load(h, buf, (uint32_t)n);
#else
  uint64_t i = 0;
  for (; i + 8 <= n; i += 8) { uint64_t w = reef_x_load_u64(h + i); memcpy(buf + i, &w, 8); }
  for (; i < n; i++) buf[i] = (char)reef_x_load_u8(h + i);
#endif
  buf[n] = 0;
  if (len) *len = (size_t)n;
  return buf;
}

/* reef_copy_out copies bytes into a new kernel block. */
static inline reef_handle reef_copy_out(const void *src, size_t n) {
#ifndef REEF_EXTISM_ONLY
  return reef_x_store(src, (uint32_t)n);
#else
  reef_handle h = reef_x_alloc(n);
  const char *s = (const char *)src;
  uint64_t i = 0;
  for (; i + 8 <= n; i += 8) { uint64_t w; memcpy(&w, s + i, 8); reef_x_store_u64(h + i, w); }
  for (; i < n; i++) reef_x_store_u8(h + i, (uint8_t)s[i]);
  return h;
#endif
}

/* reef_input returns the call's input in a malloc'd, NUL-terminated buffer. */
static inline char *reef_input(size_t *len) {
  uint64_t n = reef_x_input_length();
  char *buf = (char *)malloc(n + 1);
  if (!buf) return NULL;
#ifndef REEF_EXTISM_ONLY
  reef_x_input_read(buf, (uint32_t)n);
#else
  uint64_t i = 0;
  for (; i + 8 <= n; i += 8) { uint64_t w = reef_x_input_load_u64(i); memcpy(buf + i, &w, 8); }
  for (; i < n; i++) buf[i] = (char)reef_x_input_load_u8(i);
#endif
  buf[n] = 0;
  if (len) *len = (size_t)n;
  return buf;
}

/* reef_output sets the call's output. */
static inline void reef_output(const void *data, size_t n) {
#ifndef REEF_EXTISM_ONLY
  reef_x_output_write(data, (uint32_t)n);
#else
  reef_handle h = reef_copy_out(data, n);
  reef_x_output_set(h, n);
#endif
}

static inline void reef_output_str(const char *s) { reef_output(s, strlen(s)); }

/* reef_error sets the call's error message; return non-zero after it. */
static inline void reef_error(const char *msg) {
#ifndef REEF_EXTISM_ONLY
  reef_x_error_write(msg, (uint32_t)strlen(msg));
#else
  reef_x_error_set(reef_copy_out(msg, strlen(msg)));
#endif
}

/* reef_config returns a malloc'd config value, or NULL if unset. */
static inline char *reef_config(const char *key) {
  reef_handle k = reef_copy_out(key, strlen(key));
  reef_handle v = reef_x_config_get(k);
  reef_x_free(k);
  if (!v) return NULL;
  return reef_copy_in(v, NULL);
}

/* reef_var_get / reef_var_set: Extism vars (per skill version). */
static inline char *reef_var_get(const char *key, size_t *len) {
  reef_handle k = reef_copy_out(key, strlen(key));
  reef_handle v = reef_x_var_get(k);
  if (!v) return NULL;
  return reef_copy_in(v, len);
}
static inline void reef_var_set(const char *key, const void *val, size_t n) {
  reef_handle k = reef_copy_out(key, strlen(key));
  reef_x_var_set(k, val ? reef_copy_out(val, n) : 0);
}

/* Logging. */
static inline void reef_log_info(const char *msg) { reef_x_log_info(reef_copy_out(msg, strlen(msg))); }
static inline void reef_log_warn(const char *msg) { reef_x_log_warn(reef_copy_out(msg, strlen(msg))); }
static inline void reef_log_error(const char *msg) { reef_x_log_error(reef_copy_out(msg, strlen(msg))); }

/* Capability calls: (req, data) -> result; result < 0 is an error document.
 * reef_call runs one and returns 0 on success with out and out_len set to a
 * malloc'd response, or -1 with *out set to the malloc'd JSON error
 * document ({"code":"denied",...}). */
typedef int64_t (*reef_capfn)(reef_handle, reef_handle);
static inline int reef_call(reef_capfn fn, const char *req_json, const void *data, size_t data_len, char **out, size_t *out_len) {
  reef_handle rq = reef_copy_out(req_json, strlen(req_json));
  reef_handle d = data ? reef_copy_out(data, data_len) : 0;
  int64_t r = fn(rq, d);
  if (r < 0) { *out = reef_copy_in((reef_handle)(-r), out_len); return -1; }
  if (r == 0) { *out = (char *)calloc(1, 1); if (out_len) *out_len = 0; return 0; }
  *out = reef_copy_in((reef_handle)r, out_len);
  return 0;
}

#define REEF_CAPABILITY(name) REEF_IMPORT_USER(#name) extern int64_t name(reef_handle, reef_handle);

#endif /* REEF_H */
