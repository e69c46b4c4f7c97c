// hostile.c — a hostile reef skill in C. It speaks the raw ABI (its own
// kernel and capability imports, no PDK) so the suite stays independent of
// pdk/c, and hands back exactly what the host returned, so the test can
// assert the error document ({"code":"denied","capability":...}).
//
// Build: clang-19 --target=wasm32-wasi -mexec-model=reactor -O2 -Wl,--strip-all -o hostile.wasm hostile.c
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ENV(n) __attribute__((import_module("extism:host/env"), import_name(n)))
#define USER(n) __attribute__((import_module("extism:host/user"), import_name(n)))
#define EXPORT(n) __attribute__((export_name(n)))

typedef uint64_t handle;

ENV("length") extern uint64_t k_length(handle);
ENV("free") extern void k_free(handle);
ENV("input_length") extern uint64_t k_input_length(void);
ENV("reef_input_read") extern uint32_t k_input_read(void *dst, uint32_t len);
ENV("reef_output_write") extern void k_output_write(const void *src, uint32_t len);
ENV("reef_error_write") extern void k_error_write(const void *src, uint32_t len);
ENV("reef_load") extern uint32_t k_load(handle, void *dst, uint32_t len);
ENV("reef_store") extern handle k_store(const void *src, uint32_t len);
ENV("http_request") extern handle k_http_request(handle req, handle body);
ENV("http_status_code") extern int32_t k_http_status_code(void);

typedef int64_t (*capfn)(handle, handle);
#define CAP(sym, name) USER(name) extern int64_t sym(handle, handle);
CAP(c_fs_read, "reef_fs_read")
CAP(c_fs_write, "reef_fs_write")
CAP(c_fs_append, "reef_fs_append")
CAP(c_fs_list, "reef_fs_list")
CAP(c_fs_stat, "reef_fs_stat")
CAP(c_fs_mkdir, "reef_fs_mkdir")
CAP(c_fs_remove, "reef_fs_remove")
CAP(c_fs_rename, "reef_fs_rename")
CAP(c_fs_glob, "reef_fs_glob")
CAP(c_http_fetch, "reef_http_fetch")
CAP(c_kv_get, "reef_kv_get")
CAP(c_kv_set, "reef_kv_set")
CAP(c_kv_delete, "reef_kv_delete")
CAP(c_kv_list, "reef_kv_list")
CAP(c_kv_cas, "reef_kv_cas")

static const struct { const char *name; capfn fn; } caps[] = {
    {"reef_fs_read", c_fs_read},     {"reef_fs_write", c_fs_write},   {"reef_fs_append", c_fs_append},
    {"reef_fs_list", c_fs_list},     {"reef_fs_stat", c_fs_stat},     {"reef_fs_mkdir", c_fs_mkdir},
    {"reef_fs_remove", c_fs_remove}, {"reef_fs_rename", c_fs_rename}, {"reef_fs_glob", c_fs_glob},
    {"reef_http_fetch", c_http_fetch}, {"reef_kv_get", c_kv_get},   {"reef_kv_set", c_kv_set},
    {"reef_kv_delete", c_kv_delete}, {"reef_kv_list", c_kv_list},     {"reef_kv_cas", c_kv_cas},
};

static char *input(size_t *n) {
  *n = (size_t)k_input_length();
  char *b = malloc(*n + 1);
  if (!b) return NULL;
  k_input_read(b, (uint32_t)*n);
  b[*n] = 0;
  return b;
}

static void fail(const char *m) { k_error_write(m, (uint32_t)strlen(m)); }

