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

/* ------------------------------------------------------------------ errors
 *
 * Capability wrappers return 0 on success or a negative REEF_E* code, and
 * fill a reef_err (may be NULL) with the host's error document. A denial
 * is REEF_EDENIED: "capability not granted". Free with reef_err_free. */
#define REEF_OK 0
#define REEF_EDENIED -1      /* "denied": capability or value not granted */
#define REEF_ENOTFOUND -2    /* "not_found" */
#define REEF_EINVALID -3     /* "invalid": malformed request */
#define REEF_EEXISTS -4      /* "exists" */
#define REEF_ELIMIT -5       /* "limit": size, quota, rate */
#define REEF_ETIMEOUT -6     /* "timeout" */
#define REEF_EIO -7          /* "io" */
#define REEF_EUNAVAILABLE -8 /* "unavailable" */
#define REEF_ECONFLICT -9    /* "conflict" */
#define REEF_EOTHER -10      /* an unknown code, or an unreadable response */
#define REEF_ENOMEM -11      /* the guest ran out of memory */

typedef struct reef_err {
  int code;      /* REEF_E*, 0 when no error */
  char name[24]; /* the document's code string: "denied", "not_found", … */
  char *message; /* malloc'd; "capability not granted: …" for a denial, "<code>: …" otherwise */
  char *doc;     /* malloc'd JSON error document as the host sent it */
} reef_err;

static inline void reef_err_free(reef_err *e) {
  if (!e) return;
  free(e->message);
  free(e->doc);
  memset(e, 0, sizeof *e);
}

/* ------------------------------------------------------------------ JSON
 *
 * A small JSON reader: reef_json_parse validates a whole document once;
 * the accessors then walk it without allocating (strings are unescaped
 * into malloc'd copies). Depth is bounded by REEF_JSON_MAX_DEPTH. */
#ifndef REEF_JSON_MAX_DEPTH
#define REEF_JSON_MAX_DEPTH 128
#endif

enum { REEF_JSON_INVALID, REEF_JSON_NULL, REEF_JSON_FALSE, REEF_JSON_TRUE, REEF_JSON_NUMBER, REEF_JSON_STRING, REEF_JSON_ARRAY, REEF_JSON_OBJECT };

/* reef_json is one value inside a validated document. */
typedef struct reef_json {
  const char *p; /* first byte of the value */
  const char *end; /* end of the document */
} reef_json;

static inline const char *reef_json__ws(const char *p, const char *e) {
  while (p < e && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
  return p;
}

static inline int reef_json__hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

static const char *reef_json__errpos;
#define REEF__FAIL(m) do { if (err) { *err = (m); reef_json__errpos = p; } return NULL; } while (0)

/* reef_json__skip validates (when err != NULL) or skips one value starting
 * at p; returns the byte after it, or NULL. */
static inline const char *reef_json__skip(const char *p, const char *e, int depth, const char **err) {
  if (depth > REEF_JSON_MAX_DEPTH) REEF__FAIL("nested too deeply");
  if (p >= e) REEF__FAIL("unexpected end of input");
  switch (*p) {
  case '{': case '[': {
    char close = *p == '{' ? '}' : ']';
    int obj = *p == '{';
    p = reef_json__ws(p + 1, e);
    if (p < e && *p == close) return p + 1;
    for (;;) {
      if (obj) {
        if (p >= e || *p != '"') REEF__FAIL("expected a string key");
        p = reef_json__skip(p, e, depth + 1, err);
        if (!p) return NULL;
        p = reef_json__ws(p, e);
        if (p >= e || *p != ':') REEF__FAIL("expected ':' after a key");
        p = reef_json__ws(p + 1, e);
      }
      p = reef_json__skip(p, e, depth + 1, err);
      if (!p) return NULL;
      p = reef_json__ws(p, e);
      if (p < e && *p == ',') { p = reef_json__ws(p + 1, e); continue; }
      if (p < e && *p == close) return p + 1;
      REEF__FAIL(obj ? "expected ',' or '}'" : "expected ',' or ']'");
    }
  }
  case '"':
    for (p++; p < e; p++) {
      unsigned char c = (unsigned char)*p;
      if (c == '"') return p + 1;
      if (c < 0x20) REEF__FAIL("control character in a string");
      if (c == '\\') {
        p++;
        if (p >= e) break;
        if (*p == 'u') {
          if (e - p < 5 || reef_json__hex(p[1]) < 0 || reef_json__hex(p[2]) < 0 || reef_json__hex(p[3]) < 0 || reef_json__hex(p[4]) < 0) {
            REEF__FAIL("invalid \\u escape");
          }
          p += 4;
        } else if (!strchr("\"\\/bfnrt", *p) || *p == 0) {
          REEF__FAIL("invalid escape");
        }
      }
    }
    REEF__FAIL("unterminated string");
  case 't': if (e - p >= 4 && !memcmp(p, "true", 4)) return p + 4; break;
  case 'f': if (e - p >= 5 && !memcmp(p, "false", 5)) return p + 5; break;
  case 'n': if (e - p >= 4 && !memcmp(p, "null", 4)) return p + 4; break;
  default:
    if (*p == '-' || (*p >= '0' && *p <= '9')) {
      if (*p == '-') p++;
      if (p < e && *p == '0') p++;
      else { const char *d = p; while (p < e && *p >= '0' && *p <= '9') p++; if (p == d) REEF__FAIL("invalid number"); }
      if (p < e && *p == '.') { const char *d = ++p; while (p < e && *p >= '0' && *p <= '9') p++; if (p == d) REEF__FAIL("invalid number"); }
      if (p < e && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < e && (*p == '+' || *p == '-')) p++;
        const char *d = p; while (p < e && *p >= '0' && *p <= '9') p++;
        if (p == d) REEF__FAIL("invalid number");
      }
      return p;
    }
  }
  REEF__FAIL("unexpected character");
}

/* reef_json_parse validates s[0:n] as one JSON document. On success it
 * sets *root and returns 0; otherwise it returns -1 and, when msg is not
 * NULL, writes "invalid JSON at byte N: reason" into msg[0:msglen]. */
