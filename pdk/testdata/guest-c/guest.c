// PDK test guest in C (see ../README.md).
#include <stdio.h>
#include "reef.h"

static int fail_err(reef_err *e) {
  reef_error(e->message ? e->message : "error");
  reef_err_free(e);
  return 1;
}

REEF_EXPORT("greet") int32_t greet(void) {
  reef_json in;
  char *buf;
  int rc = reef_input_json(&in, &buf);
  if (rc) return rc;
  char *name = reef_json_get_string(in, "name", NULL);
  if (!name) { free(buf); reef_error("missing \"name\""); return 1; }
  char *word = reef_config("greeting");
  reef_buf g = {0}, out = {0};
  const char *w = word ? word : "Hello";
  reef_buf_raw(&g, w, strlen(w));
  reef_buf_raw(&g, ", ", 2);
  reef_buf_raw(&g, name, strlen(name));
  reef_buf_raw(&g, "!", 1);
  reef_jw_begin(&out, '{');
  reef_jw_key(&out, "greeting");
  reef_jw_strn(&out, g.p, g.len);
  reef_jw_end(&out, '}');
  reef_output_json(&out);
  reef_buf_free(&g);
  free(word); free(name); free(buf);
  return 0;
}

REEF_EXPORT("count") int32_t count(void) {
  size_t n = 0;
  char *v = reef_var_get("n", &n);
  long c = v ? strtol(v, NULL, 10) : 0;
  free(v);
  char s[32];
  int l = snprintf(s, sizeof s, "%ld", c + 1);
  reef_var_set("n", s, (size_t)l);
  reef_output(s, (size_t)l);
  return 0;
}

REEF_EXPORT("kv") int32_t kv(void) {
  size_t n;
  char *in = reef_input(&n);
  char *eq = strchr(in, '=');
  if (!eq) { free(in); reef_error("want key=value"); return 1; }
  *eq = 0;
  reef_err e;
  if (reef_kv_set(in, eq + 1, strlen(eq + 1), &e)) { free(in); return fail_err(&e); }
  char *v; size_t vl;
  if (reef_kv_get(in, &v, &vl, &e)) { free(in); return fail_err(&e); }
  reef_output(v, vl);
  free(v); free(in);
  return 0;
}

REEF_EXPORT("fsread") int32_t fsread(void) {
  size_t n;
  char *path = reef_input(&n);
  reef_err e;
  char *data; size_t dl;
  if (reef_fs_read(path, &data, &dl, &e)) { free(path); return fail_err(&e); }
  reef_output(data, dl);
  free(data); free(path);
  return 0;
}

REEF_EXPORT("fswrite") int32_t fswrite(void) {
  size_t n;
  char *in = reef_input(&n);
  char *eq = strchr(in, '=');
  if (!eq) { free(in); reef_error("want path=content"); return 1; }
  *eq = 0;
  reef_err e;
  if (reef_fs_write(in, eq + 1, strlen(eq + 1), 1, &e)) { free(in); return fail_err(&e); }
  char *st; size_t sl;
  if (reef_fs_stat(in, &st, &sl, &e)) { free(in); return fail_err(&e); }
  reef_json j;
  if (reef_json_parse(st, sl, &j, NULL, 0)) { free(in); free(st); reef_error("bad stat"); return 1; }
  char s[32];
  int l = snprintf(s, sizeof s, "%lld", (long long)reef_json_get_int(j, "size", -1));
  reef_output(s, (size_t)l);
  free(st); free(in);
  return 0;
}

REEF_EXPORT("logs") int32_t logs(void) {
  reef_log_info("hello from the C guest");
  reef_output_str("logged");
  return 0;
}
