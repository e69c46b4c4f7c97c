// web-screenshot: a PNG of a web page, taken by the host's headless
// browser (reef_browser_screenshot). The output is the raw PNG bytes.
#include "reef.h"

// fail sets the call's error to "<what>: <message>" and returns 1.
static int fail(const char *what, const char *msg) {
  reef_buf b = {0};
  reef_buf_raw(&b, what, strlen(what));
  reef_buf_raw(&b, ": ", 2);
  reef_buf_raw(&b, msg, strlen(msg));
  reef_buf_raw(&b, "", 1);
  reef_error(b.oom ? what : b.p);
  reef_buf_free(&b);
  return 1;
}

// dimension reads an optional integer member within [lo, hi]; 0 if absent.
static int dimension(reef_json in, const char *key, int lo, int hi, int *out) {
  reef_json v;
  *out = 0;
  if (!reef_json_get(in, key, &v)) return 0;
  double d = reef_json_number(v, -1);
  if (reef_json_type(v) != REEF_JSON_NUMBER || d != (double)(int)d || d < lo || d > hi) return -1;
  *out = (int)d;
  return 0;
}

REEF_EXPORT("capture") int32_t capture(void) {
  reef_json in;
  char *buf;
  int rc = reef_input_json(&in, &buf);
  if (rc) return rc;
  if (reef_json_type(in) != REEF_JSON_OBJECT) { free(buf); return fail("input", "want a JSON object"); }

  reef_screenshot_opts o = {0};
  char *url = reef_json_get_string(in, "url", NULL);
  char *selector = reef_json_get_string(in, "selector", NULL);
  reef_json v;
  int bad = 0;
  const char *why = NULL;
  if (!url || !*url) { bad = 1; why = "\"url\" (a string) is required"; }
  else if (reef_json_get(in, "full_page", &v) && reef_json_type(v) != REEF_JSON_TRUE && reef_json_type(v) != REEF_JSON_FALSE) { bad = 1; why = "\"full_page\" must be true or false"; }
  else if (dimension(in, "width", 100, 4096, &o.width)) { bad = 1; why = "\"width\" must be an integer from 100 to 4096"; }
  else if (dimension(in, "height", 100, 4096, &o.height)) { bad = 1; why = "\"height\" must be an integer from 100 to 4096"; }
  o.full_page = reef_json_get_bool(in, "full_page", 0);
  if (!bad && o.full_page && selector) { bad = 1; why = "\"full_page\" and \"selector\" cannot be combined"; }
  if (bad) {
    free(url); free(selector); free(buf);
    return fail("input", why);
  }
  o.url = url;
  o.selector = selector;

  char *png = NULL;
  size_t n = 0;
  reef_err err = {0};
  rc = reef_browser_screenshot(&o, &png, &n, &err);
  if (rc != REEF_OK) {
    fail("screenshot", err.message ? err.message : "browser error");
    reef_err_free(&err);
    free(url); free(selector); free(buf);
    return 1;
  }
  reef_output(png, n);
  free(png);
  free(url); free(selector); free(buf);
  return 0;
}