static inline int reef_json_parse(const char *s, size_t n, reef_json *root, char *msg, size_t msglen) {
  const char *e = s + n, *err = "unexpected character";
  const char *p = reef_json__ws(s, e);
  reef_json__errpos = p;
  const char *q = reef_json__skip(p, e, 0, &err);
  if (!q) p = reef_json__errpos;
  else { q = reef_json__ws(q, e); if (q != e) { err = "data after the JSON value"; p = q; q = NULL; } }
  if (!q) {
    if (msg && msglen) {
      char tmp[24]; int l = 0; size_t off = (size_t)(p - s);
      do { tmp[l++] = (char)('0' + off % 10); off /= 10; } while (off && l < 20);
      size_t o = 0;
      const char *pre = "invalid JSON at byte ";
      for (size_t i = 0; pre[i] && o + 1 < msglen; i++) msg[o++] = pre[i];
      while (l && o + 1 < msglen) msg[o++] = tmp[--l];
      if (o + 2 < msglen) { msg[o++] = ':'; msg[o++] = ' '; }
      for (size_t i = 0; err[i] && o + 1 < msglen; i++) msg[o++] = err[i];
      msg[o] = 0;
    }
    return -1;
  }
  root->p = p;
  root->end = e;
  return 0;
}

static inline int reef_json_type(reef_json v) {
  if (!v.p || v.p >= v.end) return REEF_JSON_INVALID;
  switch (*v.p) {
  case '{': return REEF_JSON_OBJECT;
  case '[': return REEF_JSON_ARRAY;
  case '"': return REEF_JSON_STRING;
  case 't': return REEF_JSON_TRUE;
  case 'f': return REEF_JSON_FALSE;
  case 'n': return REEF_JSON_NULL;
  }
  return REEF_JSON_NUMBER;
}

/* reef_json_get finds key in an object; returns 1 and sets *out if found. */
static inline int reef_json_get(reef_json obj, const char *key, reef_json *out) {
  if (reef_json_type(obj) != REEF_JSON_OBJECT) return 0;
  size_t kl = strlen(key);
  const char *p = reef_json__ws(obj.p + 1, obj.end);
  while (p && p < obj.end && *p == '"') {
    const char *ks = p + 1;
    const char *ke = reef_json__skip(p, obj.end, 0, NULL);
    if (!ke) return 0;
    int match = (size_t)(ke - 1 - ks) == kl && !memcmp(ks, key, kl);
    p = reef_json__ws(ke, obj.end);
    p = reef_json__ws(p + 1, obj.end); /* ':' */
    if (match) { out->p = p; out->end = obj.end; return 1; }
    p = reef_json__skip(p, obj.end, 0, NULL);
    if (!p) return 0;
    p = reef_json__ws(p, obj.end);
    if (p < obj.end && *p == ',') p = reef_json__ws(p + 1, obj.end);
  }
  return 0;
}

/* reef_json_len is the number of elements of an array (or members of an
 * object). */
static inline size_t reef_json_len(reef_json v) {
  int t = reef_json_type(v);
  if (t != REEF_JSON_ARRAY && t != REEF_JSON_OBJECT) return 0;
  size_t n = 0;
  const char *p = reef_json__ws(v.p + 1, v.end);
  while (p && p < v.end && *p != ']' && *p != '}') {
    if (t == REEF_JSON_OBJECT) { p = reef_json__skip(p, v.end, 0, NULL); if (!p) break; p = reef_json__ws(reef_json__ws(p, v.end) + 1, v.end); }
    p = reef_json__skip(p, v.end, 0, NULL);
    if (!p) break;
    n++;
    p = reef_json__ws(p, v.end);
    if (p < v.end && *p == ',') p = reef_json__ws(p + 1, v.end);
  }
  return n;
}

/* reef_json_at returns element i of an array. */
static inline int reef_json_at(reef_json arr, size_t i, reef_json *out) {
  if (reef_json_type(arr) != REEF_JSON_ARRAY) return 0;
  const char *p = reef_json__ws(arr.p + 1, arr.end);
  for (size_t k = 0; p && p < arr.end && *p != ']'; k++) {
    if (k == i) { out->p = p; out->end = arr.end; return 1; }
    p = reef_json__skip(p, arr.end, 0, NULL);
    if (!p) return 0;
    p = reef_json__ws(p, arr.end);
    if (p < arr.end && *p == ',') p = reef_json__ws(p + 1, arr.end);
  }
  return 0;
}

static inline size_t reef_json__utf8(char *o, uint32_t r) {
  if (r < 0x80) { o[0] = (char)r; return 1; }
  if (r < 0x800) { o[0] = (char)(0xC0 | (r >> 6)); o[1] = (char)(0x80 | (r & 0x3F)); return 2; }
  if (r < 0x10000) { o[0] = (char)(0xE0 | (r >> 12)); o[1] = (char)(0x80 | ((r >> 6) & 0x3F)); o[2] = (char)(0x80 | (r & 0x3F)); return 3; }
  o[0] = (char)(0xF0 | (r >> 18)); o[1] = (char)(0x80 | ((r >> 12) & 0x3F)); o[2] = (char)(0x80 | ((r >> 6) & 0x3F)); o[3] = (char)(0x80 | (r & 0x3F));
  return 4;
}

/* reef_json_string returns a malloc'd, NUL-terminated, unescaped copy of a
 * string value (NULL if v is not a string); *len (may be NULL) receives
 * its length. */
