// csv-to-json: parse RFC 4180 CSV into JSON records.
#include <stdio.h>
#include "reef.h"

#define MAX_COLUMNS 4096

typedef struct { char *p; size_t len, cap; } str;

static int str_push(str *s, char c) {
  if (s->len + 1 >= s->cap) {
    size_t nc = s->cap ? s->cap * 2 : 64;
    char *np = realloc(s->p, nc);
    if (!np) return -1;
    s->p = np; s->cap = nc;
  }
  s->p[s->len++] = c;
  return 0;
}

typedef struct { str *f; size_t n, cap; } record;

typedef struct {
  const char *p, *end;
  char delim;
  size_t line; /* 1-based line of the current position */
} reader;

static void rec_clear(record *r) { for (size_t i = 0; i < r->n; i++) r->f[i].len = 0; r->n = 0; }

static str *rec_next(record *r) {
  if (r->n == r->cap) {
    size_t nc = r->cap ? r->cap * 2 : 16;
    str *nf = realloc(r->f, nc * sizeof *nf);
    if (!nf) return NULL;
    memset(nf + r->cap, 0, (nc - r->cap) * sizeof *nf);
    r->f = nf; r->cap = nc;
  }
  str *s = &r->f[r->n++];
  s->len = 0;
  return s;
}

/* read_record reads one record; returns 1 if read, 0 at the end, -1 on an
 * error (msg filled). */
static int read_record(reader *rd, record *r, char *msg, size_t ml) {
  rec_clear(r);
  if (rd->p >= rd->end) return 0;
  size_t start_line = rd->line;
  for (;;) {
    if (r->n >= MAX_COLUMNS) { snprintf(msg, ml, "line %zu has more than %d fields", start_line, MAX_COLUMNS); return -1; }
    str *f = rec_next(r);
    if (!f) { snprintf(msg, ml, "out of memory"); return -1; }
    if (rd->p < rd->end && *rd->p == '"') {
      rd->p++;
      for (;;) {
        if (rd->p >= rd->end) { snprintf(msg, ml, "line %zu: unterminated quoted field", start_line); return -1; }
        char c = *rd->p++;
        if (c == '"') {
          if (rd->p < rd->end && *rd->p == '"') { rd->p++; if (str_push(f, '"')) goto oom; continue; }
          break;
        }
        if (c == '\n') rd->line++;
        if (str_push(f, c)) goto oom;
      }
      if (rd->p < rd->end && *rd->p != rd->delim && *rd->p != '\n' && *rd->p != '\r') {
        snprintf(msg, ml, "line %zu: unexpected character after a closing quote (write \"\" for a quote inside a quoted field)", rd->line);
        return -1;
      }
    } else {
      while (rd->p < rd->end && *rd->p != rd->delim && *rd->p != '\n' && !(*rd->p == '\r' && (rd->p + 1 == rd->end || rd->p[1] == '\n'))) {
        if (*rd->p == '"') { snprintf(msg, ml, "line %zu: a quote inside an unquoted field (quote the whole field)", rd->line); return -1; }
        if (str_push(f, *rd->p++)) goto oom;
      }
    }
    if (rd->p < rd->end && *rd->p == rd->delim) { rd->p++; continue; }
    if (rd->p < rd->end && *rd->p == '\r') rd->p++;
    if (rd->p < rd->end && *rd->p == '\n') { rd->p++; rd->line++; }
    return 1;
  }
oom:
  snprintf(msg, ml, "out of memory");
  return -1;
}

/* is_number reports whether s is a JSON number (so it can be copied as is). */
static int is_number(const char *s, size_t n) {
  reef_json v;
  if (n == 0 || n > 64 || s[0] == ' ' || s[n-1] == ' ') return 0;
  return reef_json_parse(s, n, &v, NULL, 0) == 0 && reef_json_type(v) == REEF_JSON_NUMBER;
}

static void put_value(reef_buf *b, const str *f, int infer) {
  if (infer) {
    if (f->len == 0) { reef_jw_null(b); return; }
    if (f->len == 4 && !memcmp(f->p, "true", 4)) { reef_jw_bool(b, 1); return; }
    if (f->len == 5 && !memcmp(f->p, "false", 5)) { reef_jw_bool(b, 0); return; }
    if (is_number(f->p, f->len)) { reef_jw_json(b, f->p, f->len); return; }
  }
  reef_jw_strn(b, f->len ? f->p : "", f->len);
}

static int blank(const record *r) { return r->n == 1 && r->f[0].len == 0; }

static int fail(const char *m) { reef_error(m); return 1; }

