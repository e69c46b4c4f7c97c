// file-search: find lines containing a substring or matching a regular
// expression in the files under a granted directory (default /data).
//
// search {"query":"TODO","regex":false,"ignore_case":false,"path":"/data",
//         "max_results":100}
//   -> {"matches":[{"path":"/data/a.txt","line":3,"text":"…"}],
//       "files":N,"truncated":false}
//
// Regular expressions are POSIX extended ones, matched by ere.h (the
// same syntax and answers as wasi-libc's regcomp, a tenth of its size).
// Files are listed with reef_fs_glob and read with reef_fs_read; files
// larger than 8 MiB and files containing NUL bytes (binary) are skipped.
#include <ctype.h>

#include "ere.h"
#include "reef.h"

#define MAX_FILE (8 << 20)
#define MAX_LINE_TEXT 500

typedef struct {
  const char *query;
  size_t qlen;
  int use_regex, icase;
  ere_t re;
} matcher;

static int ci_contains(const char *s, size_t n, const char *q, size_t ql) {
  if (ql == 0) return 1;
  for (size_t i = 0; i + ql <= n; i++) {
    size_t k = 0;
    while (k < ql && tolower((unsigned char)s[i + k]) == tolower((unsigned char)q[k])) k++;
    if (k == ql) return 1;
  }
  return 0;
}

static int line_matches(matcher *m, char *line, size_t n) {
  if (m->use_regex) return ere_match(&m->re, line, n);
  if (m->icase) return ci_contains(line, n, m->query, m->qlen);
  if (m->qlen > n) return 0;
  for (size_t i = 0; i + m->qlen <= n; i++)
    if (!memcmp(line + i, m->query, m->qlen)) return 1;
  return 0;
}

REEF_EXPORT("search") int32_t search(void) {
  reef_json in;
  char *inbuf;
  int rc = reef_input_json(&in, &inbuf);
  if (rc) return rc;
  matcher m = {0};
  size_t ql = 0;
  char *query = reef_json_get_string(in, "query", &ql);
  if (!query || ql == 0 || strlen(query) != ql) { reef_error("input needs \"query\": a non-empty string without NUL"); return 1; }
  m.query = query;
  m.qlen = ql;
  m.use_regex = reef_json_get_bool(in, "regex", 0);
  m.icase = reef_json_get_bool(in, "ignore_case", 0);
  int64_t max = reef_json_get_int(in, "max_results", 100);
  if (max < 1 || max > 10000) { reef_error("\"max_results\" must be between 1 and 10000"); return 1; }
  char *root = reef_json_get_string(in, "path", NULL);
  if (!root) root = strdup("/data");
  if (root[0] != '/') { reef_error("\"path\" must be an absolute guest path such as /data"); return 1; }
  if (m.use_regex) {
    int err = ere_comp(&m.re, query, m.icase);
    if (err) {
      char msg[200] = "invalid regular expression: ";
      strcat(msg, ere_errstr(err));
      reef_error(msg);
      return 1;
    }
  }

  // List every file under root.
  size_t rl = strlen(root);
  while (rl > 1 && root[rl - 1] == '/') root[--rl] = 0;
  char *pattern = malloc(rl + 8);
  strcpy(pattern, root);
  strcat(pattern, rl == 1 ? "**/*" : "/**/*");
  reef_err e = {0};
  char *list = NULL;
  size_t ll = 0;
  if (reef_fs_glob(pattern, &list, &ll, &e)) { reef_error(e.message); return 1; }
  reef_json paths;
  if (reef_json_parse(list, ll, &paths, NULL, 0) != 0) { reef_error("unreadable glob response"); return 1; }

  reef_buf out = {0};
  reef_jw_begin(&out, '{');
  reef_jw_key(&out, "matches");
  reef_jw_begin(&out, '[');
  int64_t found = 0;
  int truncated = 0;
  int64_t files = 0;
  size_t np = reef_json_len(paths);
  for (size_t i = 0; i < np && !truncated; i++) {
    reef_json pj;
    if (!reef_json_at(paths, i, &pj)) break;
    char *path = reef_json_string(pj, NULL);
    if (!path) continue;
    char *st = NULL;
    size_t sl = 0;
    if (reef_fs_stat(path, &st, &sl, &e)) { reef_err_free(&e); free(path); continue; }
    reef_json sj;
    int regular = 0;
    int64_t size = 0;
    if (reef_json_parse(st, sl, &sj, NULL, 0) == 0) {
      char *type = reef_json_get_string(sj, "type", NULL);
      regular = type && !strcmp(type, "file");
      size = reef_json_get_int(sj, "size", 0);
      free(type);
    }
    free(st);
    if (!regular || size > MAX_FILE) { free(path); continue; }
    char *data = NULL;
    size_t dl = 0;
    if (reef_fs_read(path, &data, &dl, &e)) { reef_err_free(&e); free(path); continue; }
    if (memchr(data, 0, dl)) { free(data); free(path); continue; } // binary
    files++;
    size_t start = 0;
    int64_t lineno = 1;
    for (size_t k = 0; k <= dl; k++) {
      if (k < dl && data[k] != '\n') continue;
      size_t n = k - start;
      if (n && data[start + n - 1] == '\r') n--;
      if (line_matches(&m, data + start, n)) {
        if (found == max) { truncated = 1; break; }
        reef_jw_begin(&out, '{');
        reef_jw_kstr(&out, "path", path);
        reef_jw_key(&out, "line");
        reef_jw_int(&out, lineno);
        reef_jw_key(&out, "text");
        reef_jw_strn(&out, data + start, n > MAX_LINE_TEXT ? MAX_LINE_TEXT : n);
        reef_jw_end(&out, '}');
        found++;
      }
      start = k + 1;
      lineno++;
    }
    free(data);
    free(path);
  }
  reef_jw_end(&out, ']');
  reef_jw_key(&out, "files");
  reef_jw_int(&out, files);
  reef_jw_key(&out, "truncated");
  reef_jw_bool(&out, truncated);
  reef_jw_end(&out, '}');
  if (out.oom) { reef_error("out of memory building the result"); return 1; }
  reef_output_json(&out);
  if (m.use_regex) ere_free(&m.re);
  return 0;
}