static inline char *reef_json_string(reef_json v, size_t *len) {
  if (reef_json_type(v) != REEF_JSON_STRING) return NULL;
  const char *e = reef_json__skip(v.p, v.end, 0, NULL);
  if (!e) return NULL;
  const char *p = v.p + 1;
  e--; /* closing quote */
  char *out = (char *)malloc((size_t)(e - p) + 1), *o = out;
  if (!out) return NULL;
  while (p < e) {
    if (*p != '\\') { *o++ = *p++; continue; }
    p++;
    switch (*p) {
    case 'b': *o++ = '\b'; p++; break;
    case 'f': *o++ = '\f'; p++; break;
    case 'n': *o++ = '\n'; p++; break;
    case 'r': *o++ = '\r'; p++; break;
    case 't': *o++ = '\t'; p++; break;
    case 'u': {
      uint32_t r = (uint32_t)(reef_json__hex(p[1]) << 12 | reef_json__hex(p[2]) << 8 | reef_json__hex(p[3]) << 4 | reef_json__hex(p[4]));
      p += 5;
      if (r >= 0xD800 && r < 0xDC00 && e - p >= 6 && p[0] == '\\' && p[1] == 'u') {
        uint32_t lo = (uint32_t)(reef_json__hex(p[2]) << 12 | reef_json__hex(p[3]) << 8 | reef_json__hex(p[4]) << 4 | reef_json__hex(p[5]));
        if (lo >= 0xDC00 && lo < 0xE000) { r = 0x10000 + ((r - 0xD800) << 10) + (lo - 0xDC00); p += 6; }
        else r = 0xFFFD;
      } else if (r >= 0xD800 && r < 0xE000) r = 0xFFFD;
      o += reef_json__utf8(o, r); /* never longer than the 6-byte escape */
      break;
    }
    default: *o++ = *p++; break;
    }
  }
  *o = 0;
  if (len) *len = (size_t)(o - out);
  return out;
}

/* reef_json_number returns a number value as a double (def otherwise). */
static inline double reef_json_number(reef_json v, double def) {
  if (reef_json_type(v) != REEF_JSON_NUMBER) return def;
  return strtod(v.p, NULL);
}

/* reef_json__int reads a validated JSON number as an integer: the fraction
 * is cut off (toward zero, as a C cast does), exponents are applied, and
 * values beyond int64 saturate. It links no float parser: strtod alone
 * is about 7 KiB of wasi-libc. */
static inline int64_t reef_json__int(const char *p, const char *e) {
  int neg = 0;
  uint64_t m = 0;
  int64_t x = 0; /* decimal exponent applied to m */
  if (p < e && *p == '-') { neg = 1; p++; }
  for (; p < e && *p >= '0' && *p <= '9'; p++) {
    if (m < 1000000000000000000ULL) m = m * 10 + (uint64_t)(*p - '0');
    else x++;
  }
  if (p < e && *p == '.')
    for (p++; p < e && *p >= '0' && *p <= '9'; p++)
      if (m < 1000000000000000000ULL) { m = m * 10 + (uint64_t)(*p - '0'); x--; }
  if (p < e && (*p == 'e' || *p == 'E')) {
    int eneg = 0;
    int64_t ev = 0;
    p++;
    if (p < e && (*p == '+' || *p == '-')) eneg = *p++ == '-';
    for (; p < e && *p >= '0' && *p <= '9'; p++)
      if (ev < 100000) ev = ev * 10 + (*p - '0');
    x += eneg ? -ev : ev;
  }
  for (; x < 0 && m; x++) m /= 10;
  for (; x > 0 && m; x--) {
    if (m > UINT64_MAX / 10) { m = UINT64_MAX; break; }
    m *= 10;
  }
  if (neg) return m >= (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)m;
  return m > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)m;
}

/* reef_json_int returns an integer value (def if not a number); see
 * reef_json__int. */
static inline int64_t reef_json_int(reef_json v, int64_t def) {
  if (reef_json_type(v) != REEF_JSON_NUMBER) return def;
  return reef_json__int(v.p, v.end);
}

static inline int reef_json_bool(reef_json v, int def) {
  int t = reef_json_type(v);
  return t == REEF_JSON_TRUE ? 1 : t == REEF_JSON_FALSE ? 0 : def;
}

/* Shortcuts: the member key of an object. */
static inline char *reef_json_get_string(reef_json obj, const char *key, size_t *len) {
  reef_json v;
  return reef_json_get(obj, key, &v) ? reef_json_string(v, len) : NULL;
}
static inline int64_t reef_json_get_int(reef_json obj, const char *key, int64_t def) {
  reef_json v;
  return reef_json_get(obj, key, &v) ? reef_json_int(v, def) : def;
}
static inline int reef_json_get_bool(reef_json obj, const char *key, int def) {
  reef_json v;
  return reef_json_get(obj, key, &v) ? reef_json_bool(v, def) : def;
}

/* ------------------------------------------------------------------ JSON writer */

typedef struct reef_buf {
  char *p;
  size_t len, cap;
  int oom;        /* set when an allocation failed; the content is then cut */
  int need_comma; /* internal: a value was written at the current level */
} reef_buf;

static inline void reef_buf_raw(reef_buf *b, const void *s, size_t n) {
  if (b->oom) return;
  if (b->len + n + 1 > b->cap) {
    size_t c = b->cap ? b->cap * 2 : 64;
    while (c < b->len + n + 1) c *= 2;
    char *np = (char *)realloc(b->p, c);
    if (!np) { b->oom = 1; return; }
    b->p = np;
    b->cap = c;
  }
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = 0;
}
static inline void reef_buf_free(reef_buf *b) { free(b->p); memset(b, 0, sizeof *b); }

static inline void reef_buf__sep(reef_buf *b) {
  if (b->need_comma) reef_buf_raw(b, ",", 1);
  b->need_comma = 1;
}

/* reef_jw_begin / reef_jw_end open and close an object ('{', '}') or an
 * array ('[', ']'); reef_jw_key writes "key": before the next value. */
static inline void reef_jw_begin(reef_buf *b, char open) { reef_buf__sep(b); reef_buf_raw(b, &open, 1); b->need_comma = 0; }
static inline void reef_jw_end(reef_buf *b, char close) { reef_buf_raw(b, &close, 1); b->need_comma = 1; }

