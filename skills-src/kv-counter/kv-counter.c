// kv-counter: named counters in the skill's key-value namespace.
//
// increment {"name":"visits","by":1} -> {"name":"visits","value":N}
// get       {"name":"visits"}        -> {"name":"visits","value":N} (0 if unset)
// reset     {"name":"visits"}        -> {"name":"visits","value":0}
//
// Counters are stored as decimal text under "counter/<name>". increment is
// a compare-and-swap loop, so concurrent calls never lose an update.
#include <errno.h>
#include <stdio.h>

#include "reef.h"

#define MAX_NAME 200
#define MAX_RETRIES 64

typedef struct {
  char *name;
  char key[MAX_NAME + 16];
  int64_t by;
  char *buf;
} args;

// parse reads and checks the input; returns 0 or sets the error and
// returns 1.
static int parse(args *a, int want_by) {
  reef_json in;
  int rc = reef_input_json(&in, &a->buf);
  if (rc) return rc;
  size_t n = 0;
  a->name = reef_json_get_string(in, "name", &n);
  if (!a->name || n == 0 || n > MAX_NAME || strlen(a->name) != n) {
    reef_error("input needs \"name\": a string of 1 to 200 characters without NUL");
    return 1;
  }
  a->by = 1;
  reef_json v;
  if (want_by && reef_json_get(in, "by", &v)) {
    if (reef_json_type(v) != REEF_JSON_NUMBER) { reef_error("\"by\" must be an integer"); return 1; }
    double d = reef_json_number(v, 0);
    if (d != (double)(int64_t)d || d < -1e15 || d > 1e15) { reef_error("\"by\" must be an integer between -1e15 and 1e15"); return 1; }
    a->by = (int64_t)d;
  }
  snprintf(a->key, sizeof a->key, "counter/%s", a->name);
  return 0;
}

// answer writes {"name":…,"value":v}.
static int answer(args *a, int64_t v) {
  reef_buf b = {0};
  reef_jw_begin(&b, '{');
  reef_jw_kstr(&b, "name", a->name);
  reef_jw_key(&b, "value");
  reef_jw_int(&b, v);
  reef_jw_end(&b, '}');
  reef_output_json(&b);
  free(a->name);
  free(a->buf);
  return 0;
}

static int fail(reef_err *e) {
  reef_error(e->message ? e->message : "kv error");
  reef_err_free(e);
  return 1;
}

// load reads the counter: 0 and *present = 0 when unset.
static int load(const char *key, int64_t *v, char **raw, size_t *rl, int *present, reef_err *e) {
  int rc = reef_kv_get(key, raw, rl, e);
  if (rc == REEF_ENOTFOUND) { reef_err_free(e); *v = 0; *present = 0; *raw = NULL; *rl = 0; return 0; }
  if (rc) return rc;
  *present = 1;
  char *end;
  errno = 0;
  long long x = strtoll(*raw, &end, 10);
  if (errno || end == *raw || *end) { *v = 0; return 0; } // a corrupt value counts as 0
  *v = x;
  return 0;
}

REEF_EXPORT("increment") int32_t increment(void) {
  args a = {0};
  if (parse(&a, 1)) return 1;
  reef_err e = {0};
  for (int i = 0; i < MAX_RETRIES; i++) {
    int64_t v; char *raw; size_t rl; int present;
    if (load(a.key, &v, &raw, &rl, &present, &e)) return fail(&e);
    if ((a.by > 0 && v > INT64_MAX - a.by) || (a.by < 0 && v < INT64_MIN - a.by)) {
      free(raw);
      reef_error("counter would overflow");
      return 1;
    }
    char next[24];
    int nl = snprintf(next, sizeof next, "%lld", (long long)(v + a.by));
    int swapped = 0;
    int rc = reef_kv_cas(a.key, present, raw, rl, next, (size_t)nl, 0, &swapped, &e);
    free(raw);
    if (rc) return fail(&e);
    if (swapped) return answer(&a, v + a.by);
  }
  reef_error("counter is too contended: gave up after 64 attempts");
  return 1;
}

REEF_EXPORT("get") int32_t get(void) {
  args a = {0};
  if (parse(&a, 0)) return 1;
  reef_err e = {0};
  int64_t v; char *raw; size_t rl; int present;
  if (load(a.key, &v, &raw, &rl, &present, &e)) return fail(&e);
  free(raw);
  return answer(&a, v);
}

REEF_EXPORT("reset") int32_t reset(void) {
  args a = {0};
  if (parse(&a, 0)) return 1;
  reef_err e = {0};
  int deleted = 0;
  if (reef_kv_delete(a.key, &deleted, &e)) return fail(&e);
  return answer(&a, 0);
}
