// hello-c: greet someone by name.
#include "reef.h"

// find_name extracts the string value of "name" from a JSON object. The
// input was validated against the function's schema by the host, so a
// small scanner is enough; escapes are copied through unchanged.
static int find_name(const char *in, const char **start, size_t *len) {
  const char *p = strstr(in, "\"name\"");
  if (!p) return -1;
  p += 6;
  while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
  if (*p++ != ':') return -1;
  while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
  if (*p++ != '"') return -1;
  const char *s = p;
  while (*p && *p != '"') { if (*p == '\\' && p[1]) p++; p++; }
  if (*p != '"') return -1;
  *start = s;
  *len = (size_t)(p - s);
  return 0;
}

REEF_EXPORT("greet") int32_t greet(void) {
  size_t n;
  char *in = reef_input(&n);
  const char *name;
  size_t nl;
  if (!in || find_name(in, &name, &nl) != 0 || nl == 0) {
    reef_error("input must be a JSON object with a non-empty \"name\" string");
    free(in);
    return 1;
  }
  char *word = reef_config("greeting");
  const char *w = word ? word : "Hello";
  size_t wl = strlen(w);
  size_t cap = wl + nl + 32;
  char *out = malloc(cap);
  size_t o = 0;
  memcpy(out + o, "{\"greeting\":\"", 13); o += 13;
  for (size_t i = 0; i < wl; i++) { if (w[i] == '"' || w[i] == '\\') { out = realloc(out, ++cap); out[o++] = '\\'; } out[o++] = w[i]; }
  memcpy(out + o, ", ", 2); o += 2;
  memcpy(out + o, name, nl); o += nl;
  memcpy(out + o, "!\"}", 3); o += 3;
  reef_output(out, o);
  free(out);
  free(word);
  free(in);
  return 0;
}