static inline void reef_jw__quoted(reef_buf *b, const char *s, size_t n) {
  static const char hex[] = "0123456789abcdef";
  reef_buf_raw(b, "\"", 1);
  size_t start = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c >= 0x20 && c != '"' && c != '\\' && c != 0x7f) continue;
    reef_buf_raw(b, s + start, i - start);
    char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
    if (c == '"' || c == '\\') { esc[1] = (char)c; reef_buf_raw(b, esc, 2); }
    else if (c == '\n') reef_buf_raw(b, "\\n", 2);
    else if (c == '\r') reef_buf_raw(b, "\\r", 2);
    else if (c == '\t') reef_buf_raw(b, "\\t", 2);
    else reef_buf_raw(b, esc, 6);
    start = i + 1;
  }
  reef_buf_raw(b, s + start, n - start);
  reef_buf_raw(b, "\"", 1);
}

static inline void reef_jw_key(reef_buf *b, const char *k) { reef_buf__sep(b); reef_jw__quoted(b, k, strlen(k)); reef_buf_raw(b, ":", 1); b->need_comma = 0; }
static inline void reef_jw_strn(reef_buf *b, const char *s, size_t n) { reef_buf__sep(b); reef_jw__quoted(b, s, n); }
static inline void reef_jw_str(reef_buf *b, const char *s) { reef_jw_strn(b, s, strlen(s)); }
static inline void reef_jw_int(reef_buf *b, int64_t v) {
  char tmp[24]; int l = 0; uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
  do { tmp[l++] = (char)('0' + u % 10); u /= 10; } while (u);
  if (v < 0) tmp[l++] = '-';
  char out[24]; for (int i = 0; i < l; i++) out[i] = tmp[l - 1 - i];
  reef_buf__sep(b); reef_buf_raw(b, out, (size_t)l);
}
static inline void reef_jw_bool(reef_buf *b, int v) { reef_buf__sep(b); reef_buf_raw(b, v ? "true" : "false", v ? 4 : 5); }
static inline void reef_jw_null(reef_buf *b) { reef_buf__sep(b); reef_buf_raw(b, "null", 4); }
/* reef_jw_json writes an already encoded JSON value. */
static inline void reef_jw_json(reef_buf *b, const char *json, size_t n) { reef_buf__sep(b); reef_buf_raw(b, json, n); }

/* Member helpers; the _opt forms skip NULL/empty/zero values. */
static inline void reef_jw_kstr(reef_buf *b, const char *k, const char *v) { reef_jw_key(b, k); reef_jw_str(b, v ? v : ""); }
static inline void reef_jw_kstr_opt(reef_buf *b, const char *k, const char *v) { if (v && *v) reef_jw_kstr(b, k, v); }
static inline void reef_jw_kint_opt(reef_buf *b, const char *k, int64_t v) { if (v) { reef_jw_key(b, k); reef_jw_int(b, v); } }
static inline void reef_jw_kbool_opt(reef_buf *b, const char *k, int v) { if (v) { reef_jw_key(b, k); reef_jw_bool(b, 1); } }
static inline void reef_jw_kstrs(reef_buf *b, const char *k, const char *const *list) {
  reef_jw_key(b, k); reef_jw_begin(b, '[');
  for (; list && *list; list++) reef_jw_str(b, *list);
  reef_jw_end(b, ']');
}

/* reef_base64 appends src as standard padded base64. */
static inline void reef_base64(reef_buf *b, const void *src, size_t n) {
  static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const unsigned char *s = (const unsigned char *)src;
  char q[4];
  for (size_t i = 0; i < n; i += 3) {
    uint32_t v = (uint32_t)s[i] << 16 | (i + 1 < n ? (uint32_t)s[i + 1] << 8 : 0) | (i + 2 < n ? s[i + 2] : 0);
    q[0] = tbl[v >> 18]; q[1] = tbl[(v >> 12) & 63];
    q[2] = i + 1 < n ? tbl[(v >> 6) & 63] : '=';
    q[3] = i + 2 < n ? tbl[v & 63] : '=';
    reef_buf_raw(b, q, 4);
  }
}

/* ------------------------------------------------------------------ JSON input */

/* reef_input_json reads the input and validates it as JSON. On success it
 * returns 0, sets *root and *buf (free *buf when done with root). On
 * invalid JSON it sets the call's error to a message naming the byte
 * offset and returns 1, so an export can simply `return` it:
 *
 *   reef_json in; char *buf;
 *   int rc = reef_input_json(&in, &buf); if (rc) return rc;
 */
static inline int reef_input_json(reef_json *root, char **buf) {
  size_t n;
  char *in = reef_input(&n);
  if (!in) { reef_error("out of memory reading the input"); return 1; }
  char msg[96];
  if (reef_json_parse(in, n, root, msg, sizeof msg) != 0) {
    char full[128] = "invalid JSON input: ";
    strncat(full, msg, sizeof full - strlen(full) - 1);
    reef_error(full);
    free(in);
    return 1;
  }
  *buf = in;
  return 0;
}

/* reef_output_json sets the output to a reef_buf's content and frees it. */
static inline void reef_output_json(reef_buf *b) {
  reef_output(b->p ? b->p : "", b->len);
  reef_buf_free(b);
}

/* ------------------------------------------------------------------ capability calls */

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

/* REEF_CAPABILITY declares a raw capability import under its own name, for
 * use with reef_call (every current capability is wrapped below). */
#define REEF_CAPABILITY(name) REEF_IMPORT_USER(#name) extern int64_t name(reef_handle, reef_handle);