// Output buffer.
typedef struct { char *p; size_t n, cap; } buf;
// reserve makes room for n more bytes (aborts the call when memory is
// exhausted rather than writing through a null pointer).
static void reserve(buf *b, size_t n) {
  if (b->n + n > b->cap) {
    size_t c = b->cap ? b->cap * 2 : 256;
    while (c < b->n + n) c *= 2;
    char *p = realloc(b->p, c);
    if (!p) __builtin_trap();
    b->p = p;
    b->cap = c;
  }
}
static void put(buf *b, const void *s, size_t n) {
  reserve(b, n);
  memcpy(b->p + b->n, s, n);
  b->n += n;
}
static void puts_(buf *b, const char *s) { put(b, s, strlen(s)); }
static void putu(buf *b, unsigned long v) { char t[24]; snprintf(t, sizeof t, "%lu", v); puts_(b, t); }

// next splits s at the first '\n': returns the line, advances *s.
static char *next(char **s) {
  char *l = *s;
  char *nl = strchr(l, '\n');
  if (nl) { *nl = 0; *s = nl + 1; } else { *s = l + strlen(l); }
  return l;
}

// result runs one capability call and returns 'O'+response or 'E'+error
// document in out (reset first).
static int result(capfn fn, const char *req, size_t rl, const char *data, size_t dl, int has_data, buf *out) {
  handle rq = k_store(req, (uint32_t)rl);
  handle d = has_data ? k_store(data, (uint32_t)dl) : 0;
  int64_t r = fn(rq, d);
  k_free(rq);
  if (d) k_free(d);
  out->n = 0;
  handle h = r < 0 ? (handle)(-r) : (handle)r;
  put(out, r < 0 ? "E" : "O", 1);
  if (h) {
    // Load straight into the output buffer: no temporary copy.
    size_t n = (size_t)k_length(h);
    reserve(out, n);
    out->n += k_load(h, out->p + out->n, (uint32_t)n);
    k_free(h);
  }
  return r < 0 ? -1 : 0;
}

// cap: input "<repeat>\n<function>\n<request length>\n<request><data>"
// where data is absent when the line "<request length>" ends in '-'.
// Runs the call up to repeat times, stopping at the first error, and
// outputs "<successes>\n" + the last result ('O' bytes or 'E' document).
EXPORT("cap") int32_t cap(void) {
  size_t n;
  char *in = input(&n), *s = in;
  long repeat = atol(next(&s));
  char *name = next(&s);
  char *lenl = next(&s);
  size_t rl = (size_t)atol(lenl);
  int has_data = lenl[strlen(lenl) - 1] != '-';
  if ((size_t)(s - in) + rl > n) { fail("bad framing"); return 1; }
  char *req = s, *data = s + rl;
  size_t dl = n - (size_t)(data - in);
  capfn fn = 0;
  for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++)
    if (!strcmp(caps[i].name, name)) fn = caps[i].fn;
  if (!fn) { fail("unknown capability function"); return 1; }
  buf last = {0}, out = {0};
  long ok = 0;
  for (long i = 0; i < repeat; i++) {
    if (result(fn, req, rl, data, dl, has_data, &last) != 0) break;
    ok++;
  }
  putu(&out, (unsigned long)ok);
  put(&out, "\n", 1);
  put(&out, last.p, last.n);
  k_output_write(out.p, (uint32_t)out.n);
  free(out.p);
  free(last.p);
  free(in);
  return 0;
}

// loop_cap calls reef_kv_get forever (a runaway loop with a capability
// call inside); only the call timeout stops it.
EXPORT("loop_cap") int32_t loop_cap(void) {
  static const char req[] = "{\"key\":\"spin\"}";
  for (;;) {
    handle rq = k_store(req, sizeof req - 1);
    int64_t r = c_kv_get(rq, 0);
    k_free(rq);
    if (r) k_free((handle)(r < 0 ? -r : r));
  }
}