REEF_EXPORT("parse") int32_t parse(void) {
  size_t n;
  char *in = reef_input(&n);
  if (!in) return fail("out of memory");
  reef_json root;
  char msg[200];
  if (reef_json_parse(in, n, &root, msg, sizeof msg) != 0) { free(in); return fail(msg); }
  size_t cl;
  char *csv = reef_json_get_string(root, "csv", &cl);
  if (!csv) { free(in); return fail("\"csv\" is required: the CSV text"); }
  char *d = reef_json_get_string(root, "delimiter", NULL);
  char delim = ',';
  if (d) {
    if (!strcmp(d, "\\t") || !strcmp(d, "tab")) delim = '\t';
    else if (strlen(d) == 1 && d[0] != '"' && d[0] != '\n' && d[0] != '\r') delim = d[0];
    else { free(d); free(csv); free(in); return fail("\"delimiter\" must be one character (not a quote or newline), or \"tab\""); }
    free(d);
  }
  int header = reef_json_get_bool(root, "header", 1);
  int infer = reef_json_get_bool(root, "infer_types", 1);
  int64_t limit = reef_json_get_int(root, "limit", 0);

  reader rd = {csv, csv + cl, delim, 1};
  /* A UTF-8 byte order mark is not part of the first column name. */
  if (cl >= 3 && !memcmp(csv, "\xEF\xBB\xBF", 3)) rd.p += 3;
  record r = {0}, cols = {0};
  reef_buf out = {0};
  int rc = 0;
  size_t ncols = 0, rows = 0, total = 0;

  reef_jw_begin(&out, '{');
  if (header) {
    int got;
    while ((got = read_record(&rd, &cols, msg, sizeof msg)) == 1 && blank(&cols)) {}
    if (got < 0) { rc = fail(msg); goto done; }
    if (got == 0) cols.n = 0;
    ncols = cols.n;
    reef_jw_key(&out, "columns");
    reef_jw_begin(&out, '[');
    for (size_t i = 0; i < ncols; i++) {
      str *c = &cols.f[i];
      /* Empty or repeated names become column_N. */
      int dup = c->len == 0;
      for (size_t j = 0; j < i && !dup; j++) dup = cols.f[j].len == c->len && !memcmp(cols.f[j].p, c->p, c->len);
      if (dup) {
        char tmp[32]; int l = snprintf(tmp, sizeof tmp, "column_%zu", i + 1);
        c->len = 0;
        for (int k = 0; k < l; k++) str_push(c, tmp[k]);
      }
      reef_jw_strn(&out, c->len ? c->p : "", c->len);
    }
    reef_jw_end(&out, ']');
  }
  reef_jw_key(&out, "rows");
  reef_jw_begin(&out, '[');
  for (;;) {
    size_t line = rd.line;
    int got = read_record(&rd, &r, msg, sizeof msg);
    if (got < 0) { rc = fail(msg); goto done; }
    if (got == 0) break;
    if (blank(&r)) continue;
    total++;
    if (limit > 0 && (int64_t)rows >= limit) continue;
    if (header) {
      if (r.n > ncols) {
        snprintf(msg, sizeof msg, "line %zu has %zu fields, the header has %zu", line, r.n, ncols);
        rc = fail(msg);
        goto done;
      }
      reef_jw_begin(&out, '{');
      for (size_t i = 0; i < ncols; i++) {
        reef_jw_key(&out, cols.f[i].p ? (cols.f[i].p[cols.f[i].len] = 0, cols.f[i].p) : "");
        if (i < r.n) put_value(&out, &r.f[i], infer);
        else reef_jw_null(&out);
      }
      reef_jw_end(&out, '}');
    } else {
      reef_jw_begin(&out, '[');
      for (size_t i = 0; i < r.n; i++) put_value(&out, &r.f[i], infer);
      reef_jw_end(&out, ']');
    }
    rows++;
  }
  reef_jw_end(&out, ']');
  reef_jw_key(&out, "count"); reef_jw_int(&out, (int64_t)rows);
  if (rows < total) { reef_jw_key(&out, "total"); reef_jw_int(&out, (int64_t)total); }
  reef_jw_end(&out, '}');
  if (out.oom) { rc = fail("out of memory"); goto done; }
  reef_output(out.p, out.len);
done:
  for (size_t i = 0; i < r.cap; i++) free(r.f[i].p);
  for (size_t i = 0; i < cols.cap; i++) free(cols.f[i].p);
  free(r.f); free(cols.f);
  reef_buf_free(&out);
  free(csv);
  free(in);
  return rc;
}