#define REEF__CAP(sym, imp) REEF_IMPORT_USER(imp) extern int64_t sym(reef_handle, reef_handle);
REEF__CAP(reef_x_fs_read, "reef_fs_read")
REEF__CAP(reef_x_fs_write, "reef_fs_write")
REEF__CAP(reef_x_fs_append, "reef_fs_append")
REEF__CAP(reef_x_fs_list, "reef_fs_list")
REEF__CAP(reef_x_fs_stat, "reef_fs_stat")
REEF__CAP(reef_x_fs_mkdir, "reef_fs_mkdir")
REEF__CAP(reef_x_fs_remove, "reef_fs_remove")
REEF__CAP(reef_x_fs_rename, "reef_fs_rename")
REEF__CAP(reef_x_fs_glob, "reef_fs_glob")
REEF__CAP(reef_x_http_fetch, "reef_http_fetch")
REEF__CAP(reef_x_browser_text, "reef_browser_text")
REEF__CAP(reef_x_browser_html, "reef_browser_html")
REEF__CAP(reef_x_browser_screenshot, "reef_browser_screenshot")
REEF__CAP(reef_x_browser_pdf, "reef_browser_pdf")
REEF__CAP(reef_x_browser_run, "reef_browser_run")
REEF__CAP(reef_x_mail_send, "reef_mail_send")
REEF__CAP(reef_x_mail_mailboxes, "reef_mail_mailboxes")
REEF__CAP(reef_x_mail_search, "reef_mail_search")
REEF__CAP(reef_x_mail_fetch, "reef_mail_fetch")
REEF__CAP(reef_x_mail_mark_seen, "reef_mail_mark_seen")
REEF__CAP(reef_x_mail_move, "reef_mail_move")
REEF__CAP(reef_x_kv_get, "reef_kv_get")
REEF__CAP(reef_x_kv_set, "reef_kv_set")
REEF__CAP(reef_x_kv_delete, "reef_kv_delete")
REEF__CAP(reef_x_kv_list, "reef_kv_list")
REEF__CAP(reef_x_kv_cas, "reef_kv_cas")

static inline int reef__code(const char *name) {
  static const char *const names[] = {"denied", "not_found", "invalid", "exists", "limit", "timeout", "io", "unavailable", "conflict"};
  for (int i = 0; i < 9; i++) if (!strcmp(name, names[i])) return -(i + 1);
  return REEF_EOTHER;
}

/* reef_invoke runs one capability with a JSON request (req_len bytes) and
 * an optional payload (data NULL = none). On success it returns 0 and, when
 * out is not NULL, a malloc'd NUL-terminated response in *out / *out_len
 * (freed otherwise). On failure it returns REEF_E* and fills err. */
static inline int reef_invoke(reef_capfn fn, const char *req, size_t req_len, const void *data, size_t data_len, char **out, size_t *out_len, reef_err *err) {
  if (err) memset(err, 0, sizeof *err);
  if (out) *out = NULL;
  if (out_len) *out_len = 0;
  reef_handle rq = reef_copy_out(req, req_len);
  reef_handle d = data ? reef_copy_out(data, data_len) : 0;
  int64_t r = fn(rq, d);
  reef_x_free(rq);
  if (d) reef_x_free(d);
  if (r < 0) {
    size_t n = 0;
    char *doc = reef_copy_in((reef_handle)(-r), &n);
    reef_x_free((reef_handle)(-r));
    int code = REEF_EOTHER;
    reef_json root;
    char *cname = NULL, *msg = NULL;
    if (doc && reef_json_parse(doc, n, &root, NULL, 0) == 0) {
      cname = reef_json_get_string(root, "code", NULL);
      msg = reef_json_get_string(root, "message", NULL);
    }
    if (cname) code = reef__code(cname);
    if (err) {
      err->code = code;
      if (cname) strncpy(err->name, cname, sizeof err->name - 1);
      /* "capability not granted: …" for a denial, "<code>: …" otherwise */
      const char *pre = code == REEF_EDENIED ? "capability not granted" : (cname ? cname : "io");
      const char *m = msg ? msg : (doc ? doc : "unreadable error document");
      err->message = (char *)malloc(strlen(pre) + 2 + strlen(m) + 1);
      if (err->message) { strcpy(err->message, pre); strcat(err->message, ": "); strcat(err->message, m); }
      err->doc = doc;
      doc = NULL;
    }
    free(cname);
    free(msg);
    free(doc);
    return code;
  }
  if (!out) { if (r > 0) reef_x_free((reef_handle)r); return REEF_OK; }
  if (r == 0) { *out = (char *)calloc(1, 1); }
  else { *out = reef_copy_in((reef_handle)r, out_len); reef_x_free((reef_handle)r); }
  if (!*out) {
    if (err) { err->code = REEF_ENOMEM; strcpy(err->name, "nomem"); }
    return REEF_ENOMEM;
  }
  return REEF_OK;
}

/* reef__req runs fn with the request in b (freed here). */
static inline int reef__req(reef_capfn fn, reef_buf *b, const void *data, size_t data_len, char **out, size_t *out_len, reef_err *err) {
  if (b->oom) {
    reef_buf_free(b);
    if (err) { memset(err, 0, sizeof *err); err->code = REEF_ENOMEM; strcpy(err->name, "nomem"); }
    return REEF_ENOMEM;
  }
  int rc = reef_invoke(fn, b->p, b->len, data, data_len, out, out_len, err);
  reef_buf_free(b);
  return rc;
}

static inline int reef__path(reef_capfn fn, const char *k, const char *path, const char *flag, int on, const void *data, size_t data_len, char **out, size_t *out_len, reef_err *err) {
  reef_buf b = {0};
  reef_jw_begin(&b, '{');
  reef_jw_kstr(&b, k, path);
  if (flag) reef_jw_kbool_opt(&b, flag, on);
  reef_jw_end(&b, '}');
  return reef__req(fn, &b, data, data_len, out, out_len, err);
}

/* ---- fs: guest paths such as "/data/notes.txt" (see hostfuncs/fs). */

/* reef_fs_read: the whole file into a malloc'd buffer. */
static inline int reef_fs_read(const char *path, char **data, size_t *len, reef_err *err) {
  return reef__path(reef_x_fs_read, "path", path, NULL, 0, NULL, 0, data, len, err);
}
/* reef_fs_write: replace the file atomically; create_dirs makes parents. */
static inline int reef_fs_write(const char *path, const void *data, size_t len, int create_dirs, reef_err *err) {
  return reef__path(reef_x_fs_write, "path", path, "create_dirs", create_dirs, data ? data : "", len, NULL, NULL, err);
}
static inline int reef_fs_append(const char *path, const void *data, size_t len, reef_err *err) {
  return reef__path(reef_x_fs_append, "path", path, NULL, 0, data ? data : "", len, NULL, NULL, err);
}
/* reef_fs_list: *json receives a JSON array of
 * {"name","size","dir","type","mode","mtime"}; read it with reef_json. */