// read_loop: input "<function>\n<count>\n<path>" with function "fs" or
// "wasi"; reads path count times and outputs every distinct content seen
// (at most 16), separated by "\n--\n", after "<ok>/<count>\n".
EXPORT("read_loop") int32_t read_loop(void) {
  size_t n;
  char *in = input(&n), *s = in;
  char *how = next(&s);
  long count = atol(next(&s));
  char *path = next(&s);
  char *seen[16];
  size_t seen_n[16];
  int nseen = 0;
  long ok = 0;
  char req[4200];
  int rl = snprintf(req, sizeof req, "{\"path\":\"%s\"}", path);
  buf r = {0};
  for (long i = 0; i < count; i++) {
    char *content = NULL;
    size_t cl = 0;
    if (!strcmp(how, "fs")) {
      if (result(c_fs_read, req, (size_t)rl, NULL, 0, 0, &r) != 0) continue;
      content = r.p + 1;
      cl = r.n - 1;
    } else {
      FILE *f = fopen(path, "rb");
      if (!f) continue;
      static char tmp[65536];
      cl = fread(tmp, 1, sizeof tmp, f);
      fclose(f);
      content = tmp;
    }
    ok++;
    int dup = 0;
    for (int k = 0; k < nseen; k++)
      if (seen_n[k] == cl && !memcmp(seen[k], content, cl)) dup = 1;
    if (!dup && nseen < 16) {
      seen[nseen] = malloc(cl ? cl : 1);
      memcpy(seen[nseen], content, cl);
      seen_n[nseen++] = cl;
    }
  }
  buf out = {0};
  putu(&out, (unsigned long)ok);
  put(&out, "/", 1);
  putu(&out, (unsigned long)count);
  put(&out, "\n", 1);
  for (int k = 0; k < nseen; k++) {
    if (k) puts_(&out, "\n--\n");
    put(&out, seen[k], seen_n[k]);
  }
  k_output_write(out.p, (uint32_t)out.n);
  return 0;
}

// wasi: input "<op>\n<a>\n<b>" runs one libc file operation and outputs
// "ok:<content>" or "err:<strerror>". Ops: read a; write a (content b);
// append a (content b); symlink a (target) b (link), then read b; link a b,
// then read b; mkdir a; unlink a; rename a b; readdir a.
EXPORT("wasi") int32_t wasi(void) {
  size_t n;
  char *in = input(&n), *s = in;
  char *op = next(&s), *a = next(&s), *b = s;
  buf out = {0};
  int rc = 0;
  if (!strcmp(op, "symlink")) {
    rc = symlink(a, b);
    a = b;
    op = "read";
  } else if (!strcmp(op, "link")) {
    rc = link(a, b);
    a = b;
    op = "read";
  }
  if (rc != 0) {
    puts_(&out, "err:");
    puts_(&out, strerror(errno));
  } else if (!strcmp(op, "read")) {
    FILE *f = fopen(a, "rb");
    if (!f) {
      puts_(&out, "err:");
      puts_(&out, strerror(errno));
    } else {
      puts_(&out, "ok:");
      char tmp[4096];
      size_t k;
      while ((k = fread(tmp, 1, sizeof tmp, f)) > 0) put(&out, tmp, k);
      fclose(f);
    }
  } else if (!strcmp(op, "write") || !strcmp(op, "append")) {
    FILE *f = fopen(a, op[0] == 'w' ? "wb" : "ab");
    size_t bl = strlen(b);
    if (!f || fwrite(b, 1, bl, f) != bl || fclose(f) != 0) {
      puts_(&out, "err:");
      puts_(&out, strerror(errno));
    } else {
      puts_(&out, "ok:");
    }
  } else if (!strcmp(op, "mkdir") || !strcmp(op, "unlink") || !strcmp(op, "rename")) {
    int r = op[0] == 'm' ? mkdir(a, 0755) : op[0] == 'u' ? unlink(a) : rename(a, b);
    puts_(&out, r ? "err:" : "ok:");
    if (r) puts_(&out, strerror(errno));
  } else if (!strcmp(op, "readdir")) {
    int fd = open(a, O_RDONLY | O_DIRECTORY);
    if (fd < 0) {
      puts_(&out, "err:");
      puts_(&out, strerror(errno));
    } else {
      puts_(&out, "ok:");
      close(fd);
    }
  } else {
    fail("unknown op");
    return 1;
  }
  k_output_write(out.p, (uint32_t)out.n);
  return 0;
}