static inline int reef_fs_list(const char *path, char **json, size_t *len, reef_err *err) {
  return reef__path(reef_x_fs_list, "path", path, NULL, 0, NULL, 0, json, len, err);
}
/* reef_fs_stat: *json receives {"name","path","size","dir","type","mode","mtime"}. */
static inline int reef_fs_stat(const char *path, char **json, size_t *len, reef_err *err) {
  return reef__path(reef_x_fs_stat, "path", path, NULL, 0, NULL, 0, json, len, err);
}
static inline int reef_fs_mkdir(const char *path, int parents, reef_err *err) {
  return reef__path(reef_x_fs_mkdir, "path", path, "parents", parents, NULL, 0, NULL, NULL, err);
}
static inline int reef_fs_remove(const char *path, int recursive, reef_err *err) {
  return reef__path(reef_x_fs_remove, "path", path, "recursive", recursive, NULL, 0, NULL, NULL, err);
}
static inline int reef_fs_rename(const char *from, const char *to, reef_err *err) {
  reef_buf b = {0};
  reef_jw_begin(&b, '{'); reef_jw_kstr(&b, "from", from); reef_jw_kstr(&b, "to", to); reef_jw_end(&b, '}');
  return reef__req(reef_x_fs_rename, &b, NULL, 0, NULL, NULL, err);
}
/* reef_fs_glob: *json receives a JSON array of matching guest paths. */
static inline int reef_fs_glob(const char *pattern, char **json, size_t *len, reef_err *err) {
  return reef__path(reef_x_fs_glob, "pattern", pattern, NULL, 0, NULL, 0, json, len, err);
}

/* ---- http */

typedef struct reef_http_request {
  const char *method;       /* NULL = GET */
  const char *url;
  const char *headers_json; /* NULL or a JSON object {"Accept":"…"}; values may use {{secret:NAME}} */
  const void *body;         /* NULL = no body */
  size_t body_len;
  int64_t timeout_ms;       /* 0 = host's cap; may only lower it */
  int64_t max_bytes;        /* 0 = host's cap; may only lower it */
  int no_redirects;         /* 1: return a 3xx as is */
} reef_http_request;

typedef struct reef_http_response {
  int status;
  char *url;          /* final URL, malloc'd */
  char *headers_json; /* malloc'd JSON object of canonical names to values */
  const char *body;   /* points into raw */
  size_t body_len;
  char *raw;          /* the whole response block */
} reef_http_response;

static inline void reef_http_response_free(reef_http_response *r) {
  if (!r) return;
  free(r->url);
  free(r->headers_json);
  free(r->raw);
  memset(r, 0, sizeof *r);
}

/* reef_http_fetch makes one request through the host. Any HTTP status is
 * a success; check resp->status. */
static inline int reef_http_fetch(const reef_http_request *rq, reef_http_response *resp, reef_err *err) {
  memset(resp, 0, sizeof *resp);
  reef_buf b = {0};
  reef_jw_begin(&b, '{');
  reef_jw_kstr_opt(&b, "method", rq->method);
  reef_jw_kstr(&b, "url", rq->url);
  if (rq->headers_json && *rq->headers_json) { reef_jw_key(&b, "headers"); reef_jw_json(&b, rq->headers_json, strlen(rq->headers_json)); }
  reef_jw_kint_opt(&b, "timeout_ms", rq->timeout_ms);
  reef_jw_kint_opt(&b, "max_bytes", rq->max_bytes);
  if (rq->no_redirects) { reef_jw_key(&b, "follow_redirects"); reef_jw_bool(&b, 0); }
  reef_jw_end(&b, '}');
  char *raw = NULL;
  size_t n = 0;
  int rc = reef__req(reef_x_http_fetch, &b, rq->body, rq->body_len, &raw, &n, err);
  if (rc) return rc;
  uint32_t hl = 0;
  reef_json head;
  if (n < 4 || (memcpy(&hl, raw, 4), hl > n - 4) || reef_json_parse(raw + 4, hl, &head, NULL, 0) != 0) {
    free(raw);
    if (err) { memset(err, 0, sizeof *err); err->code = REEF_EOTHER; strcpy(err->name, "io"); }
    return REEF_EOTHER;
  }
  resp->status = (int)reef_json_get_int(head, "status", 0);
  resp->url = reef_json_get_string(head, "url", NULL);
  reef_json h;
  if (reef_json_get(head, "headers", &h)) {
    const char *he = reef_json__skip(h.p, raw + 4 + hl, 0, NULL);
    if (he) {
      resp->headers_json = (char *)malloc((size_t)(he - h.p) + 1);
      if (resp->headers_json) { memcpy(resp->headers_json, h.p, (size_t)(he - h.p)); resp->headers_json[he - h.p] = 0; }
    }
  }
  resp->raw = raw;
  resp->body = raw + 4 + hl;
  resp->body_len = n - 4 - hl;
  return REEF_OK;
}

/* reef_http_header returns a malloc'd response header value or NULL. */
static inline char *reef_http_header(const reef_http_response *r, const char *name) {
  reef_json h;
  if (!r->headers_json || reef_json_parse(r->headers_json, strlen(r->headers_json), &h, NULL, 0) != 0) return NULL;
  return reef_json_get_string(h, name, NULL);
}

/* ---- browser */

static inline int reef__url(reef_capfn fn, const char *url, const char *selector, char **out, size_t *len, reef_err *err) {
  reef_buf b = {0};
  reef_jw_begin(&b, '{'); reef_jw_kstr(&b, "url", url); reef_jw_kstr_opt(&b, "selector", selector); reef_jw_end(&b, '}');
  return reef__req(fn, &b, NULL, 0, out, len, err);
}
/* reef_browser_text: the visible text of a page. */
static inline int reef_browser_text(const char *url, char **text, size_t *len, reef_err *err) {
  return reef__url(reef_x_browser_text, url, NULL, text, len, err);
}
/* reef_browser_html: the page HTML, or the element matching selector (NULL = document). */
static inline int reef_browser_html(const char *url, const char *selector, char **html, size_t *len, reef_err *err) {
  return reef__url(reef_x_browser_html, url, selector, html, len, err);
}
typedef struct reef_screenshot_opts {
  const char *url;
  const char *selector; /* NULL: the viewport (or the page with full_page) */
  int full_page;
  int width, height;    /* 0 = 1280x800 */
} reef_screenshot_opts;
/* reef_browser_screenshot: a PNG. */
static inline int reef_browser_screenshot(const reef_screenshot_opts *o, char **png, size_t *len, reef_err *err) {
  reef_buf b = {0};
  reef_jw_begin(&b, '{');
  reef_jw_kstr(&b, "url", o->url);
  reef_jw_kstr_opt(&b, "selector", o->selector);
  reef_jw_kbool_opt(&b, "full_page", o->full_page);
  reef_jw_kint_opt(&b, "width", o->width);
  reef_jw_kint_opt(&b, "height", o->height);
  reef_jw_end(&b, '}');
  return reef__req(reef_x_browser_screenshot, &b, NULL, 0, png, len, err);
}
/* reef_browser_pdf: the page printed to PDF. */
static inline int reef_browser_pdf(const char *url, char **pdf, size_t *len, reef_err *err) {
  return reef__url(reef_x_browser_pdf, url, NULL, pdf, len, err);
}
/* reef_browser_run: actions_json is a JSON array such as
 * [{"navigate":"https://…"},{"text":"h1"}]; *json receives
 * {"results":[…],"completed":N}. url may be NULL. */
static inline int reef_browser_run(const char *url, const char *actions_json, char **json, size_t *len, reef_err *err) {
  reef_buf b = {0};
  reef_jw_begin(&b, '{');
  reef_jw_kstr_opt(&b, "url", url);
  reef_jw_key(&b, "actions");
  reef_jw_json(&b, actions_json, strlen(actions_json));
  reef_jw_end(&b, '}');
  return reef__req(reef_x_browser_run, &b, NULL, 0, json, len, err);
}

/* ---- mail */

typedef struct reef_attachment {
  const char *name;
  const char *type; /* NULL = application/octet-stream */
  const void *data;
  size_t len;
} reef_attachment;

typedef struct reef_mail {
  const char *account;     /* NULL = the only account granted */
  const char *const *to;   /* NULL-terminated lists of bare addresses */
  const char *const *cc;
  const char *const *bcc;
  const char *reply_to;
  const char *subject;
  const char *text;        /* at least one of text / html */
  const char *html;
  const reef_attachment *attachments;
  size_t n_attachments;
} reef_mail;

/* reef_mail_send sends a message; *message_id (may be NULL) receives its
 * malloc'd Message-ID. */
static inline int reef_mail_send(const reef_mail *m, char **message_id, reef_err *err) {
  reef_buf b = {0};
  reef_jw_begin(&b, '{');
  reef_jw_kstr_opt(&b, "account", m->account);
  reef_jw_kstrs(&b, "to", m->to);
  if (m->cc && *m->cc) reef_jw_kstrs(&b, "cc", m->cc);
  if (m->bcc && *m->bcc) reef_jw_kstrs(&b, "bcc", m->bcc);
  reef_jw_kstr_opt(&b, "reply_to", m->reply_to);
  reef_jw_kstr(&b, "subject", m->subject);
  reef_jw_kstr_opt(&b, "text", m->text);
  reef_jw_kstr_opt(&b, "html", m->html);
  if (m->n_attachments) {
    reef_jw_key(&b, "attachments");
    reef_jw_begin(&b, '[');
    for (size_t i = 0; i < m->n_attachments; i++) {
      const reef_attachment *a = &m->attachments[i];
      reef_jw_begin(&b, '{');
      reef_jw_kstr(&b, "name", a->name);
      reef_jw_kstr_opt(&b, "type", a->type);
      reef_jw_key(&b, "content_base64");
      reef_buf__sep(&b);
      reef_buf_raw(&b, "\"", 1); reef_base64(&b, a->data, a->len); reef_buf_raw(&b, "\"", 1);
      reef_jw_end(&b, '}');
    }
    reef_jw_end(&b, ']');
  }
  reef_jw_end(&b, '}');
  char *resp = NULL;
  size_t n = 0;
  int rc = reef__req(reef_x_mail_send, &b, NULL, 0, &resp, &n, err);
  if (rc) return rc;
  if (message_id) {
    reef_json root;
    *message_id = reef_json_parse(resp, n, &root, NULL, 0) == 0 ? reef_json_get_string(root, "message_id", NULL) : NULL;
  }
  free(resp);
  return REEF_OK;
}

/* reef_mail_mailboxes: *json receives {"mailboxes":[{"name","messages","unseen"}]}. */
static inline int reef_mail_mailboxes(const char *account, char **json, size_t *len, reef_err *err) {
  reef_buf b = {0};
  reef_jw_begin(&b, '{'); reef_jw_kstr_opt(&b, "account", account); reef_jw_end(&b, '}');
  return reef__req(reef_x_mail_mailboxes, &b, NULL, 0, json, len, err);
}

typedef struct reef_mail_query {
  const char *account;
  const char *mailbox;
  int unseen;
  const char *since;   /* "2026-01-02" or RFC 3339 */
  const char *from;
  const char *subject;
  int limit;           /* 0 = 50 */
  int preview;
} reef_mail_query;

/* reef_mail_search: *json receives {"mailbox","total","messages":[…]}. */
static inline int reef_mail_search(const reef_mail_query *q, char **json, size_t *len, reef_err *err) {
  reef_buf b = {0};
  reef_jw_begin(&b, '{');
  reef_jw_kstr_opt(&b, "account", q->account);
  reef_jw_kstr(&b, "mailbox", q->mailbox);
  reef_jw_kbool_opt(&b, "unseen", q->unseen);
  reef_jw_kstr_opt(&b, "since", q->since);
  reef_jw_kstr_opt(&b, "from", q->from);
  reef_jw_kstr_opt(&b, "subject", q->subject);
  reef_jw_kint_opt(&b, "limit", q->limit);
  reef_jw_kbool_opt(&b, "preview", q->preview);
  reef_jw_end(&b, '}');
  return reef__req(reef_x_mail_search, &b, NULL, 0, json, len, err);
}