// bomb expands a few input bytes into "<MiB>" MiB of output (zip-bomb-like).
EXPORT("bomb") int32_t bomb(void) {
  size_t n;
  char *in = input(&n);
  size_t size = (size_t)atol(in) << 20;
  char *p = malloc(size);
  if (!p) { fail("malloc refused"); return 1; }
  memset(p, 'A', size);
  k_output_write(p, (uint32_t)size);
  return 0;
}

// extism_http: input is Extism's http_request JSON; outputs
// "<status>\n<body>".
EXPORT("extism_http") int32_t extism_http(void) {
  size_t n;
  char *in = input(&n);
  handle rq = k_store(in, (uint32_t)n);
  handle r = k_http_request(rq, 0);
  buf out = {0};
  putu(&out, (unsigned long)k_http_status_code());
  put(&out, "\n", 1);
  if (r) {
    size_t l = (size_t)k_length(r);
    char *tmp = malloc(l ? l : 1);
    k_load(r, tmp, (uint32_t)l);
    put(&out, tmp, l);
  }
  k_output_write(out.p, (uint32_t)out.n);
  return 0;
}

// bench_fetch: input is one reef_http_fetch request; it is sent once and
// the response (head and body, as the host returned it) is the output. It
// does what a skill that fetches must do and nothing else (no harness
// parsing, no per-call allocation), so the benchmark measures the fetch.
EXPORT("bench_fetch") int32_t bench_fetch(void) {
  static char req[8192];
  static char *dst;
  static size_t cap;
  uint32_t n = (uint32_t)k_input_length();
  if (n > sizeof req) { fail("request longer than 8 KiB"); return 1; }
  k_input_read(req, n);
  handle rq = k_store(req, n);
  int64_t r = c_http_fetch(rq, 0);
  k_free(rq);
  handle h = r < 0 ? (handle)(-r) : (handle)r;
  size_t l = h ? (size_t)k_length(h) : 0;
  if (l > cap) { free(dst); dst = malloc(l); cap = l; }
  if (h) { k_load(h, dst, (uint32_t)l); k_free(h); }
  if (r < 0) { k_error_write(dst, (uint32_t)l); return 1; }
  k_output_write(dst, (uint32_t)l);
  return 0;
}

// bench_read: input "fs|wasi\n<path>"; reads the whole file once through
// reef_fs_read or WASI (fopen/fread) and outputs the byte count.
EXPORT("bench_read") int32_t bench_read(void) {
  size_t n;
  char *in = input(&n), *s = in;
  char *how = next(&s);
  char *path = next(&s);
  size_t total = 0;
  if (!strcmp(how, "fs")) {
    char req[4200];
    int rl = snprintf(req, sizeof req, "{\"path\":\"%s\"}", path);
    handle rq = k_store(req, (uint32_t)rl);
    int64_t r = c_fs_read(rq, 0);
    k_free(rq);
    if (r <= 0) { fail("read failed"); return 1; }
    total = (size_t)k_length((handle)r);
    static char *dst;
    static size_t cap;
    if (total > cap) { free(dst); dst = malloc(total); cap = total; }
    k_load((handle)r, dst, (uint32_t)total);
    k_free((handle)r);
  } else {
    FILE *f = fopen(path, "rb");
    if (!f) { fail("fopen failed"); return 1; }
    static char *dst;
    static size_t cap;
    if (!cap) { cap = 2 << 20; dst = malloc(cap); }
    size_t k;
    while ((k = fread(dst, 1, cap, f)) > 0) total += k;
    fclose(f);
  }
  free(in);
  char out[24];
  int ol = snprintf(out, sizeof out, "%zu", total);
  k_output_write(out, (uint32_t)ol);
  return 0;
}