/* reef_mail_fetch: *json receives the message document (see hostfuncs/mail/README.md). */
static inline int reef_mail_fetch(const char *account, const char *mailbox, uint32_t uid, int body, int attachments, char **json, size_t *len, reef_err *err) {
  reef_buf b = {0};
  reef_jw_begin(&b, '{');
  reef_jw_kstr_opt(&b, "account", account);
  reef_jw_kstr(&b, "mailbox", mailbox);
  reef_jw_key(&b, "uid"); reef_jw_int(&b, uid);
  reef_jw_key(&b, "body"); reef_jw_bool(&b, body);
  reef_jw_key(&b, "attachments"); reef_jw_bool(&b, attachments);
  reef_jw_end(&b, '}');
  return reef__req(reef_x_mail_fetch, &b, NULL, 0, json, len, err);
}

static inline int reef__uids(reef_capfn fn, const char *account, const char *mailbox, const uint32_t *uids, size_t n, const char *to, char **json, size_t *len, reef_err *err) {
  reef_buf b = {0};
  reef_jw_begin(&b, '{');
  reef_jw_kstr_opt(&b, "account", account);
  reef_jw_kstr(&b, "mailbox", mailbox);
  reef_jw_key(&b, "uids"); reef_jw_begin(&b, '[');
  for (size_t i = 0; i < n; i++) reef_jw_int(&b, uids[i]);
  reef_jw_end(&b, ']');
  if (to) reef_jw_kstr(&b, "to", to);
  reef_jw_end(&b, '}');
  return reef__req(fn, &b, NULL, 0, json, len, err);
}
/* reef_mail_mark_seen: *json (may be NULL) receives {"uids":[…]}. */
static inline int reef_mail_mark_seen(const char *account, const char *mailbox, const uint32_t *uids, size_t n, char **json, size_t *len, reef_err *err) {
  return reef__uids(reef_x_mail_mark_seen, account, mailbox, uids, n, NULL, json, len, err);
}
/* reef_mail_move: *json (may be NULL) receives {"moved":[…]}. */
static inline int reef_mail_move(const char *account, const char *mailbox, const uint32_t *uids, size_t n, const char *to, char **json, size_t *len, reef_err *err) {
  return reef__uids(reef_x_mail_move, account, mailbox, uids, n, to, json, len, err);
}

/* ---- kv */

static inline int reef__key(reef_capfn fn, const char *key, const void *data, size_t data_len, char **out, size_t *len, reef_err *err) {
  reef_buf b = {0};
  reef_jw_begin(&b, '{'); reef_jw_kstr(&b, "key", key); reef_jw_end(&b, '}');
  return reef__req(fn, &b, data, data_len, out, len, err);
}
/* reef_kv_get: REEF_ENOTFOUND when the key does not exist. */
static inline int reef_kv_get(const char *key, char **value, size_t *len, reef_err *err) {
  return reef__key(reef_x_kv_get, key, NULL, 0, value, len, err);
}
static inline int reef_kv_set(const char *key, const void *value, size_t len, reef_err *err) {
  return reef__key(reef_x_kv_set, key, value ? value : "", len, NULL, NULL, err);
}
/* reef_kv_delete: *deleted (may be NULL) is 1 if the key existed. */
static inline int reef_kv_delete(const char *key, int *deleted, reef_err *err) {
  char *resp = NULL;
  size_t n = 0;
  int rc = reef__key(reef_x_kv_delete, key, NULL, 0, &resp, &n, err);
  if (rc) return rc;
  reef_json root;
  if (deleted) *deleted = reef_json_parse(resp, n, &root, NULL, 0) == 0 ? reef_json_get_bool(root, "deleted", 0) : 0;
  free(resp);
  return REEF_OK;
}
/* reef_kv_list: *json receives {"keys":[…],"more":bool}. prefix/after may be NULL. */
static inline int reef_kv_list(const char *prefix, const char *after, int limit, char **json, size_t *len, reef_err *err) {
  reef_buf b = {0};
  reef_jw_begin(&b, '{');
  reef_jw_kstr_opt(&b, "prefix", prefix);
  reef_jw_kstr_opt(&b, "after", after);
  reef_jw_kint_opt(&b, "limit", limit);
  reef_jw_end(&b, '}');
  return reef__req(reef_x_kv_list, &b, NULL, 0, json, len, err);
}
/* reef_kv_cas: compare-and-swap. old_present=0: key must not exist;
 * old_present=1: key must hold old[0:old_len]. del=1 deletes on a match
 * (value ignored). *swapped (may be NULL) tells whether it happened; a
 * failed comparison is not an error. */
static inline int reef_kv_cas(const char *key, int old_present, const void *old, size_t old_len, const void *value, size_t len, int del, int *swapped, reef_err *err) {
  reef_buf b = {0};
  reef_jw_begin(&b, '{');
  reef_jw_kstr(&b, "key", key);
  reef_jw_key(&b, "old_present"); reef_jw_bool(&b, old_present);
  if (old_present && old_len) {
    reef_jw_key(&b, "old"); reef_buf__sep(&b);
    reef_buf_raw(&b, "\"", 1); reef_base64(&b, old, old_len); reef_buf_raw(&b, "\"", 1);
  }
  reef_jw_kbool_opt(&b, "delete", del);
  reef_jw_end(&b, '}');
  char *resp = NULL;
  size_t n = 0;
  int rc = reef__req(reef_x_kv_cas, &b, del ? "" : (value ? value : ""), del ? 0 : len, &resp, &n, err);
  if (rc) return rc;
  reef_json root;
  if (swapped) *swapped = reef_json_parse(resp, n, &root, NULL, 0) == 0 ? reef_json_get_bool(root, "swapped", 0) : 0;
  free(resp);
  return REEF_OK;
}

#endif /* REEF_H */
